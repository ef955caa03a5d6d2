"""A first run compiles the kernels in two processes at once, and between them the two shares
cover every kernel: the full warm-up after them compiles nothing more."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

PROBE = """
from chronus.dsp.compiling import cache_is_cold, compile_in_two, watch_compiles
from chronus.dsp.render import Renderer
assert cache_is_cold()
assert compile_in_two(48000, 128)
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
    assert result.stdout.strip().splitlines()[-1] == "compiled 0", result.stdout
