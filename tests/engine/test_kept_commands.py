"""Which logged commands a slot keeper keeps: those after the newest checkpoint."""

from __future__ import annotations

import numpy as np

from chronus.engine.keeper import newest_checkpoint_seq


def table(*rows: tuple[int, int, int, int]) -> np.ndarray:
    """A seat's checkpoint table: two rows of (generation, block, first seq after, bytes)."""
    out = np.zeros((2, 4), dtype=np.int64)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def test_nothing_is_dropped_before_the_first_checkpoint() -> None:
    assert newest_checkpoint_seq([table(), table()]) == 0


def test_the_newest_checkpoint_of_either_seat_decides() -> None:
    a = table((3, 750, 400, 5000), (4, 1125, 610, 5000))
    b = table((1, 1500, 820, 5000))
    assert newest_checkpoint_seq([a, b]) == 820
    assert newest_checkpoint_seq([a, table()]) == 610


def test_a_checkpoint_being_rewritten_does_not_count() -> None:
    a = table((0, 1500, 820, 5000), (4, 1125, 610, 5000))  # generation 0: being written
    assert newest_checkpoint_seq([a, table()]) == 610
