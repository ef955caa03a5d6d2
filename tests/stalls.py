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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


STALL_GROUP_S = 0.1
"""Host stalls that start within this of the previous one's end are told as one group."""


def _stall_groups(stalls: list[tuple[int, int, int]]) -> list[tuple[float, str]]:
    groups: list[list[tuple[int, int, int]]] = []
    for stall in sorted(stalls, key=lambda s: s[1]):
        last = groups[-1][-1] if groups else None
        if last is not None and stall[1] - (last[1] + last[2]) <= STALL_GROUP_S * 1e9:
            groups[-1].append(stall)
        else:
            groups.append([stall])
    told = []
    for group in groups:
        start = group[0][1] / 1e9
        span = (max(s[1] + s[2] for s in group) - group[0][1]) / 1e9
        cpus = ", ".join(
            f"cpu{cpu} {sum(1 for s in group if s[0] == cpu)}"
            for cpu in sorted({s[0] for s in group})
        )
        longest = max(s[2] for s in group) / 1e6
        what = f"host stalls: {len(group)} over {1000 * span:.0f} ms ({cpus})"
        told.append((start, f"{what}, longest {longest:.1f} ms"))
    return told


def what_happened(
    status: dict[str, Any],
    host: StallMonitor | None,
    since_s: float,
    marks: Iterable[tuple[float, str]] = (),
) -> str:
    """A realtime run's post-mortem, in time order, in seconds after `since_s` (a
    `time.monotonic()` of the test's): the engine's events (deaths, failovers, respawns,
    joins, with the block the I/O had played), each spell of underruns (its blocks, how many,
    the active seat, how far behind each seat was at worst, the causes), the host stalls
    (grouped), and the test's own `marks` (its kills, as (monotonic time, what))."""
    engine, io = status.get("engine", {}), status.get("io", {})
    lines: list[tuple[float, str]] = [(t, f"test: {what}") for t, what in marks]
    for event in engine.get("timeline", []):
        lines.append((event["t_s"], f"{event['kind']} @{event['block']}: {event['text']}"))
    for spell in io.get("underrun_spells", []):
        blocks = f"{spell['first_block']}..{spell['last_block']}"
        lines.append((
            spell["seen_s"],
            f"UNDERRUNS {spell['count']} (blocks {blocks}, unlisted {spell['unlisted']}; "
            f"active {spell['active']}, behind at worst {spell['behind_max']}, "
            f"causes {spell['causes']})",
        ))  # fmt: skip
    if host is not None:
        lines.extend(_stall_groups(host.stalls))
    lines.sort(key=lambda line: line[0])
    supervisor = engine.get("supervisor", {})
    head = (
        f"what happened: underruns {io.get('underruns')}, failovers {engine.get('failovers')}, "
        f"respawns {engine.get('respawns')}, divergences {engine.get('divergences')}, "
        f"supervisor restarts {supervisor.get('restarts')}, blocks played "
        f"{io.get('blocks_played')}, host stalls seen by the engine {status.get('host')}"
        + ("" if host is None else f", by the test {len(host.stalls)} (realtime {host.realtime})")
    )
    return "\n".join([head, *(f"  {t - since_s:8.3f} s  {text}" for t, text in lines)])


@contextmanager
def told_on_failure(story: Callable[[], str]) -> Iterator[None]:
    """Add `story()` (say, `what_happened`) to the message of an assertion that fails inside."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{story()}") from exc
