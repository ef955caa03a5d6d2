"""`ForeignRealtime` counts other processes' realtime CPU, even of a process that ended
before the block did, and never the test's own processes'."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.foreign_realtime import SAMPLE_S, ForeignRealtime

pytestmark = [pytest.mark.serial]  # a realtime spinner would take a neighbour test's CPU

SPIN = (
    "import os, time\n"
    "os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(70))\n"
    "end = time.thread_time() + {seconds}\n"
    "while time.thread_time() < end: pass\n"
)
ORPHAN = "import os, sys\nif pid := os.fork(): print(pid); os._exit(0)\nexec(sys.argv[1])\n"
"""Forks and leaves the child to run `argv[1]`: then it is not below the test's process."""


def _can_go_realtime() -> bool:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except PermissionError:
        return False
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    return True


@pytest.mark.skipif(not _can_go_realtime(), reason="SCHED_FIFO needs root or rtprio")
def test_a_foreign_spinner_that_ended_before_the_block_is_counted_and_our_own_is_not() -> None:
    with ForeignRealtime(60) as others:
        forked = subprocess.run([sys.executable, "-c", ORPHAN, SPIN.format(seconds=0.2)],
                                check=True, capture_output=True, text=True)  # fmt: skip
        own = subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=0.2)])
        own.wait()
        time.sleep(3 * SAMPLE_S)  # the orphan ended readings ago
    used = {title.split()[0]: ms for title, ms in others.by_process.items()}
    assert 150 <= used.get(forked.stdout.strip(), 0.0) <= 300, others.by_process
    assert str(own.pid) not in used, others.by_process
    assert others.used_ms >= used[forked.stdout.strip()]
