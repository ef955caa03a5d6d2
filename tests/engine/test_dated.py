"""Dated bundles: where each goes (late, now, wait, too far) and the queue that holds them."""

from __future__ import annotations

from chronus.engine.dated import (
    MAX_AHEAD_S,
    MAX_WAITING,
    RELEASE_AHEAD_S,
    DatedQueue,
    Placement,
    placement,
)

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
