"""Smoothed parameters packed in a kernel's float array: (current, target, coefficient) runs.

A module keeps the values it smooths in its kernel's one float array `p`, from an offset
`at`: the `count` current values, then their targets, then their per-sample coefficients.
The module writes targets (through the views `smoothers` returns); its kernel moves the
current values one sample at a time with `smooth_in` or `smooth_step`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chronus.dsp.intrinsics import inline
from chronus.dsp.kernels import approach
from chronus.dsp.params import smoothing_coef

__all__ = ["settled", "smooth_in", "smooth_step", "smoothers"]

FloatArray = npt.NDArray[np.float64]


def smoothers(
    p: FloatArray, at: int, times_ms: list[float], sample_rate: int
) -> tuple[FloatArray, FloatArray]:
    """Set up the run at `p[at]` for smoothing times `times_ms` (see `smoothing_coef`);
    returns its (current, target) views."""
    count = len(times_ms)
    p[at + 2 * count : at + 3 * count] = [smoothing_coef(t, sample_rate) for t in times_ms]
    return p[at : at + count], p[at + count : at + 2 * count]


@inline
def smooth_in(p: FloatArray, at: int, count: int) -> None:
    """Move the `count` values at `p[at]` one sample towards their targets (`approach`:
    exactly on a target once within 1e-9 of it)."""
    for q in range(at, at + count):
        p[q] = approach(p[q], p[q + count], p[q + 2 * count])


@inline
def smooth_step(p: FloatArray, at: int, count: int) -> None:
    """Like `smooth_in`, snapping within 1e-9 relative to the target.

    The relative bound matters for large values (a delay in samples), where a small step
    would otherwise stop changing the value before it reaches the target.
    """
    for q in range(at, at + count):
        d = p[q + count] - p[q]
        if d != 0.0:
            if abs(d) < 1e-9 * (1.0 + abs(p[q + count])):
                p[q] = p[q + count]
            else:
                p[q] += d * p[q + 2 * count]


@inline
def settled(p: FloatArray, at: int, count: int) -> bool:
    """Whether the `count` values at `p[at]` rest on their targets (they will not move)."""
    for q in range(at, at + count):
        if p[q] != p[q + count]:
            return False
    return True
