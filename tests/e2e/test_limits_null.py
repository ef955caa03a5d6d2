"""Stated limits instead of collapse: a patch that takes most of the machine refuses new
modules with a clear /error and changes nothing; once the load is gone, it takes them again.
A patch beyond the machine (each block takes twice its period) makes underruns, but the
watchdog does not take the slow slots for hung ones: no slot is killed, and the engine is
whole again when the load goes."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.supervisor import CREATE_LOAD_LIMIT
from chronus.protocol import validate

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def engine(fault_engine_null: EngineProcess) -> EngineProcess:
    return fault_engine_null


def _create(client: EngineClient, module_id: str) -> list[tuple[str, tuple[object, ...]]]:
    client.send([validate("/patch/create", (module_id, "saw"))])
    return client.sync()[1]


def _arm(client: EngineClient, module_id: str, module_type: str) -> None:
    """Create a fault module into the master and arm it."""
    client.send([
        validate("/patch/create", (module_id, module_type)),
        validate("/patch/connect", (module_id, "master")),
        validate(f"/mod/{module_id}/armed", (1,)),
    ])  # fmt: skip
    client.sync()


def _load(client: EngineClient) -> float:
    slots = client.status()["slots"]
    active = next(slot for slot in slots if slot["role"] == "active")
    return float(active["render"]["p50_us"]) / (1e6 * 128 / 48000)


def test_a_patch_past_the_load_limit_refuses_new_modules(engine: EngineProcess) -> None:
    with engine.client() as client:
        assert _create(client, "before") == []
        _arm(client, "heavy", "fault_heavy")
        deadline = time.monotonic() + 5
        while _load(client) < CREATE_LOAD_LIMIT and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.8)  # the whole window of recent blocks is heavy now
        errors = _create(client, "refused")
        assert len(errors) == 1 and "nothing changed" in str(errors[0][1]), errors
        assert "refused" not in client.dump()["modules"]
        client.send([validate("/mod/heavy/armed", (0,))])
        client.sync()
        time.sleep(1.0)  # the window of recent blocks is light again
        assert _create(client, "after") == []
        assert {"before", "heavy", "after"} <= set(client.dump()["modules"])


def test_an_overloaded_slot_is_slow_not_hung(engine: EngineProcess) -> None:
    with engine.client() as client:
        _arm(client, "over", "fault_overload")
        before = client.status()
        time.sleep(3.0)  # twenty times the hang deadline, every block too slow
        during = client.status()
        client.send([validate("/mod/over/armed", (0,))])
        client.sync()
        time.sleep(1.0)
        after = client.status()
    assert during["io"]["underruns"] > before["io"]["underruns"]  # it was overloaded
    assert _renders(during, "heavy") > _renders(before, "heavy")  # by its renders' own work
    for status in (during, after):
        engine_status = status["engine"]
        assert engine_status["respawns"] == before["engine"]["respawns"], engine_status["events"]
        assert engine_status["failovers"] == before["engine"]["failovers"]
        assert engine_status["quarantined"] == {}
        assert all(slot["seat"] == "running" for slot in status["slots"])


def _renders(status: dict[str, Any], kind: str) -> int:
    return sum(int(slot[f"{kind}_renders"]) for slot in status["slots"])


def test_a_render_held_off_its_cpu_is_told_from_a_heavy_one(engine: EngineProcess) -> None:
    """A render that takes over a period because the slot was stopped meanwhile (as a host
    stalls a VM) counts as held, not heavy: it used under a period of CPU time."""
    with engine.client() as client:
        _arm(client, "slow", "fault_heavy")
        time.sleep(0.3)
        before = client.status()
        active = next(slot for slot in before["slots"] if slot["role"] == "active")
        for _ in range(20):  # each stop lands in a render (90 % of a period) about as often
            os.kill(active["pid"], signal.SIGSTOP)
            time.sleep(0.005)  # well under the standby's 12 ms before it covers the blocks
            os.kill(active["pid"], signal.SIGCONT)
            time.sleep(0.05)
        after = client.status()
        client.send([validate("/patch/remove", ("slow",))])
        client.sync()
    held = _renders(after, "held") - _renders(before, "held")
    assert held > 0, after["slots"]
    assert after["engine"]["respawns"] == before["engine"]["respawns"], after["engine"]["events"]
