"""Stated limits instead of collapse: a patch that takes most of the machine refuses new
modules with a clear /error and changes nothing; once the load is gone, it takes them again.
A patch beyond the machine (each block takes twice its period) makes underruns, but the
watchdog does not take the slow slots for hung ones: no slot is killed, and the engine is
whole again when the load goes."""

from __future__ import annotations

import time

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


def _load(client: EngineClient) -> float:
    slots = client.status()["slots"]
    active = next(slot for slot in slots if slot["role"] == "active")
    return float(active["render"]["p50_us"]) / (1e6 * 128 / 48000)


def test_a_patch_past_the_load_limit_refuses_new_modules(engine: EngineProcess) -> None:
    with engine.client() as client:
        assert _create(client, "before") == []
        client.send([
            validate("/patch/create", ("heavy", "fault_heavy")),
            validate("/patch/connect", ("heavy", "master")),
            validate("/mod/heavy/armed", (1,)),
        ])  # fmt: skip
        client.sync()
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
        client.send([
            validate("/patch/create", ("over", "fault_overload")),
            validate("/patch/connect", ("over", "master")),
            validate("/mod/over/armed", (1,)),
        ])  # fmt: skip
        client.sync()
        before = client.status()
        time.sleep(3.0)  # twenty times the hang deadline, every block too slow
        during = client.status()
        client.send([validate("/mod/over/armed", (0,))])
        client.sync()
        time.sleep(1.0)
        after = client.status()
    assert during["io"]["underruns"] > before["io"]["underruns"]  # it was overloaded
    for status in (during, after):
        engine_status = status["engine"]
        assert engine_status["respawns"] == before["engine"]["respawns"], engine_status["events"]
        assert engine_status["failovers"] == before["engine"]["failovers"]
        assert engine_status["quarantined"] == {}
        assert all(slot["seat"] == "running" for slot in status["slots"])
