"""Numba kernels of the filters: a stereo TPT state-variable filter and a TB-303-style ladder.

Like `chronus.dsp.kernels`, every kernel works in place on arrays owned by the module and
computes sample by sample (parameter smoothing included), so the output does not depend on
where blocks start. Filter memories below `TINY` are flushed to zero per sample: denormals
would make a filter that rings out into silence many times slower.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronus.dsp.kernels import approach, jit, svf_coefs, svf_tick

__all__ = [
    "ACID_ENV_OCTAVES",
    "MODE_BANDPASS",
    "MODE_HIGHPASS",
    "MODE_LOWPASS",
    "acid_block",
    "fast_tanh",
    "res_to_k",
    "svf_block",
]

FloatArray = npt.NDArray[np.float64]

MODE_LOWPASS = 0
MODE_HIGHPASS = 1
MODE_BANDPASS = 2

ACID_ENV_OCTAVES = 5.0
"""How far (in octaves) the acid envelope lifts the cutoff at `env_amount` 1 and full level."""
TINY = 1e-30
SQRT2 = math.sqrt(2.0)


@jit
def res_to_k(res: float) -> float:
    """SVF damping (1/Q) for a resonance in [0, 1]: Butterworth (Q = 0.707) at 0, Q ≈ 70 at 1."""
    return SQRT2 * (1.0 - 0.99 * res)


@jit
def _smooth(cur: FloatArray, tgt: FloatArray, coef: FloatArray, count: int) -> None:
    for p in range(count):
        cur[p] = approach(cur[p], tgt[p], coef[p])


@jit
def svf_block(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    mode: int,
    ic: FloatArray,
    cur: FloatArray,
    tgt: FloatArray,
    coef: FloatArray,
    sample_rate: float,
) -> None:
    """Filter stereo `inp[:n]` into `out[:n]` with a TPT SVF (memories `ic[0:2]`, `ic[2:4]`).

    `cur` holds log2(cutoff) and res, moving towards `tgt` by `coef` per sample; the
    coefficients are recomputed only while they move. The band-pass output is scaled by
    the damping so its peak gain is 1 whatever the resonance.
    """
    top = 0.45 * sample_rate
    fc_log = -1.0
    res = -1.0
    k = SQRT2
    a1 = a2 = a3 = 0.0
    for i in range(n):
        _smooth(cur, tgt, coef, 2)
        if cur[0] != fc_log or cur[1] != res:
            fc_log = cur[0]
            res = cur[1]
            k = res_to_k(res)
            a1, a2, a3 = svf_coefs(min(2.0**fc_log, top), k, sample_rate)
        for c in range(2):
            low, band, high = svf_tick(inp[i, c], ic, 2 * c, a1, a2, a3, k)
            if abs(ic[2 * c]) < TINY:
                ic[2 * c] = 0.0
            if abs(ic[2 * c + 1]) < TINY:
                ic[2 * c + 1] = 0.0
            if mode == MODE_LOWPASS:
                out[i, c] = low
            elif mode == MODE_HIGHPASS:
                out[i, c] = high
            else:
                out[i, c] = k * band


@jit
def fast_tanh(x: float) -> float:
    """A cheap, monotonic tanh: a Padé approximant, exactly ±1 beyond ±3."""
    if x > 3.0:
        return 1.0
    if x < -3.0:
        return -1.0
    x2 = x * x
    return float(x * (27.0 + x2) / (27.0 + 9.0 * x2))


@jit
def _stage(x: float, st: FloatArray, j: int, big_g: float) -> float:
    """One TPT one-pole low-pass stage (memory `st[j]`) fed through the saturation."""
    s = float(st[j])
    v = (fast_tanh(x) - s) * big_g
    y = v + s
    s = y + v
    st[j] = 0.0 if abs(s) < TINY else s
    return y


@jit
def acid_block(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    st: FloatArray,
    cur: FloatArray,
    tgt: FloatArray,
    coef: FloatArray,
    env: FloatArray,
    decay_coef: float,
    sample_rate: float,
) -> None:
    """Filter stereo `inp[:n]` into `out[:n]` through a 4-pole resonant ladder.

    Four TPT one-pole stages per channel (memories `st[4c:4c+4]`), each fed through a
    saturation; the feedback is solved without a unit delay from the linear part
    (zero-delay feedback), then saturated, so the loop stays bounded for any setting.
    `cur`/`tgt`/`coef` smooth log2(cutoff), res, env_amount and drive. `env[0]` is the
    envelope, lifting the cutoff by up to `ACID_ENV_OCTAVES` and falling by `decay_coef`
    per sample; a note sets it to 1 (more when accented).
    """
    top = 0.35 * sample_rate
    w = math.pi / sample_rate
    for i in range(n):
        _smooth(cur, tgt, coef, 4)
        e = env[0]
        fc = 2.0 ** (cur[0] + ACID_ENV_OCTAVES * cur[2] * e)
        if fc > top:
            fc = top
        e *= decay_coef
        env[0] = 0.0 if e < 1e-7 else e
        g = math.tan(w * fc)
        h = 1.0 / (1.0 + g)
        big_g = g * h
        g2 = big_g * big_g
        k = 4.0 * cur[1]
        pre = 1.0 + 7.0 * cur[3] * cur[3]
        gain = (1.0 + 0.5 * k) / (1.0 + 0.25 * (pre - 1.0))
        norm = 1.0 / (1.0 + k * g2 * g2)
        for c in range(2):
            b = 4 * c
            s_lin = (g2 * big_g * st[b] + g2 * st[b + 1] + big_g * st[b + 2] + st[b + 3]) * h
            u = (pre * inp[i, c] - k * s_lin) * norm
            y = _stage(u, st, b, big_g)
            y = _stage(y, st, b + 1, big_g)
            y = _stage(y, st, b + 2, big_g)
            y = _stage(y, st, b + 3, big_g)
            out[i, c] = y * gain
