"""The CPU time other processes' realtime threads took while a realtime test ran.

`tests.stalls.StallMonitor` sees the host taking a CPU away (its SCHED_FIFO 99 sleepers stop
too), not another process's realtime threads taking it: on a machine shared by several
engineers, their engines, JACK servers and tests run at SCHED_FIFO 60–70 as well, and a
slot of this test's engine (SCHED_FIFO 60) waits while one of theirs runs on its CPU. A run
saw both slots of a test's engine 357 blocks behind while the sleepers saw only 50 ms gaps,
each second: the kernel's realtime throttling (`sched_rt_runtime_us`, 95 %), so realtime
threads had held both CPUs for the rest of that second. Each millisecond of such CPU time
can hold one of the engine's renderers up a millisecond, no more; so underruns within what
it can cost are not the engine's, and beyond it they are. On a machine where the test runs
alone (CI) it measures 0 and bounds nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from tests.processes import descendants
from tests.stalls import StallMonitor

__all__ = ["ForeignRealtime", "blocks_explained"]

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
_REALTIME_POLICIES = {1, 2}  # SCHED_FIFO, SCHED_RR


def _threads() -> dict[tuple[int, int], tuple[int, int, int]]:
    """Every thread now: (pid, tid) → (CPU ticks used, policy, realtime priority)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        found[(int(stat.parts[2]), int(stat.parts[4]))] = (ticks, int(fields[38]), int(fields[37]))
    return found


class ForeignRealtime:
    """Context manager: the CPU time used by realtime threads at or above `priority` outside
    this process and its descendants (the test's engines), while the block ran."""

    def __init__(self, priority: int) -> None:
        self.priority = priority
        self.used_ms = 0.0
        self.by_process: dict[str, float] = {}
        """The largest users (process title → ms), to tell who it was."""
        self._before: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._ours: set[int] = set()

    def __enter__(self) -> ForeignRealtime:
        self._ours = descendants(os.getpid()) | {os.getpid()}
        self._before = _threads()
        return self

    def __exit__(self, *exc: object) -> None:
        ours = self._ours | descendants(os.getpid())
        for (pid, tid), (ticks, policy, priority) in _threads().items():
            if pid in ours or policy not in _REALTIME_POLICIES or priority < self.priority:
                continue
            used = (ticks - self._before.get((pid, tid), (0, 0, 0))[0]) * _TICK_MS
            if used > 0:
                self.used_ms += used
                title = _title(pid)
                self.by_process[title] = self.by_process.get(title, 0.0) + used

    def blocks_bound(self, block_ms: float) -> int:
        """The most blocks that CPU time can have cost one renderer."""
        return math.ceil(self.used_ms / block_ms)


def _title(pid: int) -> str:
    try:
        name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        name = "?"
    return f"{pid} {name[:40]}"


def blocks_explained(host: StallMonitor, others: ForeignRealtime, block_ms: float) -> int:
    """The most blocks the host's stalls and other processes' realtime threads together can
    have cost one renderer."""
    return host.blocks_bound(block_ms) + others.blocks_bound(block_ms)
