"""A first run compiles the kernels in two processes at once, and between them the two shares
cover every kernel: the full warm-up after them compiles nothing more. Their progress is one
display: only the watching process reports, counting both processes' compiles in order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

PROBE = """
import os
from chronus.dsp.compiling import cache_is_cold, compile_in_two, watch_compiles
from chronus.dsp.render import Renderer
assert cache_is_cold()
def progress(done, total, name):
    print("progress", os.getpid(), done, total, name, flush=True)
with watch_compiles(progress) as watch:
    assert compile_in_two(48000, 128, watch)
print("both compiled", watch.compiled, "this one", watch.own, "pid", os.getpid(), flush=True)
assert not cache_is_cold()
with watch_compiles(lambda done, total, name: print("compiled after:", name)) as watch:
    assert Renderer(48000, 128).warm_up() == []
print("compiled", watch.compiled)
"""


def test_two_processes_compile_every_kernel_of_a_first_run(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "compiled 0", result.stdout
    reports = [line.split() for line in lines if line.startswith("progress ")]
    both = next(line.split() for line in lines if line.startswith("both compiled "))
    compiled, own = int(both[2]), int(both[5])
    assert {pid for _, pid, *_ in reports} == {both[-1]}, "another process reported"
    counts = [int(done) for _, _, done, *_ in reports]
    assert counts == sorted(set(counts)), "the count went back or repeated"
    assert 0 < own < compiled == counts[-1]
