"""A new supervisor takes over the plugins and their isolated hosts (null backend, real
processes).

A saw plays through a boost (the test gain loaded `inline`, in the slots), the gain (loaded
`isolated`) and a TAP reverberator (a native LADSPA plugin, always isolated). The supervisor
is SIGKILLed: its plugin hosts die with it. The standby takes the engine over from the
manifest: it holds the same plugin versions (so commands to all three modules are accepted
again) and starts a new host on each isolated module's ring, which the slots kept; the slots
it adopted are renewed by workers that import all three plugins first. Both slots stay in
lockstep, and the session log, continued across the takeover with the new hosts' starts,
renders offline equal to the recording.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineError
from chronus.protocol import Message, validate
from chronus.session.stamped_log import read_stamped_log
from tests.e2e.test_failover_null import both_running
from tests.e2e.test_takeover_null import _restarted_once
from tests.plugins.modules import write_gain
from tests.processes import answered_after_takeover, gone
from tests.sessions import answer, check_replay, plugin_engine, wait_status
from tests.stalls import told_on_failure, what_happened

pytestmark = [pytest.mark.slow]

REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"
needs_tap = pytest.mark.skipif(
    not Path(REVERB.split("#")[0]).is_file(), reason="needs tap-plugins (apt install tap-plugins)"
)
PLUGINS = {"g": "gain", "rv": "tap_reverb"}
"""The isolated modules, by id, and their plugins."""
CHANGES = [
    validate("/mod/b/amount", (1.125,)), validate("/mod/g/amount", (1.25,)),
    validate("/mod/rv/decay", (1200.0,)),
]  # fmt: skip
"""Sent after the takeover: one to each plugin's module."""


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _load(client: EngineClient, spec: str, name: str, hosting: str = "isolated") -> None:
    client.send_raw("/plugins/load", spec, name, 1, hosting)
    address, args = answer(client, "/plugins/loaded", 60.0)
    assert (address, args[0], args[2]) == ("/plugins/loaded", name, "active"), args


def _hosts(client: EngineClient) -> dict[str, dict[str, Any]]:
    """Each isolated module's host health, by module id."""
    hosts: dict[str, dict[str, Any]] = {}
    for module_id, plugin in PLUGINS.items():
        health = client.plugin_health(plugin)
        assert health["runs_in"] == "isolated", health
        host = health.get("hosts", {}).get(module_id)
        if host is not None:
            hosts[module_id] = dict(host)
    return hosts


def _serving(client: EngineClient, old: dict[str, int], timeout: float) -> dict[str, Any]:
    """Wait until every isolated module has a running host other than `old`'s; their health."""
    deadline = time.monotonic() + timeout
    hosts: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(EngineError):
            hosts = _hosts(client)
            if set(hosts) == set(PLUGINS) and all(
                host["host_state"] == "running" and host["host_pid"] not in (0, old.get(m))
                for m, host in hosts.items()
            ):
                return hosts
        time.sleep(0.05)
    raise AssertionError(f"the isolated modules' hosts did not serve: {hosts}")


@needs_tap
def test_a_new_supervisor_rehosts_isolated_plugins_and_takes_changes_to_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "modules").mkdir()
    write_gain(tmp_path / "modules", 1.0)
    write_gain(tmp_path / "modules", 0.8, name="boost.py")
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            _load(client, "boost", "boost", "inline")
            _load(client, "gain", "gain")
            _load(client, REVERB, "tap_reverb")
            client.send([
                _m("/patch/create", "bass", "saw"), _m("/patch/create", "g", "gain"),
                _m("/patch/create", "rv", "tap_reverb"), _m("/patch/create", "b", "boost"),
                _m("/patch/connect", "bass", "b"), _m("/patch/connect", "b", "g"),
                _m("/patch/connect", "g", "rv"), _m("/patch/connect", "rv", "master"),
                _m("/mod/g/amount", 1.5), _m("/mod/rv/decay", 800.0),
                _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
            ])  # fmt: skip
            first = _serving(client, {}, 60.0)
            deadline = time.monotonic() + 60.0
            while not client.status()["engine"]["supervisor"]["standby"]:
                assert time.monotonic() < deadline, "no standby supervisor"
                time.sleep(0.1)
            time.sleep(1.0)
            before = client.status()
            kept = client.plugin_health("gain")
            old = before["engine"]["supervisor"]["pid"]
            killed = time.monotonic()
            os.kill(old, signal.SIGKILL)
            first_hosts = {host["host_pid"] for host in first.values()}
            assert gone(first_hosts), "a host outlived its supervisor (two would serve a ring)"
            after = answered_after_takeover(client, _restarted_once)
            assert after["engine"]["supervisor"]["pid"] != old
            second = _serving(client, {m: h["host_pid"] for m, h in first.items()}, 60.0)
            serving_s = time.monotonic() - killed
            print(f"\nthe hosts served again {serving_s:.2f} s after the kill")
            for module_id, host in second.items():
                assert host["different"] == 0, (module_id, host)
            client.send([*CHANGES])
            _, errors = client.sync(timeout=5.0)
            assert errors == []
            modules = client.dump()["modules"]
            for change in CHANGES:
                _, module_id, param = change.address.split("/")[1:]
                assert modules[module_id]["params"][param] == change.args[0], change
            health = client.plugin_health("gain")
            assert (health["state"], health["version"]) == ("active", kept["version"])
            assert health["transitions"] == kept["transitions"], "the registry was handed down"
            # The adopted slots are renewed by workers that import both plugins first.
            slots = {slot["pid"] for slot in before["slots"]}
            status = wait_status(
                client,
                lambda s: both_running(s) and not slots & {slot["pid"] for slot in s["slots"]},
                timeout=120.0,
            )  # fmt: skip
            time.sleep(1.0)
            status = client.status()
            assert status["engine"]["divergences"] == 0
            assert status["io"]["blocks_played"] > before["io"]["blocks_played"] + 300
            assert engine.quit(30.0) == 0
    except BaseException:
        print("".join(engine.stderr_tail))  # what the engine said, for a failure's reader
        raise
    finally:
        engine.kill()
    session = read_stamped_log(tmp_path / "s.log")
    for module_id in PLUGINS:
        calls = session.hosts[module_id]
        assert len(calls.fresh) == 2, f"{module_id}: the first host and the new supervisor's"
    for change in CHANGES:
        assert any(m == change for _, m in session.commands), change
    with told_on_failure(lambda: what_happened(status, None, killed, [(killed, "SIGKILL")])):
        check_replay(tmp_path, status, "takeover with isolated plugins")
