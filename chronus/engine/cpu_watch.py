"""Which CPUs are held up right now: a stamp per CPU, renewed every 0.5 ms from that CPU.

On a virtual machine the host takes a virtual CPU away now and then (on the development VM
a few times a second, for 3–150 ms). A slot on that CPU stops mid-block, and nothing it
does shows it: the kernel still has it running. So one tiny process per CPU, pinned there
at the highest SCHED_FIFO priority, writes the time into shared memory every 0.5 ms. A
stamp older than `STALE_NS` means that CPU ran nothing for that long: held up by the host
(a module in an endless loop does not stop the stamper, which preempts it).

Each stamper also keeps the history a stamp cannot: how many times its CPU stalled so (a
host stall), when the last stall ended and the longest. The audio I/O reads it when the
device reports an xrun, to tell the host's xruns from its own: on the development VM every
xrun, of chronus or of a callback that only fills zeros, came within 3.1 ms of a host stall.

Only realtime stampers mean anything (at normal priority the slots would starve them); a
stamper that cannot get SCHED_FIFO writes 0 and readers ignore its CPU.
"""

from __future__ import annotations

import os
import time
from enum import IntEnum
from typing import TYPE_CHECKING, Final

from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.engine.rings import SharedCounters, unique_name
from chronus.engine.titles import set_title

if TYPE_CHECKING:
    from chronus.engine.launcher import ChildProcess, Launcher

__all__ = [
    "STALE_NS",
    "STAMP_EVERY_S",
    "XRUN_AFTER_STALL_PERIODS",
    "CpuField",
    "CpuStamps",
    "CpuWatch",
    "XrunTagger",
    "seat_cpu",
]

STAMP_EVERY_S: Final = 0.0005
STALE_NS: Final = 1_500_000
"""Three missed stamps: more than the wake-up delay of an idle virtual CPU (0.6 ms seen)."""
STAMPER_PRIORITY: Final = 99
XRUN_AFTER_STALL_PERIODS: Final = 2
"""A device flags an xrun on the callback after the cycle it missed: within a period of the
stall's end (3.1 ms seen at 2.67 ms), so two periods, plus a stamp's staleness, cover it."""
_NOT_REALTIME: Final = 0


class CpuField(IntEnum):
    """The int64 fields of one CPU's row in `CpuStamps`."""

    STAMP = 0
    """CLOCK_MONOTONIC ns of the stamper's last run on that CPU (0: not realtime)."""
    STALLS = 1
    """Host stalls: how many times the stamper found its own last stamp older than `STALE_NS`."""
    LAST_STALL_END_NS = 2
    LONGEST_STALL_NS = 3
    SIZE = 4


def seat_cpu(seat: int) -> int:
    """The CPU a slot of `seat` is pinned to (see `slot._pin`); −1 on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[seat % len(cpus)] if len(cpus) > 1 else -1


class CpuStamps:
    """One row of `CpuField`s per CPU number, in shared memory, each written by its stamper."""

    def __init__(self, counters: SharedCounters) -> None:
        self._counters = counters
        self.values = counters.values
        self.cpus = len(self.values) // CpuField.SIZE

    @staticmethod
    def size() -> int:
        """The int64 count of the block: a row for every CPU number."""
        return (os.cpu_count() or 1) * CpuField.SIZE

    @classmethod
    def attach(cls, name: str) -> CpuStamps:
        """Attach to the stamps a `CpuWatch` made."""
        return cls(SharedCounters.attach(name, cls.size()))

    @property
    def name(self) -> str:
        """The shared memory's name, for `attach`."""
        return self._counters.name

    def stamp(self, cpu: int) -> int:
        """When `cpu` last ran its stamper (CLOCK_MONOTONIC ns; 0 if it is not realtime)."""
        return int(self.values[cpu * CpuField.SIZE + CpuField.STAMP])

    def held_up(self, cpu: int, now_ns: int) -> bool:
        """Whether `cpu` has run nothing (not even its stamper) for `STALE_NS` up to `now_ns`."""
        if not 0 <= cpu < self.cpus:
            return False
        stamp = self.stamp(cpu)
        return stamp != _NOT_REALTIME and now_ns - stamp > STALE_NS

    def stalled_within(self, now_ns: int, window_ns: int) -> bool:
        """Whether some CPU is held up now, or its last host stall ended within `window_ns`."""
        v = self.values
        for row in range(0, self.cpus * CpuField.SIZE, CpuField.SIZE):
            stamp = v[row + CpuField.STAMP]
            if stamp == _NOT_REALTIME:
                continue
            if now_ns - stamp > STALE_NS:
                return True
            if now_ns - v[row + CpuField.LAST_STALL_END_NS] <= window_ns:
                return True
        return False

    @property
    def realtime(self) -> bool:
        """Whether some stamper runs (without one, nothing here can be told)."""
        return any(self.stamp(cpu) != _NOT_REALTIME for cpu in range(self.cpus))

    def stalls(self) -> dict[str, float]:
        """How many host stalls the stampers saw since they started, and the longest."""
        rows = self.values.reshape(self.cpus, CpuField.SIZE)
        return {
            "count": int(rows[:, CpuField.STALLS].sum()),
            "longest_ms": round(int(rows[:, CpuField.LONGEST_STALL_NS].max()) / 1e6, 3),
        }

    def close(self) -> None:
        """Detach (and free, for the owner)."""
        del self.values  # a view of the segment would keep it from closing
        self._counters.close()


class XrunTagger:
    """Tells an xrun the host caused from one it did not, as the device reports each.

    The host's: a CPU stalled now, or a host stall ended within `XRUN_AFTER_STALL_PERIODS`
    periods plus `STALE_NS`, or another xrun put on the host came within that window (JACK's
    timed driver, catching up after a stall, can run late again periods on: seen, an xrun
    6.9 ms after the stall's end, its callback 5.5 ms after the one before).
    """

    def __init__(self, stamps: CpuStamps, period_ns: int) -> None:
        self._stamps = stamps
        self._window_ns = XRUN_AFTER_STALL_PERIODS * period_ns + STALE_NS
        self._last_hosts_ns = -(1 << 62)

    def is_hosts(self, now_ns: int) -> bool:
        """Whether an xrun flagged at `now_ns` is the host's (and remember it if so)."""
        if now_ns - self._last_hosts_ns <= self._window_ns or self._stamps.stalled_within(
            now_ns, self._window_ns
        ):
            self._last_hosts_ns = now_ns
            return True
        return False


def _stamp(name: str, cpu: int) -> None:
    """A stamper's life: pinned to `cpu`, realtime, renewing its stamp until orphaned."""
    set_title(f"cpu stamper {cpu}")
    die_with_parent()
    stamps = CpuStamps.attach(name)
    os.sched_setaffinity(0, {cpu})
    row = stamps.values[cpu * CpuField.SIZE : (cpu + 1) * CpuField.SIZE]
    if not try_realtime(STAMPER_PRIORITY):
        row[CpuField.STAMP] = _NOT_REALTIME
        return
    clock, sleep = time.monotonic_ns, time.sleep
    last = clock()
    while True:
        now = clock()
        held = now - last
        if held > STALE_NS:
            # The end first: a reader that sees the fresh stamp must see this stall too.
            row[CpuField.LAST_STALL_END_NS] = now
            row[CpuField.LONGEST_STALL_NS] = max(held, int(row[CpuField.LONGEST_STALL_NS]))
            row[CpuField.STALLS] += 1
        row[CpuField.STAMP] = now
        last = now
        sleep(STAMP_EVERY_S)


class CpuWatch:
    """The stamps and their stampers, owned by the supervisor."""

    def __init__(self, launcher: Launcher) -> None:
        self.stamps = CpuStamps(SharedCounters.create(unique_name("cpus"), CpuStamps.size()))
        self._stampers: list[ChildProcess] = []
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return  # one CPU: both slots share it, and there is no other to cover from
        try:
            for cpu in cpus:
                stamper = launcher.start(
                    _stamp, (self.stamps.name, cpu), f"chronus-cpu{cpu}", daemon=True
                )
                self._stampers.append(stamper)
        except BaseException:  # no launch, or a start interrupted: nothing is left behind
            self.close()
            raise

    @classmethod
    def adopt(cls, name: str, stampers: list[ChildProcess]) -> CpuWatch:
        """The stamps and stampers a supervisor before this one made (they outlived it)."""
        watch = cls.__new__(cls)
        counters = SharedCounters.attach(name, CpuStamps.size())
        counters.adopt()
        watch.stamps = CpuStamps(counters)
        watch._stampers = stampers
        return watch

    @property
    def pids(self) -> list[int]:
        """The stampers' process ids (none on a single CPU)."""
        return [int(stamper.pid or 0) for stamper in self._stampers]

    def close(self) -> None:
        """Stop the stampers and free the stamps."""
        for stamper in self._stampers:
            stamper.kill()
        for stamper in self._stampers:
            stamper.join(3.0)
        self.stamps.close()
