"""`CpuUsers` names who used the CPUs while a block ran."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.cpu_users import CpuUsers

SPIN_THEN_SLEEP = (
    "import time\n"
    "end = time.thread_time() + 0.3\n"
    "while time.thread_time() < end: pass\n"
    "print('spun', flush=True)\n"
    "time.sleep(30)\n"
)


def test_a_process_that_spun_is_named_with_its_cpu_time() -> None:
    spinner = subprocess.Popen(
        [sys.executable, "-c", SPIN_THEN_SLEEP], stdout=subprocess.PIPE, text=True
    )
    try:
        with CpuUsers() as users:
            assert spinner.stdout is not None and spinner.stdout.readline() == "spun\n"
        time.sleep(0.01)
        with CpuUsers() as idle:
            time.sleep(0.1)  # it sleeps now
    finally:
        spinner.kill()
        spinner.wait()
    assert users.used.get(spinner.pid, 0.0) >= 250, users.top()
    named = [line for line in users.top(len(users.used)) if line.startswith(f"{spinner.pid} ")]
    assert len(named) == 1 and "python" in named[0], users.top()
    assert idle.used.get(spinner.pid, 0.0) < 50
