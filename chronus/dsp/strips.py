"""The channel strip and route kernels of the graph: gains, pans, fades, silence.

Every kernel works in place on preallocated blocks and allocates nothing.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronus.dsp.kernels import approach, jit

__all__ = [
    "SILENT_DB",
    "add_faded",
    "pan_gains",
    "pass_through",
    "strip_mono",
    "strip_stereo",
    "zero_block",
    "zero_mono",
]

SILENT_DB = -60.0
SQRT2 = math.sqrt(2.0)

FloatArray = npt.NDArray[np.float64]


def pan_gains(volume_db: float, pan: float, stereo: bool = False) -> tuple[float, float]:
    """Left and right gains: the volume in dB with equal-power pan; -60 dB is silence.

    A mono source is panned (−3 dB per side at the centre); a `stereo` one (a processor's
    output) is balanced: both sides at full level in the centre, one side fading away
    (equal-power) as the other is favoured, so a chain of processors keeps its level.
    """
    level = 0.0 if volume_db <= SILENT_DB else 10.0 ** (volume_db / 20.0)
    angle = (pan + 1.0) * math.pi / 4.0
    left, right = math.cos(angle), math.sin(angle)
    if stereo:
        left, right = min(1.0, SQRT2 * left), min(1.0, SQRT2 * right)
    return level * left, level * right


@jit
def strip_mono(
    dst: FloatArray, src: FloatArray, add: bool, n: int, gain: FloatArray, target: FloatArray,
    coef: float,
) -> int:  # fmt: skip
    """Put mono `src[:n]` × smoothed gains (L, R) into stereo `dst` (added when `add`).

    Gains move towards `target` by `coef` per sample. Non-finite input samples become 0;
    returns how many there were. The gains stay in registers through the block (passing the
    arrays to a helper inside the loop made numba count references at every sample).
    """
    bad = 0
    g0, g1 = gain[0], gain[1]
    t0, t1 = target[0], target[1]
    for i in range(n):
        g0 = approach(g0, t0, coef)
        g1 = approach(g1, t1, coef)
        x = src[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        if add:
            dst[i, 0] += x * g0
            dst[i, 1] += x * g1
        else:
            dst[i, 0] = x * g0
            dst[i, 1] = x * g1
    gain[0], gain[1] = g0, g1
    return bad


@jit
def strip_stereo(
    dst: FloatArray, src: FloatArray, add: bool, n: int, gain: FloatArray, target: FloatArray,
    coef: float,
) -> int:  # fmt: skip
    """Like `strip_mono` for a stereo `src`."""
    bad = 0
    g0, g1 = gain[0], gain[1]
    t0, t1 = target[0], target[1]
    for i in range(n):
        g0 = approach(g0, t0, coef)
        g1 = approach(g1, t1, coef)
        left = src[i, 0]
        right = src[i, 1]
        if not math.isfinite(left):
            left = 0.0
            bad += 1
        if not math.isfinite(right):
            right = 0.0
            bad += 1
        if add:
            dst[i, 0] += left * g0
            dst[i, 1] += right * g1
        else:
            dst[i, 0] = left * g0
            dst[i, 1] = right * g1
    gain[0], gain[1] = g0, g1
    return bad


@jit
def add_faded(
    dst: FloatArray, src: FloatArray, n: int, gain: FloatArray, target: float, coef: float
) -> None:
    """`dst[:n] += src[:n] × g` for stereo blocks, `g = gain[0]` moving towards `target`.

    The route gain moves by `coef` per sample before each sample, like a strip's gain, and
    lands exactly on `target` once within 1e-9 of it.
    """
    g = gain[0]
    for i in range(n):
        g = approach(g, target, coef)
        dst[i, 0] += src[i, 0] * g
        dst[i, 1] += src[i, 1] * g
    gain[0] = g


@jit
def zero_block(buf: FloatArray, n: int) -> None:
    """Zero stereo `buf[:n]`."""
    for i in range(n):
        buf[i, 0] = 0.0
        buf[i, 1] = 0.0


@jit
def zero_mono(buf: FloatArray, n: int) -> None:
    """Zero mono `buf[:n]`."""
    for i in range(n):
        buf[i] = 0.0


@jit
def pass_through(inp: FloatArray, out: FloatArray, n: int) -> None:
    """Copy stereo `inp[:n]` to `out[:n]` (a quarantined processor)."""
    for i in range(n):
        out[i, 0] = inp[i, 0]
        out[i, 1] = inp[i, 1]
