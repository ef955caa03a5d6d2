"""PeerWatch on real processes: a stopped one is held up; a spinning or sleeping one is not;
one whose CPU is held up (its stamper stopped, as a host stall stops it) is held up at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from chronus.engine.cpu_watch import STALE_NS, CpuWatch
from chronus.engine.launcher import Launcher
from chronus.engine.peer import (
    KEPT_OFF_AFTER_NS,
    RAN_AT_MOST_NS,
    PeerWatch,
    death_signal,
    process_state,
)

SPIN = "while True: pass"
SLEEP = "import time; time.sleep(60)"


def _child(code: str, cpu: int | None = None) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", code])
    if cpu is not None:
        os.sched_setaffinity(child.pid, {cpu})
    time.sleep(0.3)  # past the interpreter's start-up
    return child


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for child in made:
        child.kill()
        child.wait()


def _watch(watch: PeerWatch, pid: int, seconds: float, position: int = 7) -> list[bool]:
    """Ask `held_up` every 0.2 ms for `seconds`, at one position."""
    answers = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        answers.append(watch.held_up(pid, position, time.monotonic_ns()))
        time.sleep(0.0002)
    return answers


def _soon_not_held_up(watch: PeerWatch, pid: int, position: int) -> bool:
    """Whether `held_up` turns false within 1 s (a real host stall may make it true a while)."""
    deadline = time.monotonic() + 1.0
    while watch.held_up(pid, position, time.monotonic_ns()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def _held_up_at_once(
    watch: PeerWatch, cpu_watch: CpuWatch, stamper: int, cpu: int, pid: int, position: int
) -> bool | None:
    """Look at peer `pid` at a new `position`, then stop `cpu`'s stamper (the CPU now looks
    as a host stall leaves it): whether the peer is held up at once (no 12 ms wait), there
    and at the next position. None if this process was itself kept off its CPU so long that
    the stamp ran past `RAN_AT_MOST_NS` after the look: no fair trial on a loaded machine."""
    looked = time.monotonic_ns()
    watch.held_up(pid, position, looked)
    os.kill(stamper, signal.SIGSTOP)
    try:
        time.sleep(2 * STALE_NS / 1e9)
        assert cpu_watch.stamps.held_up(cpu, time.monotonic_ns())
        if cpu_watch.stamps.stamp(cpu) - looked > RAN_AT_MOST_NS:
            return None
        here = watch.held_up(pid, position, time.monotonic_ns())
        return here and watch.held_up(pid, position + 1, time.monotonic_ns())
    finally:
        os.kill(stamper, signal.SIGCONT)


def test_a_stopped_process_is_held_up_after_the_delay(
    children: list[subprocess.Popen[bytes]],
) -> None:
    child = _child(SPIN)
    children.append(child)
    os.kill(child.pid, signal.SIGSTOP)
    time.sleep(0.05)
    assert process_state(child.pid) == b"T"
    watch = PeerWatch(None, -1)
    start = time.monotonic_ns()
    assert not watch.held_up(child.pid, 7, start)  # first sight: nothing to judge by yet
    assert not watch.held_up(child.pid, 7, start + KEPT_OFF_AFTER_NS - 1)
    assert watch.held_up(child.pid, 7, start + KEPT_OFF_AFTER_NS)
    assert not watch.held_up(child.pid, 8, start + 2 * KEPT_OFF_AFTER_NS)  # it moved on


def test_a_process_burning_cpu_is_not_held_up(children: list[subprocess.Popen[bytes]]) -> None:
    child = _child(SPIN)
    children.append(child)
    answers = _watch(PeerWatch(None, -1), child.pid, 0.3)
    # On two CPUs the spinner mostly runs; a host stall could hold it up for a moment.
    assert sum(answers) < len(answers) / 4, sum(answers)


def test_a_process_blocked_in_the_kernel_is_not_held_up(
    children: list[subprocess.Popen[bytes]],
) -> None:
    child = _child(SLEEP)
    children.append(child)
    assert process_state(child.pid) == b"S"
    assert not any(_watch(PeerWatch(None, -1), child.pid, 0.05))


def test_no_peer_and_a_gone_peer_are_not_held_up(children: list[subprocess.Popen[bytes]]) -> None:
    watch = PeerWatch(None, -1)
    assert not watch.held_up(0, 7, time.monotonic_ns())
    child = _child(SLEEP)
    child.kill()
    child.wait()
    assert process_state(child.pid) == b"" and death_signal(child.pid) == -1
    start = time.monotonic_ns()
    assert not watch.held_up(child.pid, 7, start)
    assert not watch.held_up(child.pid, 7, start + 2 * KEPT_OFF_AFTER_NS)


def test_death_signal_of_a_living_process_is_none() -> None:
    assert death_signal(os.getpid()) is None
    assert process_state(os.getpid()) == b"R"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_peer_whose_cpu_is_held_up_is_held_up_at_once(
    children: list[subprocess.Popen[bytes]],
) -> None:
    cpu = sorted(os.sched_getaffinity(0))[0]
    cpu_watch = CpuWatch(Launcher(mp.get_context("spawn"), template=False))
    try:
        deadline = time.monotonic() + 10
        while not cpu_watch.stamps.stamp(cpu) and time.monotonic() < deadline:
            time.sleep(0.01)  # the stampers start like any spawned process
        child = _child(SPIN, cpu)
        children.append(child)
        watch = PeerWatch(cpu_watch.stamps, cpu)
        assert _soon_not_held_up(watch, child.pid, 7)
        stamper = cpu_watch.pids[sorted(os.sched_getaffinity(0)).index(cpu)]
        verdict = None
        for attempt in range(20):
            assert _soon_not_held_up(watch, child.pid, 100 + 2 * attempt)
            verdict = _held_up_at_once(watch, cpu_watch, stamper, cpu, child.pid, 101 + 2 * attempt)
            if verdict is not None:
                break
        assert verdict, verdict  # None: this process never got a fair trial in 20
        assert _soon_not_held_up(watch, child.pid, 9)
        # A peer that had the CPU well past a render at one position (a module spinning)
        # is not followed when the host then holds its CPU up: that could hang us too.
        assert _soon_not_held_up(watch, child.pid, 10)
        time.sleep(3 * RAN_AT_MOST_NS / 1e9)
        os.kill(stamper, signal.SIGSTOP)
        try:
            time.sleep(2 * STALE_NS / 1e9)
            assert cpu_watch.stamps.held_up(cpu, time.monotonic_ns())
            assert not watch.held_up(child.pid, 10, time.monotonic_ns())
        finally:
            os.kill(stamper, signal.SIGCONT)
    finally:
        cpu_watch.close()
