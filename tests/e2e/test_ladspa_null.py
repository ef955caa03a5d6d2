"""A native plugin played by a real engine (null backend), as the language asks for it.

`load plugin tap_reverb` loads the TAP reverberator (Debian's `tap-plugins`); it is hosted
isolated, in a plugin host of its own, never inside the slots. `add a tap reverb after bass`
puts it in a chain while a pattern plays. Its host is SIGKILLed: the music plays on, health
shows the restart, and the session log renders offline — the plugin run in-process on the
same input, bypassed where the log says — equal to the recording. Asked for `inline`, it is
refused with the reason and nothing is loaded.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronus.dsp.specs import declare_dumped, undeclare
from chronus.engine.client import EngineClient, EngineProcess
from chronus.lang.interpreter import Interpreter
from chronus.lang.native import NativePlugin, declare_native
from chronus.session.stamped_log import read_stamped_log
from tests.sessions import answer, check_hosted_replay, plugin_engine

pytestmark = [pytest.mark.slow]

REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"
BLOCK = 128
needs_tap = pytest.mark.skipif(
    not Path(REVERB.split("#")[0]).is_file(), reason="needs tap-plugins (apt install tap-plugins)"
)


@pytest.fixture
def interpreter() -> Iterator[Interpreter]:
    declare_native([NativePlugin("tap_reverb", REVERB, "Reverberator", "Tom Szilagyi")])
    try:
        yield Interpreter()
    finally:
        declare_native([])
        undeclare("tap_reverb")


def _say(client: EngineClient, interpreter: Interpreter, text: str) -> None:
    result = interpreter.interpret(text)
    assert result.ok, text
    client.send(list(result.messages))


def _wait_host(client: EngineClient, restarts: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = client.plugin_health("tap_reverb")
        hosts = health.get("hosts", {})
        if len(hosts) == 1:
            [host] = hosts.values()
            if host["host_state"] == "running" and host["restarts"] == restarts:
                return dict(host)
        time.sleep(0.1)
    raise AssertionError(f"no running host after {restarts} restarts")


def _play(engine: EngineProcess, interpreter: Interpreter) -> dict[str, Any]:
    with engine.client() as client:
        _say(client, interpreter, "load plugin tap_reverb")
        address, (name, _, state) = answer(client, "/plugins/loaded", 60.0)
        assert (address, name, state) == ("/plugins/loaded", "tap_reverb", "active")
        assert client.plugin_health("tap_reverb")["runs_in"] == "isolated"
        declare_dumped(client.dump()["plugin_types"])  # what the shell does
        _say(client, interpreter, "add a saw called bass")
        _say(client, interpreter, "add a tap reverb after bass")
        client.send_raw("/seq/bass/pattern", "c2 eb2 g2 c3")
        client.send_raw("/seq/start")
        first = _wait_host(client, 0)
        time.sleep(1.0)
        os.kill(first["host_pid"], signal.SIGKILL)
        second = _wait_host(client, 1)
        assert second["deaths"] == ["died of signal 9"] and second["different"] == 0
        time.sleep(1.0)
        status = client.status()
    assert engine.quit() == 0
    return status


@needs_tap
def test_a_tap_reverb_plays_isolated_survives_its_host_and_replays_offline(
    tmp_path: Path, interpreter: Interpreter
) -> None:
    engine = plugin_engine(tmp_path)
    try:
        status = _play(engine, interpreter)
    finally:
        engine.kill()
    session = read_stamped_log(tmp_path / "s.log")
    uses = [m.args for _, m in session.commands if m.address == "/plugins/use"]
    assert [(use[0], use[2], use[3]) for use in uses] == [("tap_reverb", REVERB, "isolated")]
    check_hosted_replay(tmp_path, status, "ladspa")


@needs_tap
def test_a_native_plugin_is_refused_inline(null_engine: EngineProcess) -> None:
    with null_engine.client() as client:
        before = int(client.status()["io"]["blocks_played"])
        client.send_raw("/plugins/load", REVERB, "tap_reverb", 0, "inline")
        address, args = answer(client, "/plugins/loaded", 10.0)
        assert address == "/error" and args[0] == "/plugins/load"
        assert "tap_reverb is a native (LADSPA) plugin" in args[1]
        assert "never inside the slots" in args[1]
        assert [p["name"] for p in client.plugins()] == []
        time.sleep(0.2)
        assert int(client.status()["io"]["blocks_played"]) > before
