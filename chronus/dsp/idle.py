"""Cheap tests of whether a module has anything to do (see `Module.quiet`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chronus.dsp.kernels import I_STAGE, jit

__all__ = ["all_zero", "settled", "voices_quiet"]


@jit
def settled(cur: npt.NDArray[np.float64], tgt: npt.NDArray[np.float64]) -> bool:
    """Whether every smoothed value has reached its target."""
    for i in range(cur.shape[0]):
        if cur[i] != tgt[i]:
            return False
    return True


@jit
def all_zero(values: npt.NDArray[np.float64]) -> bool:
    """Whether a 1-D state array holds nothing but zeros."""
    for i in range(values.shape[0]):
        if values[i] != 0.0:
            return False
    return True


@jit
def voices_quiet(iv: npt.NDArray[np.int64], smooth: npt.NDArray[np.float64]) -> bool:
    """A synth's voices (`iv` rows) are all idle and its smoothed parameters (`smooth` rows:
    current, target) have all arrived."""
    for v in range(iv.shape[0]):
        if iv[v, I_STAGE] != 0:
            return False
    for p in range(smooth.shape[1]):
        if smooth[0, p] != smooth[1, p]:
            return False
    return True
