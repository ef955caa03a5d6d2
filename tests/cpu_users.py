"""Who used the CPUs while a block ran: for a test's message when something there was held
off a CPU (a validation that waited, a commit that came late)."""

from __future__ import annotations

from tests.foreign_realtime import TICK_MS, process_title, scan_threads

__all__ = ["CpuUsers"]

_POLICIES = {0: "", 1: "FIFO", 2: "RR", 3: "batch", 5: "idle"}


class CpuUsers:
    """Context manager: every process's CPU time over the block, read from `/proc` at its
    start and end (a process that ended meanwhile is not seen); `top` names the largest."""

    def __init__(self) -> None:
        self._before: dict[tuple[int, int], int] = {}
        self.used: dict[int, float] = {}
        """ms of CPU by process id."""
        self.realtime: dict[int, str] = {}
        """The processes with a realtime thread: its policy and priority."""
        self.titles: dict[int, str] = {}
        """Each user's title, read at the end (it may be gone by the time one asks)."""

    def __enter__(self) -> CpuUsers:
        found, _ = scan_threads()
        self._before = {thread: ticks for thread, (ticks, _, _) in found.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        found, _ = scan_threads()
        for thread, (ticks, policy, priority) in found.items():
            used = (ticks - self._before.get(thread, 0)) * TICK_MS
            if used > 0:
                self.used[thread[0]] = self.used.get(thread[0], 0.0) + used
                if policy in (1, 2):
                    self.realtime[thread[0]] = f"{_POLICIES[policy]} {priority}"
        self.titles = {pid: process_title(pid) for pid in self.used}

    def top(self, count: int = 8) -> list[str]:
        """The `count` largest users: title, ms, and realtime policy if any."""
        largest = sorted(self.used.items(), key=lambda item: -item[1])[:count]
        return [f"{self.titles[pid]}: {ms:.0f} ms {self.realtime.get(pid, '')}".rstrip()
                for pid, ms in largest]  # fmt: skip
