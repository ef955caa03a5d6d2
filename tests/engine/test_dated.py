"""Dated bundles: where each goes (late, now, wait, too far) and the queue that holds them."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from chronus.engine.dated import (
    MAX_AHEAD_S,
    MAX_WAITING,
    RELEASE_AHEAD_S,
    DatedBundles,
    DatedQueue,
    Placement,
    clock_reading,
    placement,
)
from chronus.engine.sample_clock import ntp_of_unix
from chronus.engine.stats import IoField
from chronus.protocol import validate

RATE = 48000


def test_placement_at_its_bounds() -> None:
    earliest = 96_000
    near = earliest + round(RELEASE_AHEAD_S * RATE)
    far = earliest + round(MAX_AHEAD_S * RATE)
    assert placement(earliest - 1, earliest, RATE) is Placement.LATE
    assert placement(earliest, earliest, RATE) is Placement.NOW
    assert placement(near - 1, earliest, RATE) is Placement.NOW
    assert placement(near, earliest, RATE) is Placement.WAIT
    assert placement(far, earliest, RATE) is Placement.WAIT
    assert placement(far + 1, earliest, RATE) is Placement.TOO_FAR
    next_year = earliest + 365 * 86400 * RATE
    assert placement(next_year, earliest, RATE) is Placement.TOO_FAR


def test_bundles_come_out_soonest_first_and_in_arrival_order_at_one_sample() -> None:
    queue: DatedQueue[str] = DatedQueue()
    queue.push(2000, ["c"], "x")
    queue.push(1000, ["a"], "x")
    queue.push(2000, ["d", "e"], "y")
    queue.push(1000, ["b"], "y")
    assert queue.next_stamp == 1000 and len(queue) == 5
    assert [d.commands for d in queue.due(1000)] == []  # due strictly before
    assert [(d.stamp, d.commands, d.addr) for d in queue.due(1001)] == [
        (1000, ["a"], "x"),
        (1000, ["b"], "y"),
    ]
    assert [d.commands for d in queue.due(10_000)] == [["c"], ["d", "e"]]
    assert queue.next_stamp is None and len(queue) == 0


def test_the_queue_holds_at_most_its_limit_of_commands() -> None:
    queue: DatedQueue[int] = DatedQueue()
    assert queue.limit == MAX_WAITING
    queue.push(5, list(range(MAX_WAITING - 1)), None)
    assert queue.room(1) and not queue.room(2)
    queue.push(6, [0], None)
    assert not queue.room(1)
    assert queue.clear() == MAX_WAITING and len(queue) == 0 and queue.room(MAX_WAITING)


class _Engine:
    """What `DatedBundles` needs of a supervisor, recorded: a fake audio I/O whose block
    `BLOCKS - 1` began just now, and slots that take commands from the block after next."""

    BLOCKS = 1000

    def __init__(self) -> None:
        self.io = np.zeros(IoField.SIZE, dtype=np.int64)
        self.played: list[tuple[int | None, list[str], Any]] = []
        self.replies: list[tuple[Any, str, tuple[Any, ...]]] = []
        self.errors: list[tuple[Any, str, str]] = []
        self.dated = DatedBundles(
            RATE, 128, self.io, self.earliest,
            lambda stamp, commands, addr: self.played.append(
                (stamp, [m.address for m in commands], addr)
            ),
            lambda addr, address, *args: self.replies.append((addr, address, args)),
            lambda addr, address, text: self.errors.append((addr, address, text)),
        )  # fmt: skip
        self.tick_clock()

    def tick_clock(self) -> None:
        self.io[IoField.CONSUMED] = self.BLOCKS
        self.io[IoField.LAST_BLOCK_NS] = time.monotonic_ns()

    def earliest(self) -> int:
        return (self.BLOCKS + 2) * 128

    def take(self, ahead_s: float, *addresses: str) -> float:
        """Send a bundle dated `ahead_s` from now; the sample its tag names."""
        since_ns = time.monotonic_ns() - int(self.io[IoField.LAST_BLOCK_NS])
        tag = ntp_of_unix(time.time() + ahead_s)
        self.dated.take(tag, [validate(a, (1.0,)) for a in addresses], "client")
        return (self.BLOCKS - 1) * 128 + (since_ns / 1e9 + ahead_s) * RATE


def test_a_bundle_ahead_is_stamped_at_its_sample_or_waits_for_it() -> None:
    engine = _Engine()
    expected = engine.take(0.05, "/mod/a/cutoff", "/mod/b/cutoff")  # within the window: now
    [(stamp, addresses, addr)] = engine.played
    assert abs(stamp - expected) < 0.001 * RATE  # the clocks read a moment apart
    assert addresses == ["/mod/a/cutoff", "/mod/b/cutoff"] and addr == "client"
    engine.take(0.5, "/mod/c/cutoff")  # beyond it: waits
    assert len(engine.played) == 1 and engine.dated.waiting == 1
    assert 0.3 < engine.dated.wait_s(1.0) < 0.5  # woken when it is due to go
    engine.dated.tick()
    assert len(engine.played) == 1  # not yet
    engine.BLOCKS += round(0.45 * RATE / 128)  # 0.45 s later
    engine.tick_clock()
    engine.dated.tick()
    assert [p[1] for p in engine.played] == [["/mod/a/cutoff", "/mod/b/cutoff"], ["/mod/c/cutoff"]]
    assert engine.dated.waiting == 0 and engine.replies == [] and engine.errors == []
    assert engine.dated.bundles == 2 and engine.dated.late == 0


def test_late_far_and_too_many_bundles() -> None:
    engine = _Engine()
    named = engine.take(-0.25, "/mod/a/cutoff")
    [(_, address, (late,))] = engine.replies
    assert address == "/late" and late > 0.25  # and the slots' lead
    assert abs(late - (engine.earliest() - named) / RATE) < 0.001
    assert engine.played == [(None, ["/mod/a/cutoff"], "client")]  # at once
    engine.take(MAX_AHEAD_S + 1, "/mod/b/cutoff")
    engine.take(365 * 86400, "/mod/b/cutoff")  # next year
    assert [e[1] for e in engine.errors] == ["/mod/b/cutoff"] * 2
    assert "61.0 s ahead is refused" in engine.errors[0][2]
    engine.dated._queue.limit = 2
    engine.take(1.0, "/mod/c/cutoff", "/mod/d/cutoff")
    engine.take(2.0, "/mod/e/cutoff")
    assert "engine busy: 2 dated commands wait already" in engine.errors[2][2]
    assert len(engine.played) == 1 and engine.dated.waiting == 2
    assert engine.dated.late == 1 and engine.dated.bundles == 5
    assert engine.dated.clear() == 2


def test_a_bundle_released_after_its_sample_is_late() -> None:
    """The supervisor was held up past the sample of a waiting bundle."""
    engine = _Engine()
    named = engine.take(0.5, "/mod/a/cutoff")
    engine.BLOCKS += round(0.7 * RATE / 128)
    engine.tick_clock()
    engine.dated.tick()
    assert engine.played == [(None, ["/mod/a/cutoff"], "client")]
    [(_, address, (late,))] = engine.replies
    assert address == "/late" and abs(late - (engine.earliest() - named) / RATE) < 0.001


def _take_live(engine: _Engine, ahead_s: float, earliest: int) -> tuple[int, float]:
    """A live input's bundle dated `ahead_s` from now: the room it had, and its sample."""
    since_ns = time.monotonic_ns() - int(engine.io[IoField.LAST_BLOCK_NS])
    tag = ntp_of_unix(time.time() + ahead_s)
    room = engine.dated.take_live(tag, [validate("/note/a", (60, 100))], "midi", earliest)
    return room, (engine.BLOCKS - 1) * 128 + (since_ns / 1e9 + ahead_s) * RATE


def test_a_live_bundle_may_land_in_the_block_a_slot_renders_and_a_late_one_plays_there() -> None:
    engine = _Engine()
    unfinished = engine.BLOCKS * 128  # a slot may be rendering this block: not the earliest
    room, expected = _take_live(engine, 0.004, unfinished)  # in it: at its own sample
    [(stamp, _, addr)] = engine.played
    assert stamp is not None and stamp < engine.earliest() and addr == "midi"
    assert abs(stamp - expected) < 0.0005 * RATE and room == stamp - unfinished
    room, _ = _take_live(engine, -0.01, unfinished)  # before it: late, played at it
    assert room < 0 and engine.played[-1][0] == unfinished
    assert engine.dated.late == 1 and engine.replies == [], "the MIDI process is told nothing"
    room, _ = _take_live(engine, 0.5, unfinished)  # far ahead (a latency asked for): waits
    assert room > 0.4 * RATE and len(engine.played) == 2 and engine.dated.waiting == 1
    assert engine.dated.bundles == 3


class _CountMoves:
    """The I/O's counters as a reader sees them while the I/O hands over one more block
    between the reader's first look at the count and its next."""

    def __init__(self, consumed: int, started_ns: int) -> None:
        self.reads = 0
        self.consumed, self.started_ns = consumed, started_ns

    def __getitem__(self, field: IoField) -> int:
        if field == IoField.CONSUMED:
            self.reads += 1
            if self.reads == 2:  # the block goes: its count, then its start
                self.consumed += 1
                self.started_ns += 2_666_667
            return self.consumed
        assert field == IoField.LAST_BLOCK_NS
        return self.started_ns


def test_a_clock_pair_read_while_the_count_moved_is_no_reading() -> None:
    io = _CountMoves(100, 5_000_000_000)
    assert clock_reading(io) is None  # type: ignore[arg-type]
    assert clock_reading(io) == (101, 5_002_666_667)  # type: ignore[arg-type]
