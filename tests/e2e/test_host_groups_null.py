"""Two native plugins of one maker share one plugin host (null backend, real processes).

The TAP reverberator and the TAP stereo echo (Debian's `tap-plugins`, both by Tom Szilagyi)
play in two chains while a pattern plays: one host process serves both. It is SIGKILLed: the
music plays on, both modules are bypassed, then both are served again by one new host; the
group counts one restart, health and the news name the plugins and their maker, both slots
stay in lockstep, and the session log renders offline equal to the recording.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient
from chronus.session.stamped_log import read_stamped_log
from tests.sessions import answer, check_replay, plugin_engine

pytestmark = [pytest.mark.slow]

REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"
ECHO = "/usr/lib/ladspa/tap_echo.so#tap_stereo_echo"
needs_tap = pytest.mark.skipif(
    not all(Path(p.split("#")[0]).is_file() for p in (REVERB, ECHO)),
    reason="needs tap-plugins (apt install tap-plugins)",
)


def _hosts(client: EngineClient) -> dict[str, dict[str, Any]]:
    """Every isolated module's host health, by module id."""
    hosts: dict[str, dict[str, Any]] = {}
    for name in ("tap_reverb", "tap_echo"):
        hosts.update(client.plugin_health(name, timeout=10.0).get("hosts", {}))
    return hosts


def _wait_both(client: EngineClient, restarts: int, timeout: float = 60.0) -> dict[str, Any]:
    """Both modules' host health once both are served after `restarts` restarts."""
    deadline = time.monotonic() + timeout
    hosts: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        hosts = _hosts(client)
        served = [h for h in hosts.values() if h["host_state"] == "running"]
        if len(served) == 2 and all(h["restarts"] == restarts for h in served):
            return hosts
        time.sleep(0.1)
    raise AssertionError(f"not both served after {restarts} restarts: {hosts}")


def _play_both(client: EngineClient) -> tuple[dict[str, Any], int]:
    """Load both plugins and play a pattern through each (`verb`, `echo`); their hosts'
    health once both are served, and the pid of the one host serving them."""
    for reference, name in ((REVERB, "tap_reverb"), (ECHO, "tap_echo")):
        client.send_raw("/plugins/load", reference, name)
        address, args = answer(client, "/plugins/loaded", 60.0)
        assert address == "/plugins/loaded", args
    for address_, *rest in (
        ("/patch/create", "bass", "saw"), ("/patch/create", "verb", "tap_reverb"),
        ("/patch/connect", "bass", "verb"), ("/patch/connect", "verb", "master"),
        ("/patch/create", "lead", "saw"), ("/patch/create", "echo", "tap_echo"),
        ("/patch/connect", "lead", "echo"), ("/patch/connect", "echo", "master"),
        ("/seq/bass/pattern", "c2 eb2 g2 c3"), ("/seq/lead/pattern", "c4 g4 eb4 ~"),
        ("/seq/start",),
    ):  # fmt: skip
        client.send_raw(address_, *rest)
    first = _wait_both(client, 0)
    [pid] = {host["host_pid"] for host in first.values()}
    return first, pid


@needs_tap
def test_two_plugins_of_one_maker_share_a_host_that_dies_and_comes_back(
    tmp_path: Path,
) -> None:
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            first, pid = _play_both(client)
            assert first["verb"]["maker"] == first["echo"]["maker"] == "Tom Szilagyi"
            assert first["verb"]["host_group"] == "tom_szilagyi"
            assert first["verb"]["group_modules"] == ["verb", "echo"]
            listed = {plugin["name"]: plugin for plugin in client.plugins()}
            assert listed["tap_echo"]["maker"] == "Tom Szilagyi"
            assert listed["tap_echo"]["host_group"] == "tom_szilagyi"
            time.sleep(1.0)
            played = int(client.status()["io"]["blocks_played"])
            os.kill(pid, signal.SIGKILL)
            second = _wait_both(client, 1)
            [pid2] = {host["host_pid"] for host in second.values()}
            assert pid2 != pid
            for host in second.values():
                assert host["deaths"] == ["died of signal 9"]
                assert host["different"] == 0 and host["host_errors"] == 0
            news = [event["text"] for event in client.now()["events"]]
            told = [text for text in news if text.startswith("verb, echo: their plugin host")]
            assert len(told) == 1, news
            assert "died of signal 9" in told[0] and "maker Tom Szilagyi" in told[0]
            time.sleep(1.0)
            status = client.status()
            assert int(status["io"]["blocks_played"]) > played + 48000 // 128, "it played on"
            assert status["engine"]["divergences"] == 0
        assert engine.quit() == 0
    finally:
        engine.kill()
    session = read_stamped_log(tmp_path / "s.log")
    assert set(session.hosts) == {"verb", "echo"}
    for calls in session.hosts.values():
        assert len(calls.fresh) == 2, "the shared host, then the one that replaced it"
        assert calls.bypassed
    check_replay(tmp_path, status, "ladspa")


@needs_tap
def test_a_module_of_a_shared_host_made_again_by_a_commit_keeps_the_host_and_replays(
    tmp_path: Path,
) -> None:
    """The reverberator made again under its id by a commit while the echo plays in the same
    host: the host serves the old one until the switch and the new one after it, never
    restarts, and the session log keeps the two reverberators' host lines apart (`life`)."""
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            _, pid = _play_both(client)
            time.sleep(1.0)
            for address_, *rest in (
                ("/patch/begin",), ("/patch/remove", "verb"),
                ("/patch/create", "verb", "tap_reverb"), ("/patch/connect", "bass", "verb"),
                ("/patch/connect", "verb", "master"), ("/patch/commit", 50.0),
            ):  # fmt: skip
                client.send_raw(address_, *rest)
            assert answer(client, "/patch/committed", 30.0)[0] == "/patch/committed"
            time.sleep(2.5)  # past the old reverberator's close
            hosts = _wait_both(client, 0)
            assert {host["host_pid"] for host in hosts.values()} == {pid}, "the same host"
            for host in hosts.values():
                assert host["different"] == 0 and host["host_errors"] == 0, host
            assert sorted(hosts["verb"]["group_modules"]) == ["echo", "verb"]
            status = client.status()
            assert status["engine"]["divergences"] == 0
        assert engine.quit() == 0
    finally:
        engine.kill()
    session = read_stamped_log(tmp_path / "s.log")
    [again] = session.hosts["verb"].later
    assert len(session.hosts["verb"].fresh) == 1 and len(again.fresh) == 1
    assert len(session.hosts["echo"].fresh) == 1 and not session.hosts["echo"].later
    check_replay(tmp_path, status, "ladspa made again in a shared host")
