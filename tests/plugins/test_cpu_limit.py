"""The module's CPU limit in a validating child, numba's compiling not counted (`hold_to`), in
real processes: a Python loop ends the process with SIGXCPU at the limit; compiling kernels
for longer than the limit does not, and is measured."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

HELD = "import time\nfrom chronus.plugins.cpu_limit import hold_to\nclock = hold_to({limit})\n"

LOOP = "while True: pass\n"
COMPILES = textwrap.dedent(
    """\
    import numba
    began = time.process_time()
    for k in range(12):  # each a new function: each compiled afresh, ~0.1-0.3 s of CPU
        exec(f"@numba.njit\\ndef f{k}(x):\\n    s = 0.0\\n    for i in range(x):\\n"
             f"        s += (i * {k}) % 7\\n    return s\\n")
        globals()[f"f{k}"](10)
    print(round(time.process_time() - began, 3), round(clock.spent(), 3), flush=True)
    """
)
LET_GO = "from chronus.plugins.cpu_limit import let_go\nlet_go()\n"


def _run(limit: float, body: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HELD.format(limit=limit) + body],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done, time.monotonic() - began


def test_a_python_loop_is_ended_with_sigxcpu_at_the_limit() -> None:
    done, took = _run(0.3, LOOP)
    assert done.returncode == -signal.SIGXCPU, done.stderr
    assert took < 20.0  # 0.3 s of CPU, however busy the machine


def test_compiling_for_longer_than_the_limit_is_not_counted_and_is_measured() -> None:
    done, _ = _run(0.3, COMPILES + LET_GO)
    assert done.returncode == 0, done.stderr
    used, compiling = (float(word) for word in done.stdout.split())
    assert used > 0.3, "the kernels compiled within the limit: the test proves nothing"
    assert 0.8 * used <= compiling <= used + 0.01


def test_a_loop_after_compiling_is_ended_once_it_has_used_the_limit_itself() -> None:
    done, _ = _run(0.3, COMPILES + LOOP)
    assert done.returncode == -signal.SIGXCPU, done.stderr
    compiling = float(done.stdout.split()[1])
    assert compiling > 0.3  # it compiled past the limit, then the loop was stopped
