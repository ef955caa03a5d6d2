"""The audio I/O's underruns over a whole run, gathered into spells, for a post-mortem.

The I/O keeps only its last `UNDERRUN_LOG_ENTRIES` underruns (`stats.underrun_log`); a run
that lost two thousand blocks in one burst shows eight of them. The supervisor reads that
log every turn of its serve loop and folds each new underrun into a spell: underruns less
than `SPELL_GAP_S` apart are one spell, told by when it was first seen (CLOCK_MONOTONIC, the
clock tests and host-stall monitors use), its blocks, how many, which seat was active, how
far behind each seat was at worst, and the causes the callback gaps say. Underruns that came
and went between two reads (more than the log holds) are counted in the spell as
`unlisted`.

>>> spells = UnderrunSpells(block=128, rate=48000)
>>> spells.add({"block": 10, "active": "A", "behind": {"A": 1, "B": 2}, "cause": "slots"}, 5)
>>> spells.add({"block": 12, "active": "A", "behind": {"A": 3, "B": 1}, "cause": "slots"}, 6)
>>> spells.add({"block": 9000, "active": "B", "behind": {"A": 0, "B": 1}, "cause": "late"}, 9)
>>> [(s["first_block"], s["last_block"], s["count"], s["behind_max"]) for s in spells.rows()]
[(10, 12, 2, {'A': 3, 'B': 2}), (9000, 9000, 1, {'A': 0, 'B': 1})]
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from chronus.engine.stats import IoField, underrun_log

__all__ = ["SPELL_GAP_S", "UnderrunSpells"]

SPELL_GAP_S: Final = 0.1
"""Underruns closer together than this (by their blocks) belong to one spell."""
KEPT_SPELLS: Final = 64


class UnderrunSpells:
    """The underruns seen so far, as spells (the latest `KEPT_SPELLS`)."""

    def __init__(self, block: int, rate: int, keep: int = KEPT_SPELLS) -> None:
        self._gap_blocks = max(1, round(SPELL_GAP_S * rate / block))
        self._spells: deque[dict[str, Any]] = deque(maxlen=keep)
        self._block = block
        self._rate = rate
        self._seen = -1
        """The I/O's underrun count at the last read (-1: not read yet)."""

    def update(self, values: npt.NDArray[np.int64], now_ns: int) -> None:
        """Fold in the underruns the I/O counted since the last call (`values`: its counters)."""
        count = int(values[IoField.UNDERRUNS])
        if self._seen < 0 or count < self._seen:
            self._seen = count  # the first read (or a new segment): what came before is not ours
            return
        new = count - self._seen
        if new == 0:
            return
        self._seen = count
        rows = underrun_log(values, self._block, self._rate)[-new:]
        for row in rows:
            self.add(row, now_ns)
        if new > len(rows) and self._spells:
            self._spells[-1]["unlisted"] += new - len(rows)
            self._spells[-1]["count"] += new - len(rows)

    def add(self, row: dict[str, Any], now_ns: int) -> None:
        """Fold in one underrun (a row of `underrun_log`), seen at `now_ns`."""
        k = int(row["block"])
        last = self._spells[-1] if self._spells else None
        gap = self._gap_blocks  # the I/O's blocks need not rise (a burst is caught up later)
        if last is None or not last["first_block"] - gap <= k <= last["last_block"] + gap:
            last = {
                "seen_s": round(now_ns / 1e9, 3), "first_block": k, "last_block": k,
                "count": 0, "unlisted": 0, "active": "", "behind_max": {"A": 0, "B": 0},
                "causes": {},
            }  # fmt: skip
            self._spells.append(last)
        last["first_block"] = min(last["first_block"], k)
        last["last_block"] = max(last["last_block"], k)
        last["count"] += 1
        if row["active"] not in last["active"]:
            last["active"] += row["active"]
        for seat, behind in row["behind"].items():
            last["behind_max"][seat] = max(last["behind_max"][seat], int(behind))
        last["causes"][row["cause"]] = last["causes"].get(row["cause"], 0) + 1

    def rows(self) -> list[dict[str, Any]]:
        """The spells kept, oldest first (copies)."""
        return [
            {**spell, "behind_max": dict(spell["behind_max"]), "causes": dict(spell["causes"])}
            for spell in self._spells
        ]
