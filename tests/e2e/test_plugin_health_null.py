"""Faulty plugin modules in a playing engine: the music goes on and `/plugins` tells the story.

The engine loads tests/faults.py through CHRONUS_MODULES, so each fault_* type is a plugin in
the registry. A saw plays through a fault module that is armed mid-note: one that raises is
bypassed block by block and suspended after 16 (reason `errors`); one that segfaults kills
the active slot, the standby quarantines it (reason `crash`). `/plugins`, the
`/plugins/<name>/health` reply and `/engine/status` show the counts and the state, over
real OSC; an unknown plugin is an `/error`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chronus.dsp.guard import SUSPEND_AFTER_ERRORS
from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import validate

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def engine(fault_engine_null: EngineProcess) -> EngineProcess:
    return fault_engine_null


def plugins(client: EngineClient) -> dict[str, dict[str, Any]]:
    listing = json.loads(str(client.ask("/plugins")[0]))
    return {entry["name"]: entry for entry in listing}


def health(client: EngineClient, name: str) -> dict[str, Any]:
    return dict(json.loads(str(client.ask(f"/plugins/{name}/health")[0])))


def wait_for_state(client: EngineClient, name: str, state: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while plugins(client)[name]["state"] != state:
        assert time.monotonic() < deadline, plugins(client)[name]
        time.sleep(0.1)


def play_through(client: EngineClient, voice: str, fx: str, kind: str) -> None:
    client.send([
        validate("/patch/create", (voice, "saw")),
        validate("/patch/create", (fx, f"fault_{kind}")),
        validate("/patch/connect", (voice, fx)),
        validate("/patch/connect", (fx, "master")),
        validate(f"/note/{voice}", (48, 100, 5.0)),
    ])  # fmt: skip
    client.sync()


def test_every_user_module_type_is_an_active_plugin(engine: EngineProcess) -> None:
    with engine.client() as client:
        listing = plugins(client)
        assert "saw" not in listing
        for kind in ("raise", "nan", "segfault"):
            entry = listing[f"fault_{kind}"]
            assert entry["state"] == "active" and entry["path"].endswith("faults.py")
            assert entry["runs_in"] == "inline"
        status = client.status()
        assert {entry["name"] for entry in status["plugins"]} == set(listing)
        with pytest.raises(EngineError, match="no plugin called 'nothing'"):
            client.ask("/plugins/nothing/health")


LAST_ERRORS = {
    "raise": "RuntimeError('fault_raise misbehaves as asked')",
    "nan": "FloatingPointError('256 non-finite samples')",
}
"""What each fault's last error says (NaN: both channels of a block of 128 frames)."""


@pytest.mark.parametrize("kind", sorted(LAST_ERRORS))
def test_a_failing_plugin_is_counted_then_suspended_and_the_music_goes_on(
    engine: EngineProcess, kind: str
) -> None:
    name, voice, fx = f"fault_{kind}", f"voice_{kind}", f"fx_{kind}"
    with engine.client() as client:
        play_through(client, voice, fx, kind)
        time.sleep(0.5)
        before = plugins(client)[name]
        assert before["success_count"] > 50, before
        assert before["error_count"] == 0 and before["cpu_us_p50"] > 0.0
        io0 = client.status()["io"]
        client.send([validate(f"/mod/{fx}/armed", (1.0,))])
        wait_for_state(client, name, "suspended")
        time.sleep(0.6)
        after = health(client, name)
        io1 = client.status()["io"]
        client.send([validate("/patch/remove", (voice,)), validate("/patch/remove", (fx,))])
    assert after["error_count"] == SUSPEND_AFTER_ERRORS, after
    assert after["last_error"] == LAST_ERRORS[kind]
    assert after["success_count"] >= before["success_count"]
    last = after["transitions"][-1]
    assert last["state"] == "suspended" and last["reason"] == "errors"
    assert LAST_ERRORS[kind] in last["detail"]
    played = io1["blocks_played"] - io0["blocks_played"]
    sounded = io1["sounding_blocks"] - io0["sounding_blocks"]
    assert played > 100 and sounded >= 0.9 * played, "the saw stopped sounding"


def test_a_crashing_plugin_is_quarantined(engine: EngineProcess) -> None:
    with engine.client() as client:
        play_through(client, "voice_s", "fx_s", "segfault")
        time.sleep(0.3)
        client.send([validate("/mod/fx_s/armed", (1.0,))])
        wait_for_state(client, "fault_segfault", "quarantined")
        detail = health(client, "fault_segfault")
        status = client.status()
    assert detail["transitions"][-1]["reason"] == "crash"
    assert "fx_s" in status["engine"]["quarantined"]
    assert status["engine"]["failovers"] >= 1
    others = {entry["name"]: entry["state"] for entry in status["plugins"]}
    assert others["fault_hang"] == "active", "a plugin that did nothing wrong is as it was"
