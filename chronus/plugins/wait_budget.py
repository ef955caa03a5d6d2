"""How long a slot may wait for the hosts of its isolated modules, all of them together.

A slot waits for a host only when the host is in step and still rendering the call the slot
needs now (`SlotLink.collect`), at most `wait_s` (1 ms) a call. Each ring waits on its own,
so with several isolated modules the waits add up inside one block: hosts late together (a
machine that held them all off the CPU) hold the slot one wait each, four of them more than
the 2.67 ms period at 48 kHz / 128, on top of the very stall that made them late. A
`WaitBudget` is shared by every ring a slot plays: it holds at most `cap_s` of waiting and
refills at `rate` seconds a second, so that the waits of any stretch of blocks stay within
`cap_s` + `rate` × its length, however many modules are isolated. A call whose host is late
once the budget is spent is bypassed at once (logged like any bypass, so an offline render
decides it alike).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["CAP_S", "LEAST_S", "RATE", "WaitBudget"]

CAP_S: Final = 0.001
"""The most a slot waits for hosts at a stretch: one call's wait, as a single module had."""
RATE: Final = 0.1
"""Waiting earned per second of wall time: a tenth (0.27 ms a 128-frame block at 48 kHz)."""
LEAST_S: Final = 0.00005
"""A wait shorter than this is not worth its system call: the call is bypassed instead."""


class WaitBudget:
    """Waiting left for a slot's hosts: granted before a wait, spent after it."""

    def __init__(
        self,
        cap_s: float = CAP_S,
        rate: float = RATE,
        clock: Callable[[], int] = time.monotonic_ns,
        least_s: float = LEAST_S,
    ) -> None:
        self.cap_ns = int(cap_s * 1e9)
        self.rate = rate
        self.clock = clock
        self.least_ns = int(least_s * 1e9)
        self.left_ns = self.cap_ns
        self._at_ns = clock()

    def grant(self, want_s: float) -> float:
        """How long the caller may wait now, at most `want_s` seconds (0.0: not at all)."""
        now = self.clock()
        earned = int((now - self._at_ns) * self.rate)
        self.left_ns = min(self.cap_ns, self.left_ns + earned)
        self._at_ns = now
        if self.left_ns < self.least_ns:
            return 0.0
        return min(want_s, self.left_ns / 1e9)

    def spend(self, took_ns: int) -> None:
        """A wait granted took `took_ns` (its overshoot counts too)."""
        self.left_ns = max(0, self.left_ns - took_ns)
