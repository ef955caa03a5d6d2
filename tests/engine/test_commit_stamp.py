"""Where the session log puts a commit: where the standby applied it.

The supervisor stamps a commit one block past what the slots had rendered, then pushes it to
the standby. Held up between the two (a loaded machine), it finds the standby past the stamp,
and the standby applies the change at the first sample it can. The log must say that sample:
an offline render applies a commit's commands at the commit's line, and a change applied a
few blocks late sounds different (measured: −50 dB for six seconds after a commit in a loaded
chaos soak, before this).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from chronus.dsp.patch import Patch
from chronus.engine.commit import WARM_BLOCKS, CommitFlow
from chronus.engine.seats import SeatState
from chronus.engine.stats import ControlField, IoField, SlotField
from chronus.protocol import validate

BLOCK = 128


class _Counters:
    def __init__(self, size: int) -> None:
        self.values = np.zeros(size, np.int64)


def _seat(index: int) -> Any:
    ring = SimpleNamespace(write_pos=0, capacity=64, sounding=np.ones(64, bool))
    counters = _Counters(int(SlotField.SIZE))
    counters.values[SlotField.TIMING_COUNT] = WARM_BLOCKS  # renders of no time: in budget
    return SimpleNamespace(
        index=index, in_step=True, worker=object(), state=SeatState.RUNNING, ring=ring,
        counters=counters,
    )  # fmt: skip


class _Keeper:
    """The standby applies solo commands `late` samples after their stamp."""

    def __init__(self, late: int) -> None:
        self.seats = [_seat(0), _seat(1)]
        self.active = self.seats[0]
        self.late = late
        self.diverging = False
        self.last_failover_block = -1
        self.rendered = 100
        self._applied: dict[int, int] = {}
        self._seq = 0

    def next_stamp(self) -> int:
        return (self.rendered + 1) * BLOCK

    def push_to(self, seat: Any, stamp: int, payload: bytes) -> int:
        seq, self._seq = self._seq, self._seq + 1
        self._applied[seq] = stamp + self.late
        return seq

    def applied_at(self, seq: int) -> int | None:
        return self._applied.get(seq)

    def retire(self, seat: Any, why: str) -> None:
        seat.worker = None


def _commit(late: int) -> tuple[int, int]:
    keeper = _Keeper(late)
    control, io = _Counters(int(ControlField.SIZE)), _Counters(int(IoField.SIZE))
    flow = CommitFlow(keeper, control, io, BLOCK, 48000)  # type: ignore[arg-type]
    patch = Patch()
    patch.apply(validate("/patch/create", ("bass", "saw")))
    flow.begin(patch)
    flow.stage(validate("/mod/bass/cutoff", (900.0,)))
    flow.stage(validate("/mod/bass/res", (0.5,)))
    flow.commit(50.0, None)
    for seat in keeper.seats:
        seat.ring.write_pos = keeper.rendered + WARM_BLOCKS + 10
    assert flow.tick() is None  # tested: the crossfade is set
    io.values[IoField.CONSUMED] = 10**6
    result = flow.tick()
    assert result is not None and result.ok, result
    return result.stamp, result.switch


def test_a_commit_in_time_is_logged_at_its_stamp() -> None:
    stamp, switch = _commit(late=0)
    assert stamp == 101 * BLOCK
    assert switch >= stamp


def test_a_commit_the_standby_applied_late_is_logged_where_it_applied() -> None:
    stamp, switch = _commit(late=3 * BLOCK + 17)
    assert stamp == 101 * BLOCK + 3 * BLOCK + 17
    assert switch >= stamp
