"""The chaos soak, one round of it, on a real PortAudio device (JACK's dummy driver).

`benchmarks/chaos.py` runs as a subprocess (a real engine, real signals, real OSC, its real
recording set against the offline render of its session log) with the kinds of fault the
engine survives today: SIGKILL of the active slot, of the standby and of the spare,
SIGSTOP/SIGCONT of a slot, a burst of 5,000 messages, a commit and a snapshot load, one every
5 s, each kind once: 40 s of playing, so that the burst, last, has its 5 s watched too. The
ten-minute soak and its figures are the benchmark's (docs/PERFORMANCE.md, "Chaos soak").
Its figures come back as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_jack

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("kill_active", "kill_standby", "kill_spare", "stop_cont", "commit", "snapshot", "burst")
"""In turn, each once (`--rounds 1`: a loaded machine can stretch recoveries past the
round's time); the burst last, as its 5,000 messages took 5-35 s to be synced there."""
EVERY_S = 5.0
"""Seconds between events: each event's watch window (underruns within 1 s of it, and later)."""
RSS_GROWTH_MB = 25.0
"""What a process may grow by in a round of this (the supervisor grew 8.7 MB in one, most
of it while a burst was handled; the target, < 5 MB over 10 minutes, is the benchmark's)."""


def _chaos(seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--backend", "device",
         "--minutes", str(seconds / 60), "--rounds", "1", "--every", str(EVERY_S),
         "--kinds", ",".join(KINDS), "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    print(done.stderr[-6000:])
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def test_a_round_of_chaos_on_jack_loses_nothing() -> None:
    require_jack()
    figures = _chaos((len(KINDS) + 1) * EVERY_S)
    kinds = figures["kinds"]
    assert set(KINDS) <= set(kinds), "every kind had its turn"
    assert figures["failed_kinds"] == [], kinds
    assert len(figures["eras"]) == 1, "one engine lived through all of it"
    era = figures["eras"][0]
    assert not era["failed"]
    assert figures["commands_lost"] == 0, [e["commands_lost_from_log"] for e in figures["eras"]]
    assert figures["dump_misses"] == 0, [e["dump_misses"] for e in figures["eras"]]
    assert era["acknowledged"] > 20 and era["burst_logged_vs_expected"][1] > 0
    assert figures["leaked"] == 0 and figures["orphans"] == 0, figures["eras"]
    for title, growth in figures["rss_growth_mb"].items():
        assert growth < RSS_GROWTH_MB, f"{title} grew {growth} MB in a round"
    end = era["engine_end"]
    # No standby replaced because its block differed (under the burst, 2 divergences came in
    # 2 of 3 runs before they were fixed).
    assert end["divergences"] == 0, end
    # Underruns only within 1 s of an event, or as many as the host stalls the engine's own
    # stampers saw (the VM stopped: nothing in the engine covers that).
    later = sum(k["underruns_later"] for k in kinds.values())
    assert later <= end["host_stalls"], (later, end)
    # Every block that differs from the offline render is an underrun's fade-out or the
    # fade-in after it, or a block of a commit's crossfade that one slot had not published
    # in time, played from the other alone (a CI run: 1 of 16,168, no underrun), and the
    # block after it: both spliced from the sample before.
    differing = sum(k["blocks_differing"] for k in kinds.values())
    assert differing <= 2 * end["underruns"] + 2 * end["one_sided_fades"], (differing, end)
