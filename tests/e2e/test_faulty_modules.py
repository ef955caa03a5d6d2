"""Modules that raise, return NaN, segfault or hang, in a real engine: the music goes on.

The engine loads tests/faults.py through CHRONUS_MODULES. A saw plays through a fault module
that is armed mid-note. A module that raises or returns NaN runs under the graph's guards (the
same in both slots, so no slot dies); one that loops for ever is stopped by the guard's CPU
limit in both slots alike and suspended; one that segfaults takes the active slot down, the
standby bypasses it before rendering the fatal block, and the module is quarantined and
removed from the patch. In every case the saw keeps sounding and both seats end up running.

`fault_stop` stops the active slot inside a block (SIGSTOP), as a host holding the slot up
would: the standby sees an active that is late and uses no CPU, renders the blocks itself,
and the stopped slot is replaced without blaming the module.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.peer import KEPT_OFF_AFTER_NS
from chronus.protocol import validate
from tests.stalls import StallMonitor

# Serial: the underruns are bound by the host's stalls alone, and another test's slots
# (real-time, as these are) on the same CPUs would cost blocks the stalls do not show.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def fault_engine() -> Iterator[EngineProcess]:
    """A null-backend engine that knows the fault_* module types."""
    path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "CHRONUS_MODULES": "tests.faults",
            "PYTHONPATH": path,
            "CHRONUS_FAULT_TOKEN": os.path.join(tmp, "stop-token"),
        }
        engine = EngineProcess(port=0, backend="null", env=env).boot()
        yield engine
        assert engine.quit() == 0


WAIT_S = 8.0
"""How long a case waits for both seats to run again."""
NOTE_S = 0.3 + 1.5 + WAIT_S + 0.5 + 5.0
"""The saw's note outlasts a case's longest course (the voice is removed at its end): a
replacement slow to come must not end the note and read as a saw that stopped sounding."""


def _wait(client: EngineClient, ok: Any, timeout: float = WAIT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.status()
        if ok(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["raise", "nan", "segfault", "hang", "stop"])
def test_the_music_goes_on(fault_engine: EngineProcess, kind: str) -> None:
    fx, voice = f"fx_{kind}", f"voice_{kind}"
    with fault_engine.client() as client, StallMonitor() as host:
        client.send([
            validate("/patch/create", (voice, "saw")),
            validate("/patch/create", (fx, f"fault_{kind}")),
            validate("/patch/connect", (voice, fx)),
            validate("/patch/connect", (fx, "master")),
            validate(f"/note/{voice}", (48, 100, NOTE_S)),
        ])  # fmt: skip
        client.sync()
        time.sleep(0.3)
        before = client.status()
        client.send([validate(f"/mod/{fx}/armed", (1.0,))])
        time.sleep(1.5)
        after = _wait(client, lambda s: all(x["seat"] == "running" for x in s["slots"]))
        time.sleep(0.5)
        end = client.status()
        client.send([validate("/patch/remove", (voice,))])
    io0, io1 = before["io"], end["io"]
    sounded = io1["sounding_blocks"] - io0["sounding_blocks"]
    played = io1["blocks_played"] - io0["blocks_played"]
    underruns = io1["underruns"] - io0["underruns"]
    print(
        f"\nfault_{kind}: {played} blocks played, {sounded} sounding, {underruns} underruns, "
        f"failovers {end['engine']['failovers'] - before['engine']['failovers']}, "
        f"quarantined {end['engine']['quarantined']}, host stalls {host.stalls_ms}, "
        f"longest renders {[x['render']['max_us'] for x in after['slots']]} us"
    )
    assert all(x["seat"] == "running" for x in after["slots"]), after["slots"]
    assert sounded >= 0.9 * played, "the saw stopped sounding"
    if kind == "segfault":
        assert fx in end["engine"]["quarantined"]
        assert end["engine"]["failovers"] == before["engine"]["failovers"] + 1
        assert any(fx in event for event in end["engine"]["events"])
        assert underruns <= 2 + host.blocks_bound(128 / 48), end["io"]  # covered at once
    elif kind == "hang":
        # A loop in the module's Python: the guard's CPU limit stops it in both slots alike
        # and suspends the module; no slot dies. Both slots hang in the same block, so the
        # device goes without blocks until the active, which began it ahead of the device,
        # ends its render of it, and a block more while it catches up. That render takes the
        # limit of CPU (20 ms), more on the wall clock: the CPU timer fires at a scheduler
        # tick, and a slot kept off its CPU uses none meanwhile (on a loaded host 21-41 ms).
        # It is the active's longest render of the last 1024 blocks (2.7 s) when `after` is read.
        assert fx not in end["engine"]["quarantined"]
        assert end["engine"]["failovers"] == before["engine"]["failovers"]
        states = {row["name"]: row for row in end["plugins"]}
        assert states["fault_hang"]["state"] == "suspended", states.get("fault_hang")
        active = next(x for x in after["slots"] if x["role"] == "active")
        allowed = math.ceil(active["render"]["max_us"] / 1000 / (128 / 48)) + 1
        assert underruns <= allowed + host.blocks_bound(128 / 48), (active["render"], end["io"])
    elif kind == "stop":
        # Not the module's fault: nothing quarantined. The stopped slot is killed at the
        # heartbeat deadline, but the standby renders its blocks once it has seen it use no
        # CPU for KEPT_OFF_AFTER_NS (12 ms: the kernel counts another's CPU time in ticks),
        # give or take a look every 0.5 ms and a render: one block more than 12 ms holds.
        assert fx not in end["engine"]["quarantined"]
        assert end["engine"]["failovers"] == before["engine"]["failovers"] + 1
        assert any("stopped" in event for event in end["engine"]["events"]), end["engine"]
        assert sum(x["found_active_held_up"] for x in end["slots"]) > 0, end["slots"]
        allowed = math.ceil(KEPT_OFF_AFTER_NS / 1e6 / (128 / 48)) + 1
        assert underruns <= allowed + host.blocks_bound(128 / 48), end["io"]
    else:
        assert fx not in end["engine"]["quarantined"]
        assert end["engine"]["failovers"] == before["engine"]["failovers"]
        assert underruns <= host.blocks_bound(128 / 48), end["io"]
        slot = next(x for x in end["slots"] if x["role"] == "active")
        if kind == "nan":
            assert slot["nonfinite_samples"] > 0
        else:
            assert slot["errors"] > 0
