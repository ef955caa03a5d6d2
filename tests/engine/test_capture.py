"""Captures in place for small states, in a forked child for big ones: the child sees the
state as it was when it was forked, writes shared memory, and is reaped."""

from __future__ import annotations

import os
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from chronus.engine.capture import FORK_ABOVE_NS, Capturer


def _wait(capturer: Capturer) -> None:
    deadline = time.monotonic() + 10
    while not capturer.poll():
        assert time.monotonic() < deadline, "the capturing child never finished"
        time.sleep(0.001)


def test_a_small_capture_is_made_in_place() -> None:
    capturer = Capturer()
    seen: list[int] = []
    stall, forked = capturer.run(lambda: seen.append(1))
    assert seen == [1] and not forked and not capturer.busy
    assert 0 < stall <= FORK_ABOVE_NS
    assert capturer.in_place_ns == stall
    assert not capturer.forks_next and capturer.fork_ns == 0


def test_a_slow_capture_goes_to_a_child_that_sees_the_state_as_it_was() -> None:
    area = shared_memory.SharedMemory(create=True, size=8 * 1000)
    try:
        _child_sees_the_fork_time_state(area)
    finally:
        area.close()
        area.unlink()


def _child_sees_the_fork_time_state(area: shared_memory.SharedMemory) -> None:
    out = np.ndarray((1000,), dtype=np.float64, buffer=area.buf)
    state = np.arange(1000, dtype=np.float64)
    capturer = Capturer()
    capturer.in_place_ns = FORK_ABOVE_NS + 1  # as if the last one had been slow

    def job() -> None:
        time.sleep(0.05)  # the parent changes its state meanwhile
        out[:] = state

    stall, forked = capturer.run(job)
    assert forked and capturer.busy
    state[:] = -1.0  # after the fork: the child must not see this
    assert not capturer.poll()  # still sleeping
    _wait(capturer)
    assert not capturer.busy
    np.testing.assert_array_equal(out, np.arange(1000, dtype=np.float64))
    assert stall < 50_000_000  # the parent was held up for the fork, not the job
    assert capturer.fork_ns == stall and capturer.forks_next


def test_the_capturing_child_leaves_the_slots_cpu_and_priority_and_spawns_nothing(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """The child starts with the slot's SCHED_FIFO priority and CPU: it must give both up
    and must not fork a helper such as `ldconfig` (which `find_library` runs) meanwhile."""
    import ctypes.util

    from chronus.engine import lifecycle

    lifecycle.libc()  # the process loaded its C library once already, as the template does
    marker = tmp_path / "find_library"

    def spy(name: str) -> str | None:
        marker.write_text(name)
        return None

    monkeypatch.setattr(ctypes.util, "find_library", spy)
    area = shared_memory.SharedMemory(create=True, size=16)
    try:
        seen = np.ndarray((2,), dtype=np.int64, buffer=area.buf)
        seen[:] = -1
        capturer = Capturer()
        capturer.in_place_ns = FORK_ABOVE_NS + 1  # as after a slow capture: fork

        def job() -> None:
            seen[0] = os.sched_getscheduler(0)
            seen[1] = len(os.sched_getaffinity(0))

        cpus = os.sched_getaffinity(0)
        policy = os.sched_getscheduler(0)
        os.sched_setaffinity(0, {min(cpus)})  # pinned, as a slot is
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except PermissionError:
            pass  # where real-time is refused, the child's policy is SCHED_OTHER anyway
        try:
            _, forked = capturer.run(job)
        finally:
            os.sched_setscheduler(0, policy, os.sched_param(0))
            os.sched_setaffinity(0, cpus)
        assert forked
        _wait(capturer)
        assert seen[0] == os.SCHED_OTHER
        assert seen[1] == (os.cpu_count() or 1)
        assert not marker.exists(), "the child looked up the C library again"
    finally:
        area.close()
        area.unlink()


def test_an_active_renders_further_ahead_the_longer_its_last_capture_of_that_kind() -> None:
    from chronus.engine.slot import CAPTURE_MARGIN_BLOCKS, _capture_margin

    period = 2_666_666
    capturer = Capturer()
    assert not capturer.forks_next
    assert _capture_margin(capturer, period) == CAPTURE_MARGIN_BLOCKS  # none made yet
    capturer.in_place_ns = period // 4  # in place next: its last time counts, not the fork's
    capturer.fork_ns = 9 * period
    assert _capture_margin(capturer, period) == CAPTURE_MARGIN_BLOCKS
    capturer.in_place_ns = 3 * period + 1  # a slow one (a loaded host): it still forks next
    assert capturer.forks_next
    capturer.fork_ns = period // 2
    assert _capture_margin(capturer, period) == CAPTURE_MARGIN_BLOCKS
    capturer.fork_ns = 3 * period + 1
    assert _capture_margin(capturer, period) == 4
