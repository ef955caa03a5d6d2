"""An isolated source plays its notes, in a playing engine (null backend, real processes).

A user module that is a voice (it plays notes) is loaded with no hosting word, so it runs
isolated: its host renders it, the slots play its output a block late. A pattern with a
parameter lane plays on it. What was recorded is the offline render of the session log
(the hosts' starts and bypasses replayed), and that render, with no call bypassed once the
host served, is the same session played inline one block later, bit for bit.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus.engine.client import EngineClient
from chronus.protocol import Message, validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import HostCalls, StampedSession, read_stamped_log
from chronus.session.wav import read_wav
from tests.sessions import answer, check_replay, plugin_engine

pytestmark = [pytest.mark.slow]

BEEP = Path(__file__).resolve().parents[1] / "plugins" / "faulty" / "good_source.py"


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _running_host(client: EngineClient, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hosts = client.plugin_health("beep").get("hosts") or {}
        if hosts.get("v", {}).get("host_state") == "running":
            return dict(hosts["v"])
        time.sleep(0.1)
    raise AssertionError(f"no running host: {client.plugin_health('beep')}")


def _inline(session: StampedSession) -> StampedSession:
    """The same session with the plugin played inline (no host, no lag)."""
    commands = []
    for sample, message in session.commands:
        if message.address == "/plugins/use":
            message = validate("/plugins/use", (*message.args[:3], "inline"))
        commands.append((sample, message))
    return dataclasses.replace(session, commands=commands, hosts={})


def test_an_isolated_source_plays_its_pattern_as_inline_a_block_late(tmp_path: Path) -> None:
    (tmp_path / "modules").mkdir()
    shutil.copy(BEEP, tmp_path / "modules" / "beep.py")
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send_raw("/plugins/load", "beep")  # validated; no hosting word: isolated
            address, args = answer(client, "/plugins/loaded", 60.0)
            assert address == "/plugins/loaded", args
            client.send([_m("/patch/create", "v", "beep"), _m("/patch/connect", "v", "master")])
            _running_host(client)  # the host's first call comes before the first note
            client.send([
                _m("/tempo", 133.0, 1),
                _m("/seq/v/pattern", "c4 eb4 [g4 c5] . a3 c4"),
                _m("/seq/v/lane", "detune", "-30 . 20 45"),
                _m("/seq/v/gate", 0.3),
            ])  # fmt: skip
            time.sleep(3.0)
            health = client.plugin_health("beep")
            status = client.status()
        assert engine.quit() == 0
    finally:
        engine.kill()
    assert health["runs_in"] == "isolated"
    host = health["hosts"]["v"]
    print(f"\nisolated source's host: {host}")
    assert host["different"] == 0 and host["host_errors"] == 0 and host["restarts"] == 0
    check_replay(tmp_path, status, "isolated source")  # the recording, with its bypasses
    session = read_stamped_log(tmp_path / "s.log")
    [calls] = session.hosts.values()
    first = min(calls.fresh)
    served = HostCalls({call for call in calls.bypassed if call < first}, {first})
    ideal = render_session(dataclasses.replace(session, hosts={"v": served}), session.end)
    inline = render_session(_inline(session), session.end)
    block = session.block
    assert np.abs(inline).max() > 0.05, "the notes sound"
    assert np.array_equal(ideal[block:], inline[:-block]), "the inline voice, a block late"
    recorded, _ = read_wav(tmp_path / "out.wav")
    assert np.abs(recorded).max() > 0.05, "the notes sounded live"
