"""CpuStamps: which CPUs the host stalls, now and lately; on fake rows and on real stampers."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator

import pytest

from chronus.engine.cpu_watch import (
    STALE_NS,
    XRUN_AFTER_STALL_PERIODS,
    CpuField,
    CpuStamps,
    CpuWatch,
    XrunTagger,
)
from chronus.engine.launcher import Launcher
from chronus.engine.rings import SharedCounters, unique_name

WINDOW_NS = 6_000_000


@pytest.fixture
def stamps() -> Iterator[CpuStamps]:
    block = CpuStamps(SharedCounters.create(unique_name("test-cpus"), CpuStamps.size()))
    yield block
    block.close()


def _row(stamps: CpuStamps, cpu: int, **fields: int) -> None:
    for name, value in fields.items():
        stamps.values[cpu * CpuField.SIZE + CpuField[name.upper()]] = value


def _field(stamps: CpuStamps, cpu: int, field: CpuField) -> int:
    return int(stamps.values[cpu * CpuField.SIZE + field])


def test_fresh_stamps_and_no_recent_stall_are_no_stall(stamps: CpuStamps) -> None:
    now = time.monotonic_ns()
    for cpu in range(stamps.cpus):
        _row(stamps, cpu, stamp=now - 100_000, last_stall_end_ns=now - 50_000_000)
    assert stamps.realtime
    assert not stamps.stalled_within(now, WINDOW_NS)


def test_a_stall_that_just_ended_or_goes_on_counts(stamps: CpuStamps) -> None:
    now = time.monotonic_ns()
    for cpu in range(stamps.cpus):
        _row(stamps, cpu, stamp=now - 100_000)
    last = stamps.cpus - 1
    _row(stamps, last, last_stall_end_ns=now - WINDOW_NS + 1)
    assert stamps.stalled_within(now, WINDOW_NS)
    assert not stamps.stalled_within(now + 2, WINDOW_NS)
    _row(stamps, last, stamp=now - STALE_NS - 1)
    assert stamps.stalled_within(now + 2, WINDOW_NS)  # held up right now
    assert stamps.held_up(last, now) and not stamps.held_up(last, now - 2)


def test_a_cpu_without_a_realtime_stamper_says_nothing(stamps: CpuStamps) -> None:
    now = time.monotonic_ns()
    _row(stamps, 0, stamp=0, last_stall_end_ns=now)
    assert not stamps.realtime
    assert not stamps.held_up(0, now)
    assert not stamps.stalled_within(now, WINDOW_NS)


def test_stalls_add_up_over_the_cpus(stamps: CpuStamps) -> None:
    _row(stamps, 0, stalls=3, longest_stall_ns=4_500_000)
    _row(stamps, stamps.cpus - 1, stalls=2, longest_stall_ns=9_250_000)
    expected = 5 if stamps.cpus > 1 else 2
    assert stamps.stalls() == {"count": expected, "longest_ms": 9.25}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="stampers need two CPUs")
def test_a_stamper_kept_off_its_cpu_records_the_stall() -> None:
    watch = CpuWatch(Launcher(mp.get_context("spawn"), template=False))
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        deadline = time.monotonic() + 10
        while not watch.stamps.stamp(cpu) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not watch.stamps.realtime:
            pytest.skip("SCHED_FIFO refused here: the stampers do not run")
        stamper = watch.pids[sorted(os.sched_getaffinity(0)).index(cpu)]
        stamps = watch.stamps
        before = _field(stamps, cpu, CpuField.STALLS)
        os.kill(stamper, signal.SIGSTOP)  # as a host stall would keep it off its CPU
        time.sleep(0.02)
        resumed = time.monotonic_ns()
        os.kill(stamper, signal.SIGCONT)
        deadline = time.monotonic() + 2
        while _field(stamps, cpu, CpuField.STALLS) == before and time.monotonic() < deadline:
            time.sleep(0.001)
        assert _field(stamps, cpu, CpuField.STALLS) > before
        assert _field(stamps, cpu, CpuField.LAST_STALL_END_NS) >= resumed
        assert _field(stamps, cpu, CpuField.LONGEST_STALL_NS) >= 20_000_000
        assert stamps.stalled_within(time.monotonic_ns(), WINDOW_NS)
        assert stamps.stalls()["longest_ms"] >= 20.0
    finally:
        watch.close()


def test_the_tagger_puts_an_xrun_on_the_host_after_a_stall_and_follows_the_catch_up(
    stamps: CpuStamps,
) -> None:
    period = 10**8
    window = XRUN_AFTER_STALL_PERIODS * period + STALE_NS
    now = time.monotonic_ns()
    _row(stamps, 0, stamp=now + 10 * window, last_stall_end_ns=now)
    tagger = XrunTagger(stamps, period)
    assert tagger.is_hosts(now + window)  # right at the window's end
    _row(stamps, 0, last_stall_end_ns=0)
    assert tagger.is_hosts(now + 2 * window)  # within the window of the last one
    assert not tagger.is_hosts(now + 3 * window + 1)
    assert not XrunTagger(stamps, period).is_hosts(now)
