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
    "add_faded_both",
    "add_faded_mono",
    "pan_gains",
    "pass_through",
    "spread",
    "strip_mono",
    "strip_stereo",
    "strip_to_mono",
    "warm_strips",
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
    # Each side from its own angle, so that the centre gives both sides the very same gain
    # (cos and sin of π/4 differ in the last bit): a centred mono source stays dual-mono.
    left = math.cos((1.0 + pan) * math.pi / 4.0)
    right = math.cos((1.0 - pan) * math.pi / 4.0)
    if stereo:
        left, right = min(1.0, SQRT2 * left), min(1.0, SQRT2 * right)
    return level * left, level * right


@jit
def strip_mono(
    dst: FloatArray, src: FloatArray, add: bool, n: int, strip: FloatArray, coef: float
) -> int:
    """Put mono `src[:n]` × smoothed gains (L, R) into stereo `dst` (added when `add`).

    `strip` holds the gains and their targets, `[gain L, gain R, target L, target R]` (one
    array: each array a compiled kernel is given costs its call a conversion). Gains move
    towards the targets by `coef` per sample. Non-finite input samples become 0;
    returns how many there were. The gains stay in registers through the block (passing the
    arrays to a helper inside the loop made numba count references at every sample).
    """
    bad = 0
    g0, g1 = strip[0], strip[1]
    t0, t1 = strip[2], strip[3]
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
    strip[0], strip[1] = g0, g1
    return bad


@jit
def strip_stereo(
    dst: FloatArray, src: FloatArray, add: bool, n: int, strip: FloatArray, coef: float
) -> int:
    """Like `strip_mono` for a stereo `src`."""
    bad = 0
    g0, g1 = strip[0], strip[1]
    t0, t1 = strip[2], strip[3]
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
    strip[0], strip[1] = g0, g1
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
def strip_to_mono(
    dst: FloatArray, src: FloatArray, add: bool, n: int, strip: FloatArray, coef: float
) -> int:
    """Put mono `src[:n]` × a balanced strip's gain into mono `dst` (added when `add`).

    `strip` (see `strip_mono`) has the same gain and target on both sides, so both sides
    move alike: this is what `strip_mono` puts into either channel of a dual-mono
    destination. Non-finite input
    samples become 0 (counted). Written, each sample is 0.0 + x × g: the very bits that
    adding it into a zeroed block gives (−0.0 becomes 0.0), so a destination's first feed
    may write over what it held instead of having it zeroed first."""
    bad = 0
    g0, g1 = strip[0], strip[1]
    t0, t1 = strip[2], strip[3]
    for i in range(n):
        g0 = approach(g0, t0, coef)
        g1 = approach(g1, t1, coef)
        x = src[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        if add:
            dst[i] += x * g0
        else:
            dst[i] = 0.0 + x * g0
    strip[0], strip[1] = g0, g1
    return bad


@jit
def add_faded_mono(
    dst: FloatArray, src: FloatArray, n: int, gain: FloatArray, target: float, coef: float
) -> None:
    """`add_faded` for mono blocks: `dst[:n] += src[:n] × g`."""
    g = gain[0]
    for i in range(n):
        g = approach(g, target, coef)
        dst[i] += src[i] * g
    gain[0] = g


@jit
def add_faded_both(
    dst: FloatArray, src: FloatArray, n: int, gain: FloatArray, target: float, coef: float
) -> None:
    """`add_faded` of a mono block into both channels of a stereo one."""
    g = gain[0]
    for i in range(n):
        g = approach(g, target, coef)
        y = src[i] * g
        dst[i, 0] += y
        dst[i, 1] += y
    gain[0] = g


@jit
def spread(stereo: FloatArray, mono: FloatArray, n: int) -> None:
    """Add mono `mono[:n]` into both channels of `stereo` and zero it (an input that stops
    being dual-mono: what came before goes on in stereo)."""
    for i in range(n):
        stereo[i, 0] += mono[i]
        stereo[i, 1] += mono[i]
        mono[i] = 0.0


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


def warm_strips(max_block: int) -> None:
    """Compile (or load) every kernel of this module by calling it on scratch blocks of 1
    and `max_block` frames, so that no route's first block waits for numba."""
    mono = np.zeros(max_block)
    stereo = np.zeros((max_block, 2))
    strip = np.zeros(4)
    route = np.zeros(1)
    for n in (1, max_block):
        for add in (False, True):
            strip_mono(stereo, mono, add, n, strip, 0.5)
            strip_stereo(stereo, stereo.copy(), add, n, strip, 0.5)
            strip_to_mono(mono, mono.copy(), add, n, strip, 0.5)
        add_faded(stereo, stereo.copy(), n, route, 1.0, 0.5)
        add_faded_mono(mono, mono.copy(), n, route, 1.0, 0.5)
        add_faded_both(stereo, mono, n, route, 1.0, 0.5)
        spread(stereo, mono, n)
        pass_through(stereo.copy(), stereo, n)
        zero_block(stereo, n)
        zero_mono(mono, n)
