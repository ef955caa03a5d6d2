"""The isolated-plugin soak, short (null backend): two native plugins in hosts of their own,
each host SIGKILLed once while a pattern plays through both.

`benchmarks/isolated_soak.py` runs as a subprocess (a real engine, real plugin hosts, real
signals, its real recording set against `chronus render` of its session log) for 13 s with a
kill every 5 s, each host having served longer than the ladder's `young_s` (3 s) when it is
killed; its figures come back as JSON. The ten-minute soak is the benchmark's (docs/
PERFORMANCE.md, "Four isolated plugins, a host SIGKILLed every 30 s, ten minutes"). Both
slots stay in lockstep, every killed host is replaced and the ladder forgives it (it served
long enough), and the offline render equals the recording but for underruns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.isolated_soak import PLUGINS

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not all(p.library.is_file() for p in PLUGINS[:2]),
    reason="needs cmt and tap-plugins (apt install cmt tap-plugins)",
)
def test_two_isolated_plugins_survive_a_sigkill_of_each_host_in_lockstep() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "isolated_soak.py"), "--backend", "null",
         "--plugins", "2", "--minutes", str(13 / 60), "--every", "5", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    kills = [e for e in figures["events"] if e["kind"] == "kill"]
    assert len(kills) == 2, figures["events"]
    assert len({e["pid"] for e in kills}) == 2, "two distinct hosts were killed"
    assert all(e["serving_again_ms"] is not None for e in kills), kills
    assert all(e["bypassed_calls"] > 0 for e in kills), "a dead host's calls are bypassed"
    assert figures["deaths"]["died of signal 9"] == 2, figures["deaths"]
    assert figures["suspended"] == 0, figures["ladder"]
    assert all(d == "respawning now" for e in kills for d in e["decisions"]), kills
    assert figures["divergences"] == 0 and figures["offered_differently"] == 0
    assert figures["host_errors"] == 0
    assert set(figures["plugin_states"].values()) == {"active"}, figures["plugin_states"]
    recording = figures["recording"]
    assert recording["peak"] > 0.01, recording
    assert recording["equal"], recording
    assert figures["left_behind"] == [], "the engine's processes all ended with it"
