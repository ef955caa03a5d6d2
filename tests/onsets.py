"""Onset detection for tests: where rendered or recorded audio leaves silence."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def onsets(audio: npt.NDArray[np.float32], threshold: float = 1e-6, quiet: int = 2000) -> list[int]:
    """Samples where the left channel rises above `threshold` after `quiet` samples below it.

    A kick of short decay falls far below 1e-6 between hits, and its first sample is above
    it, so with such a probe every note's onset is found on its exact sample.
    """
    found: list[int] = []
    last = -quiet - 1
    for i in np.flatnonzero(np.abs(audio[:, 0]) > threshold):
        if i - last > quiet:
            found.append(int(i))
        last = int(i)
    return found
