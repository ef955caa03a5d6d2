"""Underrun spells: every underrun of a run, from the I/O's short log, read turn by turn."""

from __future__ import annotations

import doctest

import numpy as np
import numpy.typing as npt

from chronus.engine import underrun_spells
from chronus.engine.stats import UNDERRUN_LOG_ENTRIES, IoField, underrun_row
from chronus.engine.underrun_spells import UnderrunSpells

RATE, BLOCK = 48000, 128
PERIOD_NS = 1_000_000_000 * BLOCK // RATE


def _underrun(v: npt.NDArray[np.int64], k: int, active: int, behind: tuple[int, int]) -> None:
    """What the audio I/O writes for an underrun of block `k` (as `BlockPump` does)."""
    n = int(v[IoField.UNDERRUNS]) + 1
    row = underrun_row(n)
    v[row : row + 5] = [k, PERIOD_NS, active, k + 1 - behind[0], k + 1 - behind[1]]
    v[IoField.UNDERRUNS] = n


def test_underruns_close_together_are_one_spell_and_far_ones_another() -> None:
    v = np.zeros(IoField.SIZE, dtype=np.int64)
    spells = UnderrunSpells(BLOCK, RATE)
    _underrun(v, 3, 0, (1, 1))  # before the first read: not this reader's
    spells.update(v, 1_000_000_000)
    for k in (100, 101, 103):
        _underrun(v, k, 0, (k - 99, 0))
    spells.update(v, 2_000_000_000)
    _underrun(v, 110, 1, (0, 2))
    _underrun(v, 98, 1, (0, 1))  # an earlier block, told later: the same spell
    spells.update(v, 2_010_000_000)
    _underrun(v, 5000, 1, (0, 1))
    spells.update(v, 15_000_000_000)
    spells.update(v, 16_000_000_000)  # nothing new
    rows = spells.rows()
    assert [(s["first_block"], s["last_block"], s["count"]) for s in rows] == [
        (98, 110, 5),
        (5000, 5000, 1),
    ]
    first = rows[0]
    assert first["seen_s"] == 2.0 and first["active"] == "AB" and first["unlisted"] == 0
    assert first["behind_max"] == {"A": 4, "B": 2}
    assert first["causes"] == {"slots": 5}


def test_underruns_beyond_the_log_between_two_reads_are_counted_unlisted() -> None:
    v = np.zeros(IoField.SIZE, dtype=np.int64)
    spells = UnderrunSpells(BLOCK, RATE)
    spells.update(v, 0)
    burst = UNDERRUN_LOG_ENTRIES + 30
    for k in range(1000, 1000 + burst):
        _underrun(v, k, 0, (1, 1))
    spells.update(v, 1_000_000_000)
    (spell,) = spells.rows()
    assert spell["count"] == burst
    assert spell["unlisted"] == burst - UNDERRUN_LOG_ENTRIES
    assert spell["last_block"] == 1000 + burst - 1


def test_doctests() -> None:
    assert doctest.testmod(underrun_spells).failed == 0
