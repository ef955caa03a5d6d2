"""User modules loaded, reloaded and unloaded in a playing engine (null backend).

A module file is loaded into the engine while a pattern plays, made part of the chain, swapped
for a new version through a commit (crossfaded, its parameters kept) and unloaded; the session
log, rendered offline, gives the recording bit for bit (the offline render imports the same
versions from the store at the same samples). A reload that fails keeps the old version
playing, and nothing a client sends loads code but `/plugins/load`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.slot import SLOT_PRIORITY
from chronus.protocol import Message, validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks, explained_blocks
from tests.foreign_realtime import ForeignRealtime, blocks_explained
from tests.plugins.modules import EXITING_AT_IMPORT, RAISING_AT_IMPORT, write_gain
from tests.sessions import answer, plugin_engine
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]

RATE, BLOCK = 48000, 128


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    process = plugin_engine(tmp_path)
    try:
        yield process
    finally:
        process.kill()


def _play_through_gain(client: EngineClient) -> None:
    client.send([
        _m("/patch/create", "bass", "saw"), _m("/patch/create", "g", "gain"),
        _m("/patch/connect", "bass", "g"), _m("/patch/connect", "g", "master"),
        _m("/mod/g/amount", 1.5),
        _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
    ])  # fmt: skip


def test_load_reload_and_unload_while_playing_replay_offline_bit_for_bit(
    engine: EngineProcess, tmp_path: Path
) -> None:
    (tmp_path / "modules").mkdir()
    write_gain(tmp_path / "modules", 1.0)
    with (
        engine.client() as client,
        StallMonitor() as host,
        ForeignRealtime(SLOT_PRIORITY) as others,
    ):
        client.send([_m("/patch/create", "lead", "sine"), _m("/patch/connect", "lead", "master")])
        client.send([_m("/note/lead", 81, 60, 30.0)])
        client.send_raw("/plugins/load", "gain", "", 1, "inline")  # a bare name: --modules
        address, (name, old, state) = answer(client, "/plugins/loaded")
        assert (address, name, state) == ("/plugins/loaded", "gain", "active")
        _play_through_gain(client)
        client.sync()
        time.sleep(0.5)
        write_gain(tmp_path / "modules", 0.25)  # the edit changes nothing until the reload
        assert json.loads(str(client.request("/engine/dump")[0]))["plugins"] == {"gain": old}
        client.send_raw("/plugins/reload", "gain", 1)
        address, (name, new, state) = answer(client, "/plugins/loaded")
        assert (address, name, state) == ("/plugins/loaded", "gain", "active") and new != old
        dump = client.dump()
        assert dump["plugins"] == {"gain": new}
        kind = dump["plugin_types"]["gain"]
        assert kind["processor"] and [p["name"] for p in kind["params"]][:3] == [
            "amount", "volume", "pan",
        ]  # fmt: skip
        template = client.status()["engine"]["template"]
        assert f"gain {old}" in template["plugins"], "later forks are born with the code"
        assert dump["modules"]["g"]["params"]["amount"] == 1.5, "parameters are kept"
        time.sleep(0.5)
        client.send_raw("/plugins/unload", "gain")
        assert answer(client, "/plugins/unloaded") == ("/plugins/unloaded", ("gain",))
        dump = client.dump()
        assert "g" not in dump["modules"] and "bass" in dump["modules"]
        assert dump["plugins"] == {}
        client.send([_m("/patch/create", "g2", "gain")])
        assert answer(client, "/error", 2.0)[1][0] == "/patch/create", "the type is gone"
        time.sleep(0.3)
        status = client.status()
    assert engine.quit() == 0
    engine_status = status["engine"]
    assert engine_status["commits"] == 1 and engine_status["failovers"] == 0
    assert engine_status["plugin_role_swaps"] >= 1, "the active never imports: the seats swap"
    assert engine_status["plugins_in_use"] == {}
    assert status["io"]["underruns"] <= blocks_explained(host, others, 1000 * BLOCK / RATE)
    stored = sorted(p.name for p in (tmp_path / "store").iterdir())
    assert stored == sorted([f"gain-{old}.py", f"gain-{new}.py"])
    session = read_stamped_log(tmp_path / "s.log")
    uses = [m.args[:2] for _, m in session.commands if m.address == "/plugins/use"]
    assert uses == [("gain", old)]
    [commit] = session.commits
    assert [m.args[:2] for m in commit.messages] == [("gain", new)]
    assert commit.crossfade > 0, "the reload is crossfaded (the replay below crossfades alike)"
    assert any(m.address == "/plugins/forget" for _, m in session.commands)
    recorded, _ = read_wav(tmp_path / "out.wav")
    offline = render_session(session, len(recorded))
    assert np.abs(offline[commit.switch - 4 * BLOCK : commit.switch]).max() > 0.01
    span, end = 40 * BLOCK, commit.switch + commit.crossfade
    left = recorded[:, 0].astype(np.float64)
    rms_before = np.sqrt(np.mean(left[commit.switch - span : commit.switch] ** 2))
    rms_after = np.sqrt(np.mean(left[end : end + span] ** 2))
    assert rms_after < 0.8 * rms_before, "the new version (a quarter of the gain) is heard"
    running = differing_blocks(recorded, offline, BLOCK, status["io"]["blocks_played"])
    underruns = status["io"]["underruns"]
    print(f"\nplugin replay: {len(running)} blocks differ {running[:8]}, underruns {underruns}")
    assert len(running) <= explained_blocks(status["io"]), (running[:10], status["io"])
    (tmp_path / "store" / f"gain-{new}.py").write_text("# changed\n")
    with pytest.raises(ValueError, match=f"no longer in the plugin store as they were: gain {new}"):
        render_session(session, len(recorded))


def test_a_reload_that_fails_keeps_the_old_version_playing(
    engine: EngineProcess, tmp_path: Path
) -> None:
    source = write_gain(tmp_path, 1.0)
    with engine.client() as client:
        client.send_raw("/plugins/load", str(source), "gain", 1, "inline")
        address, (_, old, _) = answer(client, "/plugins/loaded")
        assert address == "/plugins/loaded"
        _play_through_gain(client)
        client.sync()
        before = client.status()
        source.write_text(RAISING_AT_IMPORT)
        client.send_raw("/plugins/reload", "gain", 1)  # forced: the workers' import fails
        address, (about, why) = answer(client, "/plugins/loaded")
        assert (address, about) == ("/error", "/plugins/reload")
        assert "import_failed" in why and "broken at import" in why and old in why
        time.sleep(0.3)
        dump = client.dump()
        status = client.status()
    assert dump["plugins"] == {"gain": old} and "g" in dump["modules"]
    assert status["engine"]["commits"] == 0
    assert all(slot["seat"] == "running" for slot in status["slots"])
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding >= 0.9 * played > 0, "the music went on"


def test_no_command_but_plugins_load_brings_code_in(engine: EngineProcess, tmp_path: Path) -> None:
    source = write_gain(tmp_path, 1.0)
    with engine.client() as client:
        client.send([_m("/plugins/use", "gain", "0" * 12, str(source))])
        assert answer(client, "/nothing", 2.0)[1][0] == "/plugins/use"
        client.send([_m("/patch/create", "g", "gain")])
        assert answer(client, "/nothing", 2.0)[1][0] == "/patch/create"
        for args in [("/nowhere/x.py",), (str(source), "saw", 1), ("gain", "", 1)]:
            client.send_raw("/plugins/load", *args)
            assert answer(client, "/nothing", 2.0)[1][0] == "/plugins/load", args
        client.send_raw("/plugins/reload", "gain")
        assert answer(client, "/nothing", 2.0)[1][0] == "/plugins/reload"
        client.send_raw("/plugins/unload", "gain")
        assert answer(client, "/nothing", 2.0)[1][0] == "/plugins/unload"
        assert "g" not in client.dump()["modules"]


def test_a_forced_module_that_kills_its_importer_costs_no_slot(
    engine: EngineProcess, tmp_path: Path
) -> None:
    source = tmp_path / "gain.py"
    source.write_text(EXITING_AT_IMPORT)
    with engine.client() as client:
        _play_through_gain_free(client)
        client.sync()
        before = client.status()
        client.send_raw("/plugins/load", str(source), "gain", 1)
        address, (about, why) = answer(client, "/plugins/loaded")
        assert (address, about) == ("/error", "/plugins/load")
        assert "import_failed" in why and "died" in why
        write_gain(tmp_path, 1.0)  # fixed: it loads again
        client.send_raw("/plugins/load", str(source), "gain", 1)
        reply = answer(client, "/plugins/loaded")
        assert reply[0] == "/plugins/loaded", reply
        status = client.status()
    assert status["engine"]["failovers"] == 0
    assert [s["restarts"] for s in status["slots"]] == [s["restarts"] for s in before["slots"]]
    assert all(slot["seat"] == "running" for slot in status["slots"])
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding >= 0.9 * played > 0, "the music went on"


def _play_through_gain_free(client: EngineClient) -> None:
    client.send([
        _m("/patch/create", "bass", "saw"), _m("/patch/connect", "bass", "master"),
        _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
    ])  # fmt: skip


NAN = "\nFACTOR = float('nan')\n"
"""Appended to the gain module: every sample it writes is NaN."""


def test_validation_decides_and_a_failed_reload_keeps_the_old_version(
    engine: EngineProcess, tmp_path: Path
) -> None:
    source = write_gain(tmp_path, 1.0)
    with engine.client() as client:
        client.send_raw("/plugins/load", str(source), "gain", 0, "inline")  # validated
        address, (name, old, state) = answer(client, "/plugins/loaded")
        assert (address, name, state) == ("/plugins/loaded", "gain", "active")
        _play_through_gain(client)
        client.sync()
        before = client.status()
        source.write_text(source.read_text() + NAN)
        client.send_raw("/plugins/reload", "gain")
        address, (about, why) = answer(client, "/plugins/loaded")
        assert (address, about) == ("/error", "/plugins/reload")
        assert why.startswith("non_finite:") and f"version {old} plays on" in why
        bad = tmp_path / "bad.py"
        bad.write_text("def broken(:\n")
        client.send_raw("/plugins/load", str(bad))
        address, (about, why) = answer(client, "/plugins/loaded")
        assert (address, about) == ("/error", "/plugins/load") and why.startswith("syntax_error:")
        time.sleep(0.3)
        dump = client.dump()
        status = client.status()
    assert dump["plugins"] == {"gain": old} and "bad" not in dump["plugins"]
    assert status["engine"]["commits"] == 0 and status["engine"]["failovers"] == 0
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding >= 0.9 * played > 0, "the music went on"
    stored = {p.name for p in (tmp_path / "store").iterdir()}
    assert f"gain-{old}.py" in stored and len(stored) == 3, "every version named is kept"


def test_a_snapshot_names_its_plugins_and_is_refused_without_them(
    engine: EngineProcess, tmp_path: Path
) -> None:
    from chronus.session.snapshots import SnapshotStore, load_messages

    source = write_gain(tmp_path, 1.0)
    store = SnapshotStore(tmp_path / "snapshots")
    with engine.client() as client:
        client.send_raw("/plugins/load", str(source), "gain", 1)
        _, (_, version, _) = answer(client, "/plugins/loaded")
        _play_through_gain(client)
        client.sync()
        store.save("with_gain", client.dump())
        client.send_raw("/plugins/unload", "gain")
        assert answer(client, "/plugins/unloaded")[0] == "/plugins/unloaded"
        snapshot = store.load("with_gain")
        assert snapshot["plugins"] == {"gain": version}
        before = client.dump()
        with pytest.raises(
            ValueError, match=f"needs the plugin gain \\(v {version}\\), not loaded"
        ):
            load_messages(before, snapshot)
        assert client.dump() == before, "a refused snapshot changes nothing"
        client.send_raw("/plugins/load", str(source), "gain", 1)
        assert answer(client, "/plugins/loaded")[0] == "/plugins/loaded"
        client.send(load_messages(client.dump(), snapshot))
        client.sync()
        dump = client.dump()
    assert (
        dump["modules"]["g"]["type"] == "gain" and dump["modules"]["g"]["params"]["amount"] == 1.5
    )
    assert ["g", "master"] in dump["connections"]


FAULTY = Path(__file__).resolve().parents[1] / "plugins" / "faulty"


def _bad_between_bass_and_master(client: EngineClient, fixture: str) -> dict[str, Any]:
    """Force `fixture` in as the plugin `bad`, a module `x` of it after the bass; the status
    just before `x` came."""
    _play_through_gain_free(client)
    client.sync()
    client.send_raw("/plugins/load", str(FAULTY / fixture), "bad", 1, "inline")  # the slots' guard
    reply = answer(client, "/plugins/loaded")
    assert reply[0] == "/plugins/loaded", "forced: no validation, no warm-up render"
    before = client.status()
    client.send([
        _m("/patch/create", "x", "bad"), _m("/patch/disconnect", "bass", "master"),
        _m("/patch/connect", "bass", "x"), _m("/patch/connect", "x", "master"),
    ])  # fmt: skip
    return before


def test_a_forced_crashing_module_reaches_the_slots_and_the_music_goes_on(
    engine: EngineProcess,
) -> None:
    with engine.client() as client:
        before = _bad_between_bass_and_master(client, "segfault.py")
        deadline = time.monotonic() + 10.0
        while "x" not in (status := client.status())["engine"]["quarantined"]:
            assert time.monotonic() < deadline, status["engine"]["events"]
            time.sleep(0.1)
        time.sleep(0.5)
        status = client.status()
    assert "crashed" in status["engine"]["quarantined"]["x"]
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding > 0.5 * played, "\n".join(status["engine"]["events"])


def test_a_forced_endless_loop_is_stopped_in_both_slots_without_a_failover(
    engine: EngineProcess, tmp_path: Path
) -> None:
    """The guard's CPU limit stops the loop in each slot at the same call and suspends the
    module there: no slot is killed, the bass goes on through the bypass, and the session's
    offline render stops it at the same call (it gives the recording)."""
    with engine.client() as client:
        before = _bad_between_bass_and_master(client, "endless_loop.py")
        deadline = time.monotonic() + 10.0
        while (health := client.plugin_health("bad"))["state"] != "suspended":
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        time.sleep(0.5)
        status = client.status()
    assert health["transitions"][-1]["reason"] == "timeout", health["transitions"]
    assert "CPU limit" in health["last_error"]
    assert status["engine"]["failovers"] == before["engine"]["failovers"]
    assert status["engine"]["respawns"] == before["engine"]["respawns"]
    assert status["engine"]["quarantined"] == {}
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding > 0.9 * played, "\n".join(status["engine"]["events"])
    assert engine.quit() == 0
    recorded, _ = read_wav(tmp_path / "out.wav")
    offline = render_session(read_stamped_log(tmp_path / "s.log"), len(recorded))
    running = differing_blocks(recorded, offline, BLOCK, status["io"]["blocks_played"])
    assert len(running) <= explained_blocks(status["io"]), running[:10]
