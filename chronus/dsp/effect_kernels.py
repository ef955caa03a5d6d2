"""Numba kernels of the effects: distortion, delay, reverb.

Same rules as `chronus.dsp.kernels`: in place on preallocated arrays, all state in arrays the
module owns, computed sample by sample so that chunking never changes the result.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronus.dsp.kernels import fast_tanh, jit

__all__ = [
    "DIST_FOLD",
    "DIST_HARD",
    "DIST_TANH",
    "delay_block",
    "distortion_block",
    "reverb_block",
    "smooth_step",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DIST_TANH = 0
DIST_HARD = 1
DIST_FOLD = 2
DIST_CRUSH = 3
ADAA_EPS = 1e-6
"""Below this input step the antiderivative quotient is replaced by the midpoint value."""
TINY = 1e-30
"""Recirculating values below this are flushed to 0 (no denormal slowdown in long tails)."""
HALF_PI = 0.5 * math.pi


@jit
def smooth_step(cur: FloatArray, tgt: FloatArray, coef: FloatArray) -> None:
    """Move each `cur[p]` one sample towards `tgt[p]`; snap when within 1e-9 (relative).

    The relative bound matters for large values (a delay in samples), where a small step
    would otherwise stop changing the value before it reaches the target.
    """
    for p in range(cur.shape[0]):
        d = tgt[p] - cur[p]
        if d != 0.0:
            if abs(d) < 1e-9 * (1.0 + abs(tgt[p])):
                cur[p] = tgt[p]
            else:
                cur[p] += d * coef[p]


@jit
def _shape(mode: int, x: float) -> float:
    if mode == DIST_TANH:
        return fast_tanh(x)
    if mode == DIST_HARD:
        return min(max(x, -1.0), 1.0)
    return math.sin(HALF_PI * x)


@jit
def _antiderivative(mode: int, x: float) -> float:
    if mode == DIST_TANH:
        a = abs(x)
        return a + math.log1p(math.exp(-2.0 * a)) - math.log(2.0)
    if mode == DIST_HARD:
        a = abs(x)
        return 0.5 * x * x if a <= 1.0 else a - 0.5
    return -math.cos(HALF_PI * x) / HALF_PI


@jit
def distortion_block(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    mode: int,
    cur: FloatArray,
    tgt: FloatArray,
    coef: FloatArray,
    state: FloatArray,
    sample_rate: float,
) -> None:
    """Drive → shaper → one-pole tone low-pass, blended with the dry input.

    `cur`/`tgt`/`coef` smooth (drive gain, log2 tone Hz, mix). Tanh, hard clip and the sine
    fold use first-order antiderivative anti-aliasing (the mean of the curve between two
    inputs), which keeps them within ±1 as the curves are. Bitcrush quantises the clipped
    signal to 12 bits at 0 dB drive down to 2 bits at 48 dB. `state` per channel c: previous
    driven input `state[c]`, low-pass memory `state[2 + c]`; `state[4]` caches the tone
    log2 and `state[5]` its coefficient.
    """
    for i in range(n):
        smooth_step(cur, tgt, coef)
        gain = cur[0]
        if cur[1] != state[4]:
            state[4] = cur[1]
            state[5] = 1.0 - math.exp(-2.0 * math.pi * 2.0 ** cur[1] / sample_rate)
        a = state[5]
        mix = cur[2]
        levels = 1.0
        if mode == DIST_CRUSH:
            levels = math.floor(2.0 ** (12.0 - 10.0 * math.log2(max(gain, 1.0)) / 7.97))
        for c in range(2):
            dry = inp[i, c]
            x = dry * gain
            if mode == DIST_CRUSH:
                y = math.floor(min(max(x, -1.0), 1.0) * levels + 0.5) / levels
            else:
                prev = state[c]
                dx = x - prev
                if abs(dx) < ADAA_EPS:
                    y = _shape(mode, 0.5 * (x + prev))
                else:
                    y = (_antiderivative(mode, x) - _antiderivative(mode, prev)) / dx
            state[c] = x
            lp = state[2 + c] + a * (y - state[2 + c])
            if abs(lp) < TINY:
                lp = 0.0
            state[2 + c] = lp
            out[i, c] = dry + mix * (lp - dry)


@jit
def delay_block(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    buf: FloatArray,
    pos: IntArray,
    cur: FloatArray,
    tgt: FloatArray,
    coef: FloatArray,
    lp: FloatArray,
) -> None:
    """A stereo feedback delay with a damped (low-passed) feedback path.

    `buf` is (length, 2), written at `pos[0]`; `cur`/`tgt`/`coef` smooth (delay in
    samples, feedback, damp coefficient, mix). The read is linearly interpolated at the
    smoothed delay, so time changes glide without clicks; an integer delay reads exactly.
    `lp` holds the feedback low-pass memories.
    """
    length = buf.shape[0]
    w = pos[0]
    for i in range(n):
        smooth_step(cur, tgt, coef)
        d = cur[0]
        fb = cur[1]
        a = cur[2]
        mix = cur[3]
        whole = int(d)  # d ≥ 1, so truncation is floor
        frac = d - whole
        r0 = w - whole
        if r0 < 0:
            r0 += length
        r1 = r0 - 1
        if r1 < 0:
            r1 += length
        for c in range(2):
            y = buf[r0, c] + frac * (buf[r1, c] - buf[r0, c])
            m = lp[c] + a * (y - lp[c])
            if abs(m) < TINY:
                m = 0.0
            lp[c] = m
            x = inp[i, c]
            buf[w, c] = x + fb * m
            out[i, c] = x + mix * (y - x)
        w += 1
        if w == length:
            w = 0
    pos[0] = w


@jit
def reverb_block(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    lines: FloatArray,
    offsets: IntArray,
    lengths: IntArray,
    index: IntArray,
    store: FloatArray,
    cur: FloatArray,
    tgt: FloatArray,
    coef: FloatArray,
) -> None:
    """Freeverb: per channel 8 parallel damped combs into 4 series allpasses.

    Delay lines live in `lines` at `offsets[j]` with `lengths[j]` and read/write index
    `index[j]`: channel c's combs are lines 12c … 12c+7, its allpasses 12c+8 … 12c+11.
    `store` holds the 16 comb damping memories. `cur`/`tgt`/`coef` smooth (room feedback,
    damping, mix).
    """
    for i in range(n):
        smooth_step(cur, tgt, coef)
        feedback = cur[0]
        damp1 = cur[1]
        damp2 = 1.0 - damp1
        mix = cur[2]
        x = (inp[i, 0] + inp[i, 1]) * 0.015
        for c in range(2):
            acc = 0.0
            for k in range(8):
                j = 12 * c + k
                at = offsets[j] + index[j]
                y = lines[at]
                s = y * damp2 + store[8 * c + k] * damp1
                if abs(s) < TINY:
                    s = 0.0
                store[8 * c + k] = s
                lines[at] = x + s * feedback
                acc += y
                index[j] += 1
                if index[j] == lengths[j]:
                    index[j] = 0
            for k in range(8, 12):
                j = 12 * c + k
                at = offsets[j] + index[j]
                b = lines[at]
                if abs(b) < TINY:
                    b = 0.0
                lines[at] = acc + b * 0.5
                acc = b - acc
                index[j] += 1
                if index[j] == lengths[j]:
                    index[j] = 0
            dry = inp[i, c]
            out[i, c] = dry + mix * (acc - dry)
