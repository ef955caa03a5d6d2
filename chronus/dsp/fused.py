"""Module kernels with their output strip: one compiled call renders a module and feeds it on.

A module's block and its strip (`strips.strip_to_mono` into a dual-mono destination's input,
`strips.strip_mono` into a stereo one or the master bus) were two calls from Python, each
paying numba's entry and the graph's frames; at 64 chains that is 192 strip calls a block.
Here each kernel calls the module's own kernel and then the strip's, compiled together: the
very same machine code for each (every kernel keeps its own floating-point flags), so the same
samples bit for bit, for one call. The graph uses them where the common case holds (see
`Graph.fuse_strips`): a built-in mono output through a balanced strip into one steady route.

Each takes the module kernel's arguments, then `feed_on`'s: `dst`, `both`, `add`, `strip`,
`coef`; and returns the strip's count of non-finite samples. Each array a kernel is given
costs its call a conversion (~0.1–0.4 µs here): one destination array of one kind, never a
stand-in for the kind not used, or the call costs what it saves.
"""

from __future__ import annotations

import math

from chronus.dsp import effect_kernels as ek
from chronus.dsp import filter_kernels as fk
from chronus.dsp import kernels
from chronus.dsp.kernels import FloatArray, IntArray, approach, jit

__all__ = [
    "acid_mono_ahead_strip",
    "acid_mono_strip",
    "distortion_mono_strip",
    "feed_on",
    "synth_ahead_strip",
    "synth_strip",
]


@jit
def feed_on(
    out: FloatArray, n: int, dst: FloatArray, both: bool, add: bool, strip: FloatArray, coef: float
) -> int:
    """A mono output `out[:n]` through a balanced strip into where its one route goes: `dst`
    a stereo block seen as one row (`Route.flat`) when `both`, added into as
    `strips.strip_mono` does; else a dual-mono input, as `strips.strip_to_mono` writes it.
    The same operations in the same order as those kernels, so the same bits."""
    bad = 0
    g0, g1 = strip[0], strip[1]
    t0, t1 = strip[2], strip[3]
    for i in range(n):
        g0 = approach(g0, t0, coef)
        g1 = approach(g1, t1, coef)
        x = out[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        if both:
            dst[2 * i] += x * g0
            dst[2 * i + 1] += x * g1
        elif add:
            dst[i] += x * g0
        else:
            dst[i] = 0.0 + x * g0
    strip[0], strip[1] = g0, g1
    return bad


@jit
def synth_strip(
    out: FloatArray,
    n: int,
    wave: int,
    fv: FloatArray,
    iv: IntArray,
    smooth: FloatArray,
    controls: FloatArray,
    settings: FloatArray,
    clock: IntArray,
    dst: FloatArray,
    both: bool,
    add: bool,
    strip: FloatArray,
    coef: float,
) -> int:
    """`kernels.synth_block`, then `feed_on`."""
    kernels.synth_block(out, n, wave, fv, iv, smooth, controls, settings, clock)
    return feed_on(out, n, dst, both, add, strip, coef)


@jit
def synth_ahead_strip(
    out: FloatArray,
    n: int,
    wave: int,
    fv: FloatArray,
    iv: IntArray,
    smooth: FloatArray,
    controls: FloatArray,
    settings: FloatArray,
    clock: IntArray,
    ahead: FloatArray,
    count: int,
    dst: FloatArray,
    both: bool,
    add: bool,
    strip: FloatArray,
    coef: float,
) -> int:
    """`kernels.synth_block_ahead`, then `feed_on`."""
    kernels.synth_block_ahead(
        out, n, wave, fv, iv, smooth, controls, settings, clock, ahead, count
    )
    return feed_on(out, n, dst, both, add, strip, coef)


@jit
def acid_mono_strip(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    p: FloatArray,
    dst: FloatArray,
    both: bool,
    add: bool,
    strip: FloatArray,
    coef: float,
) -> int:
    """`filter_kernels.acid_mono`, then `feed_on`."""
    fk.acid_mono(inp, out, n, p)
    return feed_on(out, n, dst, both, add, strip, coef)


@jit
def acid_mono_ahead_strip(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    p: FloatArray,
    count: int,
    dst: FloatArray,
    both: bool,
    add: bool,
    strip: FloatArray,
    coef: float,
) -> int:
    """`filter_kernels.acid_mono_ahead`, then `feed_on`."""
    fk.acid_mono_ahead(inp, out, n, p, count)
    return feed_on(out, n, dst, both, add, strip, coef)


@jit
def distortion_mono_strip(
    inp: FloatArray,
    out: FloatArray,
    n: int,
    mode: int,
    p: FloatArray,
    dst: FloatArray,
    both: bool,
    add: bool,
    strip: FloatArray,
    coef: float,
) -> int:
    """`effect_kernels.distortion_mono`, then `feed_on`."""
    ek.distortion_mono(inp, out, n, mode, p)
    return feed_on(out, n, dst, both, add, strip, coef)
