"""Which CPUs are held up right now: a stamp per CPU, renewed every 0.5 ms from that CPU.

On a virtual machine the host takes a virtual CPU away now and then (on the development VM
a few times a second, for 3–150 ms). A slot on that CPU stops mid-block, and nothing it
does shows it: the kernel still has it running. So one tiny process per CPU, pinned there
at the highest SCHED_FIFO priority, writes the time into shared memory every 0.5 ms. A
stamp older than `STALE_NS` means that CPU ran nothing for that long: held up by the host
(a module in an endless loop does not stop the stamper, which preempts it).

Only realtime stampers mean anything (at normal priority the slots would starve them); a
stamper that cannot get SCHED_FIFO writes 0 and readers ignore its CPU.
"""

from __future__ import annotations

import os
import time
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Final

from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.engine.rings import SharedCounters, unique_name

__all__ = ["STALE_NS", "STAMP_EVERY_S", "CpuStamps", "CpuWatch", "seat_cpu"]

STAMP_EVERY_S: Final = 0.0005
STALE_NS: Final = 1_500_000
"""Three missed stamps: more than the wake-up delay of an idle virtual CPU (0.6 ms seen)."""
STAMPER_PRIORITY: Final = 99
_NOT_REALTIME: Final = 0


def seat_cpu(seat: int) -> int:
    """The CPU a slot of `seat` is pinned to (see `slot._pin`); −1 on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[seat % len(cpus)] if len(cpus) > 1 else -1


class CpuStamps:
    """The stamps, one int64 (CLOCK_MONOTONIC ns) per CPU number, in shared memory."""

    def __init__(self, counters: SharedCounters) -> None:
        self._counters = counters
        self.values = counters.values

    @classmethod
    def attach(cls, name: str) -> CpuStamps:
        """Attach to the stamps a `CpuWatch` made."""
        return cls(SharedCounters.attach(name, os.cpu_count() or 1))

    @property
    def name(self) -> str:
        """The shared memory's name, for `attach`."""
        return self._counters.name

    def held_up(self, cpu: int, now_ns: int) -> bool:
        """Whether `cpu` has run nothing (not even its stamper) for `STALE_NS` up to `now_ns`."""
        if not 0 <= cpu < len(self.values):
            return False
        stamp = int(self.values[cpu])
        return stamp != _NOT_REALTIME and now_ns - stamp > STALE_NS

    def close(self) -> None:
        """Detach (and free, for the owner)."""
        self._counters.close()


def _stamp(name: str, cpu: int) -> None:
    """A stamper's life: pinned to `cpu`, realtime, renewing its stamp until orphaned."""
    die_with_parent()
    stamps = CpuStamps.attach(name)
    os.sched_setaffinity(0, {cpu})
    values = stamps.values
    if not try_realtime(STAMPER_PRIORITY):
        values[cpu] = _NOT_REALTIME
        return
    clock, sleep = time.monotonic_ns, time.sleep
    while True:
        values[cpu] = clock()
        sleep(STAMP_EVERY_S)


class CpuWatch:
    """The stamps and their stampers, owned by the supervisor."""

    def __init__(self, ctx: SpawnContext) -> None:
        count = os.cpu_count() or 1
        self.stamps = CpuStamps(SharedCounters.create(unique_name("cpus"), count))
        self._stampers: list[BaseProcess] = []
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return  # one CPU: both slots share it, and there is no other to cover from
        for cpu in cpus:
            stamper = ctx.Process(
                target=_stamp, args=(self.stamps.name, cpu), name=f"chronus-cpu{cpu}", daemon=True
            )
            stamper.start()
            self._stampers.append(stamper)

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
