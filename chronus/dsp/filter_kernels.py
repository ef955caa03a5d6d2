"""Numba kernels of the filters: a TPT state-variable filter and a TB-303-style ladder.

Like `chronus.dsp.kernels`, every kernel works in place on arrays owned by the module and
computes sample by sample (parameter smoothing included), so the output does not depend on
where blocks start. Filter memories below `TINY` are flushed to zero per sample: denormals
would make a filter that rings out into silence many times slower.

All of a filter's numbers (memories, smoothers, settings) live in one float64 array `p`,
laid out by the `SVF_*` and `ACID_*` offsets: numba's dispatch costs ~60 ns per array
argument. Each filter has a stereo kernel (`*_block`, (frames, 2) arrays) and a mono one
(`*_mono`, (frames,) arrays) for a dual-mono input. Both run the same per-channel code, so
on a dual-mono input the mono kernel's output is, bit for bit, either channel of the stereo
kernel's; it continues from the left channel's memories and leaves them in both channels,
as the stereo kernel would have.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronus.dsp.intrinsics import fma, inline
from chronus.dsp.kernels import jit, svf_coefs
from chronus.dsp.smoothing import settled, smooth_in

__all__ = [
    "ACID_AHEAD",
    "ACID_CUR",
    "ACID_DECAY",
    "ACID_ENV",
    "ACID_ENV_OCTAVES",
    "ACID_NOTES",
    "ACID_RATE",
    "ACID_SIZE",
    "ACID_ST",
    "MODE_BANDPASS",
    "MODE_HIGHPASS",
    "MODE_LOWPASS",
    "SVF_CUR",
    "SVF_IC",
    "SVF_RATE",
    "SVF_SIZE",
    "acid_block",
    "acid_block_ahead",
    "acid_mono",
    "acid_mono_ahead",
    "fast_tanh",
    "res_to_k",
    "svf_block",
    "svf_mono",
]

FloatArray = npt.NDArray[np.float64]

MODE_LOWPASS = 0
MODE_HIGHPASS = 1
MODE_BANDPASS = 2

ACID_ENV_OCTAVES = 5.0
"""How far (in octaves) the acid envelope lifts the cutoff at `env_amount` 1 and full level."""
TINY = 1e-30
SQRT2 = math.sqrt(2.0)

# The state-variable filter's `p`: memories (ic1, ic2) left then right; the smoothed
# (log2 cutoff, res) as a run of `chronus.dsp.smoothing` (current, target, coefficient);
# the sample rate.
SVF_IC, SVF_CUR, SVF_RATE, SVF_SIZE = 0, 4, 10, 11
# The ladder's `p`: four stage memories left then right; the smoothed (log2 cutoff, res,
# env_amount, drive) as a run; the envelope, its per-sample decay, the sample rate; then
# `ACID_NOTES` pairs (sample in the block, envelope) of notes waiting inside the next block.
ACID_ST, ACID_CUR, ACID_ENV, ACID_DECAY, ACID_RATE, ACID_AHEAD = 0, 8, 20, 21, 22, 23
ACID_NOTES = 16
ACID_SIZE = ACID_AHEAD + 2 * ACID_NOTES


@jit
def res_to_k(res: float) -> float:
    """SVF damping (1/Q) for a resonance in [0, 1]: Butterworth (Q = 0.707) at 0, Q ≈ 70 at 1."""
    return SQRT2 * (1.0 - 0.99 * res)


@inline
def _flush(x: float) -> float:
    return 0.0 if abs(x) < TINY else x


@inline
def _svf_tick(
    x: float, ic1: float, ic2: float, a1: float, a2: float, a3: float, k: float, mode: int
) -> tuple[float, float, float]:
    """One sample through a TPT SVF (as `kernels.svf_tick`, memories in registers):
    the output of `mode` and the new memories."""
    v3 = x - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    ic1 = _flush(2.0 * v1 - ic1)
    ic2 = _flush(2.0 * v2 - ic2)
    if mode == MODE_LOWPASS:
        return v2, ic1, ic2
    if mode == MODE_HIGHPASS:
        return x - k * v1 - v2, ic1, ic2
    return k * v1, ic1, ic2


@inline
def _svf_controls(p: FloatArray, top: float) -> tuple[float, float, float, float]:
    """(k, a1, a2, a3) from the smoothed (log2 cutoff, res)."""
    k = res_to_k(p[SVF_CUR + 1])
    a1, a2, a3 = svf_coefs(min(2.0 ** p[SVF_CUR], top), k, p[SVF_RATE])
    return k, a1, a2, a3


@jit
def svf_block(inp: FloatArray, out: FloatArray, n: int, mode: int, p: FloatArray) -> None:
    """Filter stereo `inp[:n]` into `out[:n]` with a TPT SVF (see `SVF_*` for `p`).

    The smoothed log2(cutoff) and res move one sample at a time, and the coefficients
    with them; while they rest, the coefficients are derived once per block. The band-pass
    output is scaled by the damping so its peak gain is 1 whatever the resonance.
    """
    top = 0.45 * p[SVF_RATE]
    moving = not settled(p, SVF_CUR, 2)
    k, a1, a2, a3 = _svf_controls(p, top)
    l1, l2, r1, r2 = p[SVF_IC], p[SVF_IC + 1], p[SVF_IC + 2], p[SVF_IC + 3]
    for i in range(n):
        if moving:
            smooth_in(p, SVF_CUR, 2)
            k, a1, a2, a3 = _svf_controls(p, top)
        out[i, 0], l1, l2 = _svf_tick(inp[i, 0], l1, l2, a1, a2, a3, k, mode)
        out[i, 1], r1, r2 = _svf_tick(inp[i, 1], r1, r2, a1, a2, a3, k, mode)
    p[SVF_IC], p[SVF_IC + 1], p[SVF_IC + 2], p[SVF_IC + 3] = l1, l2, r1, r2


@jit
def svf_mono(inp: FloatArray, out: FloatArray, n: int, mode: int, p: FloatArray) -> None:
    """`svf_block` for a dual-mono input: one channel, `inp` and `out` of shape (frames,)."""
    top = 0.45 * p[SVF_RATE]
    moving = not settled(p, SVF_CUR, 2)
    k, a1, a2, a3 = _svf_controls(p, top)
    l1, l2 = p[SVF_IC], p[SVF_IC + 1]
    for i in range(n):
        if moving:
            smooth_in(p, SVF_CUR, 2)
            k, a1, a2, a3 = _svf_controls(p, top)
        out[i], l1, l2 = _svf_tick(inp[i], l1, l2, a1, a2, a3, k, mode)
    p[SVF_IC], p[SVF_IC + 1], p[SVF_IC + 2], p[SVF_IC + 3] = l1, l2, l1, l2


@inline
def fast_tanh(x: float) -> float:
    """A cheap, monotonic tanh: a Padé approximant, exactly ±1 beyond ±3."""
    if x > 3.0:
        return 1.0
    if x < -3.0:
        return -1.0
    x2 = x * x
    return fma(x, x2, 27.0 * x) / fma(9.0, x2, 27.0)


@inline
def _acid_controls(p: FloatArray, top: float, w: float) -> tuple[float, float, float, float]:
    """One sample of the ladder's controls: smoothing, envelope, coefficients.

    Returns G (a stage's TPT gain), the input gain and feedback gain of the zero-delay
    solution (the latter over the ladder's summed memories), and the output gain.
    """
    smooth_in(p, ACID_CUR, 4)
    e = p[ACID_ENV]
    fc = 2.0 ** (p[ACID_CUR] + ACID_ENV_OCTAVES * p[ACID_CUR + 2] * e)
    if fc > top:
        fc = top
    e *= p[ACID_DECAY]
    p[ACID_ENV] = 0.0 if e < 1e-7 else e
    g = math.tan(w * fc)
    h = 1.0 / (1.0 + g)
    big_g = g * h
    g2 = big_g * big_g
    k = 4.0 * p[ACID_CUR + 1]
    drive = p[ACID_CUR + 3]
    pre = 1.0 + 7.0 * drive * drive
    gain = (1.0 + 0.5 * k) / (1.0 + 0.25 * (pre - 1.0))
    norm = 1.0 / (1.0 + k * g2 * g2)
    return big_g, pre * norm, k * norm * h, gain


@inline
def _ladder(
    x: float, s0: float, s1: float, s2: float, s3: float, big_g: float, a: float, b: float
) -> tuple[float, float, float, float, float]:
    """One sample through the four saturating TPT stages: (output, new memories).

    The feedback is solved without a unit delay from the linear part: u = a·x − b·S with
    S = G³s0 + G²s1 + G·s2 + s3. The sum is ordered so that s3, the memory the previous
    sample left last, comes in last; each stage is y = G·tanh(in) + (1 − G)·s in one fused
    step, so a sample's critical path is four saturations and five multiply-adds.
    """
    one_g = 1.0 - big_g
    g2 = big_g * big_g
    u = fma(-b, s3, a * x - b * (g2 * big_g * s0 + g2 * s1 + big_g * s2))
    y = fma(big_g, fast_tanh(u), one_g * s0)
    s0 = _flush(fma(2.0, y, -s0))
    y = fma(big_g, fast_tanh(y), one_g * s1)
    s1 = _flush(fma(2.0, y, -s1))
    y = fma(big_g, fast_tanh(y), one_g * s2)
    s2 = _flush(fma(2.0, y, -s2))
    y = fma(big_g, fast_tanh(y), one_g * s3)
    s3 = _flush(fma(2.0, y, -s3))
    return y, s0, s1, s2, s3


@jit
def acid_block(inp: FloatArray, out: FloatArray, n: int, p: FloatArray) -> None:
    """Filter stereo `inp[:n]` into `out[:n]` through a 4-pole resonant ladder (`ACID_*`).

    Four TPT one-pole stages per channel, each fed through a saturation; the feedback is
    solved without a unit delay from the linear part (zero-delay feedback), then saturated,
    so the loop stays bounded for any setting. The smoothed values are log2(cutoff), res,
    env_amount and drive. The envelope lifts the cutoff by up to `ACID_ENV_OCTAVES` and
    falls by its decay per sample; a note sets it to 1 (more when accented).
    """
    rate = p[ACID_RATE]
    top = 0.35 * rate
    w = math.pi / rate
    l0, l1, l2, l3 = p[ACID_ST], p[ACID_ST + 1], p[ACID_ST + 2], p[ACID_ST + 3]
    r0, r1, r2, r3 = p[ACID_ST + 4], p[ACID_ST + 5], p[ACID_ST + 6], p[ACID_ST + 7]
    for i in range(n):
        big_g, a, b, gain = _acid_controls(p, top, w)
        y, l0, l1, l2, l3 = _ladder(inp[i, 0], l0, l1, l2, l3, big_g, a, b)
        out[i, 0] = y * gain
        y, r0, r1, r2, r3 = _ladder(inp[i, 1], r0, r1, r2, r3, big_g, a, b)
        out[i, 1] = y * gain
    p[ACID_ST], p[ACID_ST + 1], p[ACID_ST + 2], p[ACID_ST + 3] = l0, l1, l2, l3
    p[ACID_ST + 4], p[ACID_ST + 5], p[ACID_ST + 6], p[ACID_ST + 7] = r0, r1, r2, r3


@jit
def acid_mono(inp: FloatArray, out: FloatArray, n: int, p: FloatArray) -> None:
    """`acid_block` for a dual-mono input: one channel, `inp` and `out` of shape (frames,)."""
    rate = p[ACID_RATE]
    top = 0.35 * rate
    w = math.pi / rate
    s0, s1, s2, s3 = p[ACID_ST], p[ACID_ST + 1], p[ACID_ST + 2], p[ACID_ST + 3]
    for i in range(n):
        big_g, a, b, gain = _acid_controls(p, top, w)
        y, s0, s1, s2, s3 = _ladder(inp[i], s0, s1, s2, s3, big_g, a, b)
        out[i] = y * gain
    p[ACID_ST], p[ACID_ST + 1], p[ACID_ST + 2], p[ACID_ST + 3] = s0, s1, s2, s3
    p[ACID_ST + 4], p[ACID_ST + 5], p[ACID_ST + 6], p[ACID_ST + 7] = s0, s1, s2, s3


@jit
def acid_block_ahead(inp: FloatArray, out: FloatArray, n: int, p: FloatArray, count: int) -> None:
    """`acid_block` with the first `count` waiting notes (`ACID_AHEAD`) retriggering the
    envelope at their samples: the block in pieces between them, as split blocks would be."""
    done = 0
    for j in range(count):
        at = int(p[ACID_AHEAD + 2 * j])
        if at > done:
            acid_block(inp[done:], out[done:], at - done, p)
            done = at
        p[ACID_ENV] = p[ACID_AHEAD + 2 * j + 1]
    if n > done:
        acid_block(inp[done:], out[done:], n - done, p)


@jit
def acid_mono_ahead(inp: FloatArray, out: FloatArray, n: int, p: FloatArray, count: int) -> None:
    """`acid_block_ahead` for a dual-mono input (see `acid_mono`)."""
    done = 0
    for j in range(count):
        at = int(p[ACID_AHEAD + 2 * j])
        if at > done:
            acid_mono(inp[done:], out[done:], at - done, p)
            done = at
        p[ACID_ENV] = p[ACID_AHEAD + 2 * j + 1]
    if n > done:
        acid_mono(inp[done:], out[done:], n - done, p)
