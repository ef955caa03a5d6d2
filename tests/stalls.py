"""A host-stall monitor for realtime tests on virtual machines.

On a VM a virtual CPU can be descheduled by the hypervisor for tens of milliseconds (seen on
the development VM: gaps of 12–45 ms in a SCHED_FIFO sleep loop on an idle machine). A slot on
that CPU cannot render, whatever the engine does. This monitor runs one SCHED_FIFO 99 sleeper
pinned to each CPU and records every gap longer than a threshold, so a realtime test can tell
an underrun the host caused from one the engine caused: each stall of d ms can cost at most
ceil(d / block) blocks, and underruns beyond that bound are the engine's.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from chronus.engine.lifecycle import die_with_parent

MAX_STALLS = 256


def _sleeper(
    cpu: int, threshold_ns: int, stop: Any, count: Any, log: Any, rt: Any, capacity: int
) -> None:
    die_with_parent()  # a SCHED_FIFO 99 loop must not outlive a killed test run
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(99))
        rt.value = 1
    except OSError:
        rt.value = 0
    last = time.monotonic_ns()
    while not stop.value:
        time.sleep(0.001)
        now = time.monotonic_ns()
        if now - last > threshold_ns:
            with count.get_lock():
                i = count.value
                if i < capacity:
                    log[3 * i : 3 * i + 3] = [cpu, last, now - last]
                count.value = i + 1
        last = now


class StallMonitor:
    """Context manager: record host stalls on every CPU while the block runs."""

    def __init__(self, threshold_ms: float = 3.0, capacity: int = MAX_STALLS) -> None:
        ctx = mp.get_context("fork")
        self._capacity = capacity
        self._stop = ctx.Value("b", 0, lock=False)
        self._count: Synchronized[int] = ctx.Value("i", 0)
        self._log = ctx.Array("q", 3 * capacity, lock=False)
        self._realtime = [ctx.Value("b", 0, lock=False) for _ in sorted(os.sched_getaffinity(0))]
        self._procs = [
            ctx.Process(
                target=_sleeper,
                args=(
                    cpu,
                    int(threshold_ms * 1e6),
                    self._stop,
                    self._count,
                    self._log,
                    rt,
                    capacity,
                ),
                daemon=True,
            )
            for cpu, rt in zip(sorted(os.sched_getaffinity(0)), self._realtime, strict=True)
        ]

    def __enter__(self) -> StallMonitor:
        for proc in self._procs:
            proc.start()
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.value = 1
        for proc in self._procs:
            proc.join(5)

    @property
    def realtime(self) -> bool:
        """Whether every sleeper got SCHED_FIFO (without it, gaps prove nothing)."""
        return all(rt.value for rt in self._realtime)

    @property
    def stalls_ms(self) -> list[tuple[int, float]]:
        """(cpu, duration in ms) of each recorded stall."""
        return [(cpu, duration / 1e6) for cpu, _, duration in self.stalls]

    @property
    def stalls(self) -> list[tuple[int, int, int]]:
        """(cpu, CLOCK_MONOTONIC start in ns, duration in ns) of each recorded stall."""
        n = min(self._count.value, self._capacity)
        return [(self._log[3 * i], self._log[3 * i + 1], self._log[3 * i + 2]) for i in range(n)]

    def blocks_bound(self, block_ms: float) -> int:
        """The most blocks the recorded stalls can have cost a renderer."""
        return sum(math.ceil(d / block_ms) for _, d in self.stalls_ms)
