"""Numba kernels of the effects: distortion, delay, reverb.

Same rules as `chronus.dsp.kernels`: in place on preallocated arrays, all state in arrays the
module owns, computed sample by sample so that chunking never changes the result. As in
`chronus.dsp.filter_kernels`, an effect's numbers live in one float64 array `p` (offsets
`DIST_*`, `DELAY_*`, `REVERB_*`), and the distortion and the delay have a mono kernel for a
dual-mono input that gives, bit for bit, either channel of the stereo kernel's output and
leaves both channels' state as the stereo kernel would.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronus.dsp.intrinsics import inline
from chronus.dsp.kernels import fast_tanh, jit
from chronus.dsp.smoothing import settled, smooth_step

__all__ = [
    "DELAY_CUR",
    "DELAY_LP",
    "DELAY_POS",
    "DELAY_SIZE",
    "DIST_A",
    "DIST_CUR",
    "DIST_F",
    "DIST_FMODE",
    "DIST_FOLD",
    "DIST_HARD",
    "DIST_LP",
    "DIST_RATE",
    "DIST_SIZE",
    "DIST_TANH",
    "DIST_TONE",
    "DIST_X",
    "REVERB_CUR",
    "REVERB_INDEX",
    "REVERB_LENGTHS",
    "REVERB_OFFSETS",
    "REVERB_SIZE",
    "REVERB_STORE",
    "delay_block",
    "delay_mono",
    "distortion_block",
    "distortion_mono",
    "reverb_block",
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
TAIL_FLOOR = 1e-8
"""An echo or a reverb's recirculation below this (−160 dB) is flushed to 0: far below what
a 24-bit output can hold, and it lets a tail end in seconds (its module then sleeps: see
`Module.quiet`), where the 1e-30 of the filters would take a reverb half a minute."""
HALF_PI = 0.5 * math.pi
PADE_TANH_OFFSET = 0.5 + (4.0 / 3.0) * math.log(4.0) - 3.0
"""Beyond ±3 `fast_tanh` is ±1: its antiderivative goes on as |x| plus this, continuous."""

# The distortion's `p`: the smoothed (drive gain, log2 tone Hz, mix) as a run of
# `chronus.dsp.smoothing` (current, target, coefficient); per channel the previous driven
# input, the antiderivative at it and the low-pass memory; the log2 tone the cached
# coefficient is for, the coefficient; the mode the cached antiderivatives are for (-1:
# none); the sample rate.
DIST_CUR, DIST_X, DIST_F, DIST_LP, DIST_TONE, DIST_A = 0, 9, 11, 13, 15, 16
DIST_FMODE, DIST_RATE, DIST_SIZE = 17, 18, 19
# The delay's `p`: the smoothed (delay in samples, feedback, damp coefficient, mix) as a
# run; the feedback low-pass memories; the write position.
DELAY_CUR, DELAY_LP, DELAY_POS, DELAY_SIZE = 0, 12, 14, 15
# The reverb's `p`: the smoothed (room feedback, damping, mix, width) as a run; the 16 comb
# damping memories. Its int array: the lines' offsets, lengths, read/write indices.
REVERB_CUR, REVERB_STORE, REVERB_SIZE = 0, 12, 28
REVERB_OFFSETS, REVERB_LENGTHS, REVERB_INDEX = 0, 24, 48


@inline
def _shape(mode: int, x: float) -> float:
    if mode == DIST_TANH:
        return fast_tanh(x)
    if mode == DIST_HARD:
        return min(max(x, -1.0), 1.0)
    return math.sin(HALF_PI * x)


@inline
def _antiderivative(mode: int, x: float) -> float:
    if mode == DIST_TANH:  # of `fast_tanh`: x²/18 + 4/3·ln(1 + x²/3), then |x| + its offset
        a = abs(x)
        if a >= 3.0:
            return a + PADE_TANH_OFFSET
        x2 = x * x
        return x2 * (1.0 / 18.0) + (4.0 / 3.0) * math.log1p(x2 * (1.0 / 3.0))
    if mode == DIST_HARD:
        a = abs(x)
        return 0.5 * x * x if a <= 1.0 else a - 0.5
    return -math.cos(HALF_PI * x) / HALF_PI


@inline
def _dist_controls(mode: int, p: FloatArray) -> tuple[float, float, float, float]:
    """(drive gain, tone low-pass coefficient, mix, bitcrush levels) from the smoothed values.

    The coefficient is cached in `p` for the log2 tone it was derived from.
    """
    gain = p[DIST_CUR]
    if p[DIST_CUR + 1] != p[DIST_TONE]:
        p[DIST_TONE] = p[DIST_CUR + 1]
        p[DIST_A] = 1.0 - math.exp(-2.0 * math.pi * 2.0 ** p[DIST_CUR + 1] / p[DIST_RATE])
    levels = 1.0
    if mode == DIST_CRUSH:
        levels = math.floor(2.0 ** (12.0 - 10.0 * math.log2(max(gain, 1.0)) / 7.97))
    return gain, p[DIST_A], p[DIST_CUR + 2], levels


@inline
def _distort(
    mode: int, dry: float, gain: float, a: float, mix: float, levels: float, prev: float,
    f_prev: float, lp: float,
) -> tuple[float, float, float, float]:  # fmt: skip
    """One sample of one channel: (output, driven input, antiderivative at it, low-pass).

    The antiderivative of this sample is the next sample's `f_prev`: one transcendental
    evaluation per sample, not two. Bitcrush has none and passes `f_prev` on.
    """
    x = dry * gain
    f_x = f_prev
    if mode == DIST_CRUSH:
        y = math.floor(min(max(x, -1.0), 1.0) * levels + 0.5) / levels
    else:
        f_x = _antiderivative(mode, x)
        dx = x - prev
        if abs(dx) < ADAA_EPS:
            y = _shape(mode, 0.5 * (x + prev))
        else:
            y = (f_x - f_prev) / dx
    lp = lp + a * (y - lp)
    if abs(lp) < TINY:
        lp = 0.0
    return dry + mix * (lp - dry), x, f_x, lp


@inline
def _adaa_for(mode: int, p: FloatArray) -> None:
    """Make the cached antiderivatives those of `mode` (after a mode change or a reset)."""
    if mode != DIST_CRUSH and p[DIST_FMODE] != mode:
        p[DIST_F] = _antiderivative(mode, p[DIST_X])
        p[DIST_F + 1] = _antiderivative(mode, p[DIST_X + 1])
    p[DIST_FMODE] = mode


@jit
def distortion_block(inp: FloatArray, out: FloatArray, n: int, mode: int, p: FloatArray) -> None:
    """Drive → shaper → one-pole tone low-pass, blended with the dry input (see `DIST_*`).

    Tanh, hard clip and the sine fold use first-order antiderivative anti-aliasing (the mean
    of the curve between two inputs), which keeps them within ±1 as the curves are. The tanh
    is `fast_tanh` (within 0.024 of tanh, ±1 beyond ±3, smooth there): its antiderivative
    costs one `log1p` a sample inside ±3 and nothing beyond, where tanh's own costs an `exp`
    and a `log1p` everywhere.
    Bitcrush quantises the clipped signal to 12 bits at 0 dB drive down to 2 bits at 48 dB.
    While the smoothed values rest, the controls are derived once per block.
    """
    _adaa_for(mode, p)
    moving = not settled(p, DIST_CUR, 3)
    gain, a, mix, levels = _dist_controls(mode, p)
    xl, fl, ll = p[DIST_X], p[DIST_F], p[DIST_LP]
    xr, fr, lr = p[DIST_X + 1], p[DIST_F + 1], p[DIST_LP + 1]
    for i in range(n):
        if moving:
            smooth_step(p, DIST_CUR, 3)
            gain, a, mix, levels = _dist_controls(mode, p)
        out[i, 0], xl, fl, ll = _distort(mode, inp[i, 0], gain, a, mix, levels, xl, fl, ll)
        out[i, 1], xr, fr, lr = _distort(mode, inp[i, 1], gain, a, mix, levels, xr, fr, lr)
    p[DIST_X], p[DIST_F], p[DIST_LP] = xl, fl, ll
    p[DIST_X + 1], p[DIST_F + 1], p[DIST_LP + 1] = xr, fr, lr


@jit
def distortion_mono(inp: FloatArray, out: FloatArray, n: int, mode: int, p: FloatArray) -> None:
    """`distortion_block` for a dual-mono input: one channel, arrays of shape (frames,)."""
    _adaa_for(mode, p)
    moving = not settled(p, DIST_CUR, 3)
    gain, a, mix, levels = _dist_controls(mode, p)
    x, f, lp = p[DIST_X], p[DIST_F], p[DIST_LP]
    for i in range(n):
        if moving:
            smooth_step(p, DIST_CUR, 3)
            gain, a, mix, levels = _dist_controls(mode, p)
        out[i], x, f, lp = _distort(mode, inp[i], gain, a, mix, levels, x, f, lp)
    p[DIST_X], p[DIST_F], p[DIST_LP] = x, f, lp
    p[DIST_X + 1], p[DIST_F + 1], p[DIST_LP + 1] = x, f, lp


@inline
def _delay_read(buf: FloatArray, r0: int, r1: int, frac: float, c: int) -> float:
    return float(buf[r0, c] + frac * (buf[r1, c] - buf[r0, c]))


@inline
def _delay_taps(p: FloatArray, w: int, length: int) -> tuple[int, int, float]:
    """One sample of smoothing; the two read positions and the fraction between them."""
    smooth_step(p, DELAY_CUR, 4)
    d = p[DELAY_CUR]
    whole = int(d)  # d ≥ 1, so truncation is floor
    r0 = w - whole
    if r0 < 0:
        r0 += length
    r1 = r0 - 1
    if r1 < 0:
        r1 += length
    return r0, r1, d - whole


@inline
def _delay_damp(p: FloatArray, c: int, y: float) -> float:
    m = p[DELAY_LP + c] + p[DELAY_CUR + 2] * (y - p[DELAY_LP + c])
    if abs(m) < TAIL_FLOOR:
        m = 0.0
    p[DELAY_LP + c] = m
    return float(m)


@jit
def delay_block(inp: FloatArray, out: FloatArray, n: int, buf: FloatArray, p: FloatArray) -> None:
    """A stereo feedback delay with a damped (low-passed) feedback path (see `DELAY_*`).

    `buf` is (length, 2), written at the position `p[DELAY_POS]`; the smoothed values are
    (delay in samples, feedback, damp coefficient, mix). The read is linearly interpolated
    at the smoothed delay, so time changes glide without clicks; an integer delay reads
    exactly.
    """
    length = buf.shape[0]
    w = int(p[DELAY_POS])
    for i in range(n):
        r0, r1, frac = _delay_taps(p, w, length)
        fb = p[DELAY_CUR + 1]
        mix = p[DELAY_CUR + 3]
        for c in range(2):
            y = _delay_read(buf, r0, r1, frac, c)
            m = _delay_damp(p, c, y)
            x = inp[i, c]
            buf[w, c] = x + fb * m
            out[i, c] = x + mix * (y - x)
        w += 1
        if w == length:
            w = 0
    p[DELAY_POS] = w


@jit
def delay_mono(inp: FloatArray, out: FloatArray, n: int, buf: FloatArray, p: FloatArray) -> None:
    """`delay_block` for a dual-mono input: one channel computed, both written to `buf`."""
    length = buf.shape[0]
    w = int(p[DELAY_POS])
    for i in range(n):
        r0, r1, frac = _delay_taps(p, w, length)
        y = _delay_read(buf, r0, r1, frac, 0)
        m = _delay_damp(p, 0, y)
        p[DELAY_LP + 1] = m
        x = inp[i]
        fed = x + p[DELAY_CUR + 1] * m
        buf[w, 0] = fed
        buf[w, 1] = fed
        out[i] = x + p[DELAY_CUR + 3] * (y - x)
        w += 1
        if w == length:
            w = 0
    p[DELAY_POS] = w


@jit
def reverb_block(
    inp: FloatArray, out: FloatArray, n: int, lines: FloatArray, iv: IntArray, p: FloatArray
) -> None:
    """Freeverb: per channel 8 parallel damped combs into 4 series allpasses (`REVERB_*`).

    Delay line j lives in `lines` at offset `iv[REVERB_OFFSETS + j]`, of length
    `iv[REVERB_LENGTHS + j]`, read and written at `iv[REVERB_INDEX + j]`: channel c's combs
    are lines 12c … 12c+7, its allpasses 12c+8 … 12c+11. The smoothed values are (room
    feedback, damping, mix, width). Width scales the tail's side (L − R) against its mid:
    0 folds it to mono, 1 leaves it as the two channels' lines make it, 2 doubles the side.
    """
    for i in range(n):
        smooth_step(p, REVERB_CUR, 4)
        feedback = p[REVERB_CUR]
        damp1 = p[REVERB_CUR + 1]
        damp2 = 1.0 - damp1
        mix = p[REVERB_CUR + 2]
        width = p[REVERB_CUR + 3]
        x = (inp[i, 0] + inp[i, 1]) * 0.015
        wet_l = 0.0
        for c in range(2):
            acc = 0.0
            for k in range(8):
                j = 12 * c + k
                at = iv[REVERB_OFFSETS + j] + iv[REVERB_INDEX + j]
                y = lines[at]
                store = REVERB_STORE + 8 * c + k
                s = y * damp2 + p[store] * damp1
                if abs(s) < TAIL_FLOOR:
                    s = 0.0
                p[store] = s
                lines[at] = x + s * feedback
                acc += y
                iv[REVERB_INDEX + j] += 1
                if iv[REVERB_INDEX + j] == iv[REVERB_LENGTHS + j]:
                    iv[REVERB_INDEX + j] = 0
            for k in range(8, 12):
                j = 12 * c + k
                at = iv[REVERB_OFFSETS + j] + iv[REVERB_INDEX + j]
                b = lines[at]
                if abs(b) < TAIL_FLOOR:
                    b = 0.0
                lines[at] = acc + b * 0.5
                acc = b - acc
                iv[REVERB_INDEX + j] += 1
                if iv[REVERB_INDEX + j] == iv[REVERB_LENGTHS + j]:
                    iv[REVERB_INDEX + j] = 0
            if c == 0:
                wet_l = acc
        wet_r = acc
        if width != 1.0:  # at 1 the tail stays exactly as made
            mid = 0.5 * (wet_l + wet_r)
            side = 0.5 * width * (wet_l - wet_r)
            wet_l, wet_r = mid + side, mid - side
        dry = inp[i, 0]
        out[i, 0] = dry + mix * (wet_l - dry)
        dry = inp[i, 1]
        out[i, 1] = dry + mix * (wet_r - dry)
