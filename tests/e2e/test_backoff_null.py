"""Respawn backoff in a real engine: a standby that dies young, again and again.

Each time the standby slot is back in its seat it is SIGKILLed at once, like a worker that a
broken machine or module keeps taking down. The engine must step through its ladder —
immediately, after 2 s, after 10 s — and then stop respawning (Suspended), saying so at each
step, while the active slot plays on. A suspension is not for ever: when a module is removed
(the load that kept killing workers may be gone) the seat tries again, and comes back.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from typing import Any

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.slot import SLOT_PRIORITY
from chronus.protocol import validate
from tests.foreign_realtime import ForeignRealtime, blocks_explained
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]


def _seat(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in status["slots"] if s["name"] == name)


def test_a_crash_loop_walks_the_ladder_then_suspends() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with (
            engine.client() as client,
            StallMonitor() as host,
            ForeignRealtime(SLOT_PRIORITY) as others,
        ):
            client.send([
                validate("/patch/create", ("a", "sine")),
                validate("/patch/connect", ("a", "master")),
                validate("/note/a", (60, 100, 60.0)),
            ])  # fmt: skip
            client.sync()
            start = client.status()
            kills: list[float] = []
            deadline = time.monotonic() + 40.0
            while time.monotonic() < deadline:
                status = client.status()
                standby = _seat(status, "B")
                if standby["seat"] == "suspended":
                    break
                if standby["seat"] == "running" and standby["pid"]:
                    os.kill(int(standby["pid"]), signal.SIGKILL)
                    kills.append(time.monotonic())
                    time.sleep(0.1)
                time.sleep(0.02)
            end = client.status()
            assert _seat(end, "B")["seat"] == "suspended", end["engine"]["events"]
            client.send([
                validate("/patch/create", ("spare_part", "saw")),
                validate("/patch/remove", ("spare_part",)),
            ])  # fmt: skip
            client.sync()
            back = client.status()
            deadline = time.monotonic() + 15.0
            while _seat(back, "B")["seat"] != "running" and time.monotonic() < deadline:
                time.sleep(0.1)
                back = client.status()
        assert _seat(back, "B")["seat"] == "running", back["engine"]["events"]
        assert any("trying again" in e for e in back["engine"]["events"])
        events = end["engine"]["events"]
        decisions = [e.split(": ", 1)[1] for e in events if e.startswith("slot B: ")]
        print(f"\nbackoff: {len(kills)} kills, decisions {decisions}")
        assert _seat(end, "B")["seat"] == "suspended", events
        assert any("respawning in 2 s" in d for d in decisions), decisions
        assert any("respawning in 10 s" in d for d in decisions), decisions
        assert decisions[-1].startswith("suspended: crash loop"), decisions
        gaps = [b - a for a, b in itertools.pairwise(kills)]
        assert max(gaps) >= 10.0, f"the 10 s step was not waited out: {gaps}"
        # The active slot played on throughout.
        assert _seat(end, "A")["role"] == "active" and end["engine"]["failovers"] == 0
        played = end["io"]["blocks_played"] - start["io"]["blocks_played"]
        assert played > 0.95 * (kills[-1] - kills[0]) * 48000 / 128
        underruns = end["io"]["underruns"] - start["io"]["underruns"]
        assert underruns <= blocks_explained(host, others, 128 / 48), end["io"]
    finally:
        assert engine.quit() == 0
