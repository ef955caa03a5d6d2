"""Comparing a recording with its offline render, block by block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def explained_blocks(io: Mapping[str, Any]) -> int:
    """How many blocks of a live recording may differ from its offline render by what the
    I/O counted: each underrun's fade-out and the fade-in after it, and each crossfade block
    one slot had not published (played from the other, spliced in) and the block after it."""
    return 2 * int(io["underruns"]) + 2 * int(io.get("one_sided_fades", 0))
