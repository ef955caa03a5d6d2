"""A thousand modules and the ceiling beyond them, on a real engine (null backend).

A burst of bare creates of every type is paced by the supervisor, applied in both slots
without a slot killed, and the idle result costs the slots next to nothing; removing it all
leaves a working engine. The module ceiling refuses the create that would cross it with an
/error and changes nothing.
"""

from __future__ import annotations

import time

import pytest

from chronus.dsp.patch import MAX_MODULES
from chronus.dsp.specs import BUILTIN_TYPE_NAMES
from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate

pytestmark = [pytest.mark.slow]


def _send(client: EngineClient, messages: list[Message], per_sync: int = 50) -> list[str]:
    errors: list[str] = []
    for start in range(0, len(messages), per_sync):
        client.send(messages[start : start + per_sync])
        errors += [str(note[1]) for note in client.sync(timeout=30.0)[1] if note[0] == "/error"]
    return errors


def _settle(client: EngineClient, count: int, timeout: float = 20.0) -> None:
    """Wait until both slots hold `count` modules' worth of applied commands (the burst was
    paced into later blocks)."""
    deadline = time.monotonic() + timeout
    stamp, _ = client.sync()
    while time.monotonic() < deadline:
        played = client.status()["io"]["blocks_played"] * 128
        if played > stamp + 48000 // 4:
            return
        time.sleep(0.05)
    raise AssertionError(f"the engine did not reach sample {stamp}")


def test_a_thousand_bare_modules_and_back() -> None:
    types = BUILTIN_TYPE_NAMES
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            before = client.status()
            creates = [
                validate("/patch/create", (f"m{i}", types[i % len(types)])) for i in range(1000)
            ]
            assert _send(client, creates) == []
            _settle(client, 1000)
            time.sleep(0.5)  # a window of idle blocks
            idle = client.status()
            assert len(client.dump()["modules"]) == 1000
            removes = [validate("/patch/remove", (f"m{i}",)) for i in range(1000)]
            assert _send(client, removes) == []
            _settle(client, 0)
            client.send([
                validate("/patch/create", ("lead", "saw")),
                validate("/patch/connect", ("lead", "master")),
                validate("/note/lead", (60, 100, 0.3)),
            ])  # fmt: skip
            client.sync()
            time.sleep(0.5)
            after = client.status()
        active = next(slot for slot in idle["slots"] if slot["role"] == "active")
        print(
            f"\n1000 bare modules: idle render {active['render']}, longest command "
            f"{max(s['max_apply_us'] for s in idle['slots'])} µs, underruns "
            f"{after['io']['underruns'] - before['io']['underruns']}"
        )
        assert after["engine"]["respawns"] == 0 and after["engine"]["failovers"] == 0
        assert all(slot["seat"] == "running" for slot in after["slots"])
        assert after["io"]["last_onset_age_s"] is not None
        assert after["io"]["last_onset_age_s"] < 0.6  # the new saw sounded
    finally:
        assert engine.quit() == 0


def test_the_module_ceiling_refuses_with_an_error() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            creates = [validate("/patch/create", (f"f{i}", "lowpass")) for i in range(MAX_MODULES)]
            assert _send(client, creates, per_sync=100) == []
            errors = _send(client, [validate("/patch/create", ("one_more", "saw"))])
            assert len(errors) == 1 and str(MAX_MODULES) in errors[0], errors
            modules = client.dump()["modules"]
            assert len(modules) == MAX_MODULES and "one_more" not in modules
            status = client.status()
        assert status["engine"]["respawns"] == 0
    finally:
        assert engine.quit() == 0
