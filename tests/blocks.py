"""Comparing a recording with its offline render, block by block."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def differing_blocks(
    recorded: npt.NDArray[np.float32],
    expected: npt.NDArray[np.float32],
    block: int,
    played: int,
) -> list[int]:
    """Blocks before `played` in which `recorded` and `expected` differ in any sample.

    `played` is the I/O's `blocks_played` from the status whose underrun count the caller
    checks the differences against: the recording runs on until the engine stops, and an
    underrun after that status would otherwise be a difference no counter accounts for.
    """
    n = min(len(recorded), len(expected), played * block)
    rows = np.flatnonzero(np.any(recorded[:n] != expected[:n], axis=1))
    return sorted({int(r) // block for r in rows})
