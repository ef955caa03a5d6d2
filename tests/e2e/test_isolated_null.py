"""A user module hosted `isolated` in a playing engine (null backend, real processes).

The gain module is loaded `isolated`: its modules' code runs in a host process of their own,
the slots exchange blocks with it over a shared-memory ring and play its output one block
late. A pattern plays through it; its host is SIGKILLed: blocks keep coming, the module is
bypassed until the keeper's spare takes over, health shows the restart, and the session log
(with the hosts' starts and the bypassed calls) renders offline equal to the recording.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate
from chronus.session.stamped_log import HostCalls, read_stamped_log
from tests.plugins.modules import write_gain
from tests.sessions import (
    answer,
    check_hosted_replay,
    check_replay,
    plugin_engine,
)

pytestmark = [pytest.mark.slow]

RATE, BLOCK = 48000, 128


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _chain(*more: Message) -> list[Message]:
    """A saw through the gain, a pattern playing."""
    return [
        _m("/patch/create", "bass", "saw"), _m("/patch/create", "g", "gain"),
        _m("/patch/connect", "bass", "g"), _m("/patch/connect", "g", "master"), *more,
        _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
    ]  # fmt: skip


def _host(client: EngineClient) -> dict[str, Any]:
    health = client.plugin_health("gain")
    assert health["runs_in"] == "isolated"
    return dict(health["hosts"]["g"])


def _wait_host(client: EngineClient, restarts: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host = _host(client)
        if host["host_state"] == "running" and host["restarts"] == restarts:
            return host
        time.sleep(0.1)
    raise AssertionError(f"no running host after {restarts} restarts: {_host(client)}")


@contextmanager
def _isolated_gain(tmp_path: Path) -> Iterator[tuple[EngineProcess, EngineClient]]:
    """An engine that logs and records, with the gain module loaded isolated."""
    (tmp_path / "modules").mkdir()
    write_gain(tmp_path / "modules", 1.0)
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send_raw("/plugins/load", "gain", "", 1, "isolated")
            address, (name, _, state) = answer(client, "/plugins/loaded")
            assert (address, name, state) == ("/plugins/loaded", "gain", "active")
            yield engine, client
    finally:
        engine.kill()


def test_an_isolated_module_plays_survives_a_sigkill_of_its_host_and_replays_offline(
    tmp_path: Path,
) -> None:
    with _isolated_gain(tmp_path) as (engine, client):
        client.send(_chain(_m("/mod/g/amount", 1.5)))
        first = _wait_host(client, 0)
        assert first["latency_blocks"] == 1 and first["host_pid"] > 0
        title = Path(f"/proc/{first['host_pid']}/cmdline").read_bytes().rstrip(b"\0")
        assert title == b"chronus: plugin host gain"  # what ps shows
        time.sleep(1.0)
        played = client.status()["io"]["blocks_played"]
        os.kill(first["host_pid"], signal.SIGKILL)
        second = _wait_host(client, 1)
        assert second["host_pid"] != first["host_pid"]
        assert second["deaths"] == ["died of signal 9"]
        told = [event["text"] for event in client.now()["events"]]
        assert "g: its plugin host died of signal 9; respawning now" in told, told
        assert second["different"] == 0, "both slots offered the same input: in lockstep"
        assert second["host_errors"] == 0
        time.sleep(1.0)
        status = client.status()
        assert status["io"]["blocks_played"] > played + RATE // BLOCK, "blocks kept coming"
        assert engine.quit() == 0
    check_hosted_replay(tmp_path, status, "isolated")
    assert "g" in read_stamped_log(tmp_path / "s.log").hosts


def test_an_isolated_module_made_by_a_commit_is_hosted_and_replays_offline(
    tmp_path: Path,
) -> None:
    with _isolated_gain(tmp_path) as (engine, client):
        client.send([
            _m("/patch/create", "bass", "saw"), _m("/patch/connect", "bass", "master"),
            _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
        ])  # fmt: skip
        time.sleep(0.5)
        client.send([
            _m("/patch/begin"), _m("/patch/create", "g", "gain"),
            _m("/patch/disconnect", "bass", "master"), _m("/patch/connect", "bass", "g"),
            _m("/patch/connect", "g", "master"), _m("/patch/commit", 50.0),
        ])  # fmt: skip
        assert answer(client, "/patch/committed")[0] == "/patch/committed"
        assert _wait_host(client, 0)["different"] == 0
        time.sleep(1.0)
        status = client.status()
        assert engine.quit() == 0
    session = read_stamped_log(tmp_path / "s.log")
    [commit] = session.commits
    assert commit.messages[0].address == "/patch/create"
    assert len(session.hosts["g"].fresh) == 1
    check_replay(tmp_path, status, "committed isolated")


def _late_bypasses(calls: HostCalls, after: int = 300) -> list[int]:
    """A module's calls bypassed later than `after` calls past its first host's start (a
    host just started catches up with the calls for a while)."""
    start = min(calls.fresh)
    return sorted(call for call in calls.bypassed if call > start + after)


def _new_host(client: EngineClient, old_pid: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host = _host(client)
        if host["host_state"] == "running" and host["host_pid"] != old_pid:
            return host
        time.sleep(0.05)
    raise AssertionError(f"no new host: {_host(client)}")


def _made_again(client: EngineClient, *around: Message) -> dict[str, Any]:
    """Play the gain, then make it again under its id (`around` the remove and the create);
    the new module's host, 2.5 s later (past the old one's close)."""
    client.send(_chain(_m("/mod/g/amount", 1.5)))
    first = _wait_host(client, 0)
    time.sleep(1.0)
    again = [
        _m("/patch/remove", "g"), _m("/patch/create", "g", "gain"),
        _m("/patch/connect", "bass", "g"), _m("/patch/connect", "g", "master"),
        _m("/mod/g/amount", 0.5),
    ]  # fmt: skip
    if around:
        client.send([around[0], *again, *around[1:]])
        assert answer(client, "/patch/committed")[0] == "/patch/committed"
    else:
        client.send(again)
    _new_host(client, first["host_pid"])
    time.sleep(2.5)
    host = _host(client)
    assert host["host_state"] == "running" and host["restarts"] == 0, host
    assert host["different"] == 0 and host["host_errors"] == 0, host
    return host


def _lives_apart(tmp_path: Path) -> tuple[HostCalls, HostCalls]:
    """The session log's host lines of the first module and of the one made again under
    its id, each with its own host's start."""
    old = read_stamped_log(tmp_path / "s.log").hosts["g"]
    [new] = old.later
    assert len(old.fresh) == 1 and len(new.fresh) == 1, (old.fresh, new.fresh)
    return old, new


def test_an_isolated_module_made_again_by_a_commit_under_its_id_keeps_both_hosts_apart(
    tmp_path: Path,
) -> None:
    with _isolated_gain(tmp_path) as (engine, client):
        _made_again(client, _m("/patch/begin"), _m("/patch/commit", 50.0))
        status = client.status()
        assert engine.quit() == 0
    old, _ = _lives_apart(tmp_path)
    late = _late_bypasses(old)
    assert len(late) < 16, f"the old module's host served on until the switch: {late[:20]}"
    check_replay(tmp_path, status, "isolated made again by a commit")


def test_an_isolated_module_removed_and_made_again_under_its_id_replays_offline(
    tmp_path: Path,
) -> None:
    with _isolated_gain(tmp_path) as (engine, client):
        _made_again(client)
        status = client.status()
        assert engine.quit() == 0
    check_replay(tmp_path, status, "isolated removed and made again")
    _lives_apart(tmp_path)


def _both_running(status: dict[str, Any]) -> bool:
    return all(slot["state"] == "running" for slot in status["slots"])


def test_a_slot_killed_under_an_isolated_module_is_rejoined_on_the_same_ring(
    tmp_path: Path,
) -> None:
    with _isolated_gain(tmp_path) as (engine, client):
        client.send(_chain())
        _wait_host(client, 0)
        time.sleep(0.5)
        [active] = [slot for slot in client.status()["slots"] if slot["role"] == "active"]
        os.kill(active["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            status = client.status()
            if status["engine"]["failovers"] == 1 and _both_running(status):
                break
            time.sleep(0.1)
        assert status["engine"]["failovers"] == 1 and _both_running(status), status["slots"]
        time.sleep(1.0)
        host = _host(client)
        status = client.status()
        assert engine.quit() == 0
    assert host["restarts"] == 0 and host["different"] == 0, host
    assert status["engine"]["divergences"] == 0
    check_replay(tmp_path, status, "isolated failover")
