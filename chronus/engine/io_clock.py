"""The sample clock while no audio I/O plays: a stand-in moves it, a new I/O takes it back.

The consumed-block counter (`IoField.CONSUMED`) is the engine's master clock, and
`IoField.LAST_BLOCK_NS` the time the block before it was played. When the audio I/O dies,
the supervisor's `StandIn` goes on moving the clock on the same grid, one period per block,
as if the device still took blocks: it posts the slots' wakes, so the slots render every
block as before (the session log's stamps keep their meaning and an offline render of it
gives the same samples), and it counts the blocks as missed instead of played. The
recording gets no block for them; the recorder writes silence in their place, so the file
stays on the sample clock.

A new I/O opens its device while the stand-in still holds the clock (`IoField.CLOCK_HELD`):
it writes silence and counts `IoField.WAITING_CALLBACKS`. The supervisor then moves the clock
one last time and lets go of it; from its next callback on, the I/O owns the clock, and in
its first one it skips the blocks that fell due meanwhile (`resume_skip`) and plays the one
due now. Nothing is played late: output resumes on the clock it would have had. Only one
process writes the clock at a time: the stand-in while `CLOCK_HELD` is set, the I/O after.
"""

from __future__ import annotations

from multiprocessing.synchronize import Semaphore
from typing import Final

import numpy as np
import numpy.typing as npt

from chronus.engine.rings import AudioRing
from chronus.engine.stats import IoField

__all__ = ["MAX_STEP_BLOCKS", "StandIn", "blocks_due", "resume_skip"]

MAX_STEP_BLOCKS: Final = 1 << 20
"""The most blocks one step of the stand-in moves the clock (a guard against a bad time)."""


def blocks_due(last_ns: int, now_ns: int, period_ns: int) -> int:
    """How many blocks fell due after the one played at `last_ns`, up to `now_ns`.

    Block *j* after it (1-based) is due at ``last_ns + j * period_ns``.

    >>> blocks_due(1000, 1000, 10), blocks_due(1000, 1009, 10), blocks_due(1000, 1010, 10)
    (0, 0, 1)
    >>> blocks_due(1000, 1055, 10), blocks_due(1000, 900, 10)
    (5, 0)
    """
    if period_ns <= 0 or now_ns <= last_ns:
        return 0
    return (now_ns - last_ns) // period_ns


def resume_skip(last_ns: int, now_ns: int, period_ns: int) -> int:
    """Blocks a resuming I/O skips in its first callback at `now_ns`: all those due but the
    last, which it plays now (none if no block has been played yet: `last_ns` 0).

    >>> resume_skip(1000, 1015, 10), resume_skip(1000, 1055, 10), resume_skip(0, 1055, 10)
    (0, 4, 0)
    """
    if last_ns <= 0:
        return 0
    return max(0, blocks_due(last_ns, now_ns, period_ns) - 1)


def advance(
    v: npt.NDArray[np.int64], rings: tuple[AudioRing, AudioRing], blocks: int, period_ns: int
) -> None:
    """Move the clock `blocks` blocks on, none of them played: `CONSUMED`, the rings' read
    positions and `LAST_BLOCK_NS` (on its grid), and count them missed."""
    if blocks <= 0:
        return
    k = int(v[IoField.CONSUMED]) + blocks
    v[IoField.BLOCKS_MISSED] += blocks
    v[IoField.LAST_BLOCK_NS] += blocks * period_ns
    v[IoField.CONSUMED] = k
    for ring in rings:
        ring.header[AudioRing.READ] = k


class StandIn:
    """The supervisor's side: holds the clock while no I/O plays, and lets it go."""

    def __init__(
        self,
        v: npt.NDArray[np.int64],
        rings: tuple[AudioRing, AudioRing],
        wakes: tuple[Semaphore, Semaphore],
        period_ns: int,
    ) -> None:
        self._v = v
        self._rings = rings
        self._wakes = wakes
        self._period_ns = period_ns

    @property
    def holding(self) -> bool:
        """Whether the stand-in holds the clock."""
        return bool(self._v[IoField.CLOCK_HELD])

    def hold(self, now_ns: int) -> None:
        """Take the clock (its I/O is dead): from now on `step` moves it."""
        v = self._v
        if not v[IoField.LAST_BLOCK_NS]:
            v[IoField.LAST_BLOCK_NS] = now_ns  # it died before its first block
        v[IoField.WAITING_CALLBACKS] = 0
        v[IoField.CLOCK_HELD] = 1

    def step(self, now_ns: int) -> int:
        """Move the clock to `now_ns` and wake the slots; the blocks it moved."""
        if not self.holding:
            return 0
        v = self._v
        due = min(blocks_due(int(v[IoField.LAST_BLOCK_NS]), now_ns, self._period_ns),
                  MAX_STEP_BLOCKS)  # fmt: skip
        if due:
            advance(v, self._rings, due, self._period_ns)
            for wake in self._wakes:
                wake.release()
        return due

    def ready_to_hand_over(self) -> bool:
        """Whether a new I/O's device is calling back (and waits for the clock)."""
        return self.holding and self._v[IoField.WAITING_CALLBACKS] > 0

    def let_go(self, now_ns: int) -> None:
        """Move the clock to `now_ns` one last time and hand it to the I/O."""
        self.step(now_ns)
        self._v[IoField.CLOCK_HELD] = 0  # last: the I/O that sees it sees the clock moved
