"""State captures that do not hold the slot up: a forked child serialises the state.

A slot hands its state over (a join's snapshot, a checkpoint) at a block boundary. Captured in
place, that costs the slot the whole serialisation: under a millisecond for a small patch, but
tens of milliseconds for a hundred chains, and the active slot, alone while a standby joins,
would leave the device without blocks meanwhile. `fork()` copies only page tables (a few
milliseconds for hundreds of megabytes) and the child sees every array exactly as it was at
the boundary, copy-on-write, while the slot renders on; the child serialises at a low
priority on whatever CPU is idle, writes the shared memory and exits. Redis writes its
snapshots the same way.

A small state is still captured in place, where that is cheaper than a fork.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from chronus.engine.lifecycle import die_with_parent

__all__ = ["FORK_ABOVE_NS", "Capturer"]

FORK_ABOVE_NS = 1_000_000
"""A capture that last took longer than this in place is made in a forked child next time."""

_CHILD_NICE = 10


class Capturer:
    """Runs one capture at a time, in place or in a forked child; `poll` reaps the child."""

    def __init__(self) -> None:
        self.child = 0
        """The pid of the child capturing now, 0 if none."""
        self.in_place_ns = 0
        """How long the last capture made in place took (0: none made yet)."""
        self.fork_ns = 0
        """How long the last fork held this process up (0: none made yet)."""

    @property
    def busy(self) -> bool:
        """Whether a child is still capturing."""
        return self.child != 0

    @property
    def forks_next(self) -> bool:
        """Whether the next capture will be made in a forked child."""
        return self.in_place_ns > FORK_ABOVE_NS

    def run(self, job: Callable[[], None]) -> tuple[int, bool]:
        """Run `job` (which writes the capture to shared memory) and return how long this
        process was held up, in ns, and whether a child runs it. Never while `busy`."""
        began = time.perf_counter_ns()
        if self.in_place_ns <= FORK_ABOVE_NS:
            job()
            self.in_place_ns = max(1, time.perf_counter_ns() - began)
            return self.in_place_ns, False
        pid = os.fork()
        if pid == 0:  # the child: serialise, write, go
            code = 1
            try:
                _step_aside()
                job()
                code = 0
            finally:
                os._exit(code)
        self.child = pid
        self.fork_ns = time.perf_counter_ns() - began
        return self.fork_ns, True

    def poll(self) -> bool:
        """Reap the child if it has finished; True then (and when there is none)."""
        if not self.child:
            return True
        try:
            pid, _ = os.waitpid(self.child, os.WNOHANG)
        except ChildProcessError:
            pid = self.child
        if pid == 0:
            return False
        self.child = 0
        return True


def _step_aside() -> None:
    """In the child: let the slot keep its CPU (first of all: until then the child has the
    slot's real-time priority on the slot's CPU), and die with it."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        os.nice(_CHILD_NICE)
    except (AttributeError, OSError):
        pass
    die_with_parent()
