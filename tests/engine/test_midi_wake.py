"""The supervisor's real-time wait for MIDI events (`chronus.engine.midi_wake`), on this
process's own thread: raised for the wait, lowered for the work, never passed on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chronus.engine.midi_wake import MidiWake


def _policy() -> int:
    return os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK


def test_the_wait_is_real_time_the_work_and_the_children_are_not() -> None:
    wake = MidiWake()
    wake.wait(True)
    if wake.refused:
        pytest.skip("this system refuses real-time priority")
    try:
        assert _policy() == os.SCHED_FIFO
        assert os.sched_getparam(0).sched_priority == 1
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert int(child.stdout) == os.SCHED_OTHER, "a process started meanwhile is normal"
    finally:
        wake.work()
    assert _policy() == os.SCHED_OTHER
    assert wake.status == {"realtime_wait": True, "waits": 1}


def test_without_a_port_read_the_wait_stays_normal() -> None:
    wake = MidiWake()
    wake.wait(False)
    assert _policy() == os.SCHED_OTHER
    wake.work()
    assert wake.waits == 0 and _policy() == os.SCHED_OTHER
