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
import threading
from pathlib import Path

from tests.processes import below
from tests.stalls import StallMonitor

__all__ = ["TICK_MS", "ForeignRealtime", "blocks_explained", "process_title", "scan_threads"]

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
_REALTIME_POLICIES = {1, 2}  # SCHED_FIFO, SCHED_RR
SAMPLE_S = 0.5
"""How often the threads are read while the block runs: the realtime CPU of a thread that
ends (another test's engine quits) is counted up to its last reading, so at most this much
of it is missed. A reading costs ~7 ms of CPU (300 threads)."""

_Thread = tuple[int, int]
"""(pid, tid)"""


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def scan_threads() -> tuple[dict[_Thread, tuple[int, int, int]], dict[int, int]]:
    """Every thread now, (pid, tid) → (CPU ticks used, policy, realtime priority), and every
    process's parent."""
    found: dict[_Thread, tuple[int, int, int]] = {}
    parents: dict[int, int] = {}
    with os.scandir("/proc") as processes:
        for process in processes:
            if not process.name.isdigit():
                continue
            pid = int(process.name)
            try:
                with os.scandir(f"/proc/{pid}/task") as tasks:
                    tids = [int(task.name) for task in tasks]
            except OSError:
                continue
            for tid in tids:
                try:
                    fields = _read(f"/proc/{pid}/task/{tid}/stat").rsplit(b")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if tid == pid:
                    parents[pid] = int(fields[1])
                found[(pid, tid)] = (int(fields[11]) + int(fields[12]), int(fields[38]),
                                     int(fields[37]))  # fmt: skip
    return found, parents


class ForeignRealtime:
    """Context manager: the CPU time used by realtime threads at or above `priority` outside
    this process and its descendants (the test's engines), while the block ran.

    The threads are read at the start, every `SAMPLE_S` and at the end: a thread that ends
    meanwhile (another test's engine that quits) counts up to its last reading, one that
    starts counts from zero, and a process is this test's if it was below this one at any
    reading (a slot the test killed is not another's)."""

    def __init__(self, priority: int) -> None:
        self.priority = priority
        self.used_ms = 0.0
        self.by_process: dict[str, float] = {}
        """The largest users (process title → ms), to tell who it was."""
        self._before: dict[_Thread, int] = {}
        self._last: dict[_Thread, int] = {}
        """Each foreign realtime thread's CPU ticks at its last reading."""
        self._titles: dict[int, str] = {}
        self._ours: set[int] = set()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ForeignRealtime:
        found, parents = scan_threads()
        self._ours = below(os.getpid(), parents) | {os.getpid()}
        self._before = {thread: ticks for thread, (ticks, _, _) in found.items()}
        self._reader = threading.Thread(target=self._read_on, daemon=True)
        self._reader.start()
        return self

    def _read_on(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._take(*scan_threads())

    def _take(self, found: dict[_Thread, tuple[int, int, int]], parents: dict[int, int]) -> None:
        with self._lock:
            self._ours |= below(os.getpid(), parents)
            for thread, (ticks, policy, priority) in found.items():
                if policy in _REALTIME_POLICIES and priority >= self.priority:
                    self._last[thread] = ticks
                    if thread[0] not in self._titles:
                        self._titles[thread[0]] = process_title(thread[0])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        self._take(*scan_threads())
        for (pid, tid), ticks in self._last.items():
            if pid in self._ours:
                continue
            used = (ticks - self._before.get((pid, tid), 0)) * TICK_MS
            if used > 0:
                self.used_ms += used
                title = self._titles.get(pid, f"{pid} ?")
                self.by_process[title] = self.by_process.get(title, 0.0) + used

    def blocks_bound(self, block_ms: float) -> int:
        """The most blocks that CPU time can have cost one renderer."""
        return math.ceil(self.used_ms / block_ms)


def process_title(pid: int) -> str:
    try:
        name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        name = "?"
    return f"{pid} {name[:40]}"


def blocks_explained(host: StallMonitor, others: ForeignRealtime, block_ms: float) -> int:
    """The most blocks the host's stalls and other processes' realtime threads together can
    have cost one renderer."""
    return host.blocks_bound(block_ms) + others.blocks_bound(block_ms)
