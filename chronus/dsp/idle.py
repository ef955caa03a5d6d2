"""Cheap tests of whether a module has anything to do (see `Module.quiet`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chronus.dsp.kernels import I_STAGE, jit

__all__ = [
    "LINE_CHECK_BLOCKS",
    "LineWatch",
    "advance",
    "all_zero",
    "lines_quiet",
    "run_quiet",
    "settled",
    "voices_quiet",
    "warm_idle",
]

LINE_CHECK_BLOCKS = 64
"""A delay or reverb looks through its lines for silence once in this many blocks (a scan of
a delay line costs as much as rendering it)."""


class LineWatch:
    """Tells when a delay line has gone silent, looking through it once in
    `LINE_CHECK_BLOCKS` asks (and never while the cheap signs say it plays). The first ask
    looks at once: a new module's lines are silent, and a patch built of hundreds of delays
    and reverbs would otherwise render them all for `LINE_CHECK_BLOCKS` asks."""

    def __init__(self) -> None:
        self._countdown = 1

    def silent(self, lines: npt.NDArray[np.float64]) -> bool:
        """Ask once a block, after the cheap checks passed."""
        self._countdown -= 1
        if self._countdown > 0:
            return False
        self._countdown = 1
        return bool(lines_quiet(lines))


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


@jit
def run_quiet(
    p: npt.NDArray[np.float64], zero_at: int, zeros: int, cur_at: int, count: int
) -> bool:
    """Whether `p[zero_at : zero_at + zeros]` (a filter's memories) are all zero and the run
    of `count` smoothed values at `cur_at` (current, then target) has arrived."""
    for i in range(zero_at, zero_at + zeros):
        if p[i] != 0.0:
            return False
    for q in range(cur_at, cur_at + count):
        if p[q] != p[q + count]:
            return False
    return True


@jit
def lines_quiet(lines: npt.NDArray[np.float64]) -> bool:
    """Whether every sample of a delay line (any shape) is zero; stops at the first that
    is not, so a line that plays is quick to tell."""
    flat = lines.reshape(-1)
    for i in range(flat.shape[0]):
        if flat[i] != 0.0:
            return False
    return True


@jit
def advance(index: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64], n: int) -> None:
    """Move each line's read/write index on by `n` samples (a skipped block of a reverb)."""
    for j in range(index.shape[0]):
        index[j] = (index[j] + n) % lengths[j]


def warm_idle() -> None:
    """Compile (or load) every kernel here with every argument type a module passes it, so
    that no module's first sleep waits for numba in the middle of a block."""
    floats = np.zeros(4)
    stereo = np.zeros((4, 2))
    ints = np.zeros(4, dtype=np.int64)
    lengths = np.ones(4, dtype=np.int64)
    voices = np.zeros((2, 4), dtype=np.int64)
    smooth = np.zeros((3, 4))
    settled(floats, floats)
    all_zero(floats)
    lines_quiet(floats)
    lines_quiet(stereo)
    run_quiet(floats, 0, 1, 0, 1)
    voices_quiet(voices, smooth)
    advance(ints, lengths, 1)
