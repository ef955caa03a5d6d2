"""Finding the engine a shell left playing, and what the shell says about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.engine.client import EngineClient
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.focus import focus_path
from chronus.session.recording import last_take, takes_made
from chronus.session.stamped_log import StampedLog
from chronus.shell.app import Shell
from chronus.shell.leaving import attach_context, attached_line, find_engine, left_playing
from tests.ports import unused_port
from tests.shell.fake_engine import FakeEngine


def test_an_engine_on_the_port_is_found_and_its_patch_mirrored() -> None:
    engine = FakeEngine()
    engine.dump = {
        "modules": {
            "bass": {"type": "saw", "params": {"cutoff": 900.0}},
            "acid1": {"type": "acid", "params": {}},
        },
        "connections": [["bass", "acid1"], ["acid1", "master"]],
        "tempo": 128.0,
        "tracks": {"bass": {"pattern": "c2 eb2", "division": 8}},
        "transport": True,
    }
    try:
        client = find_engine(engine.port)
        assert isinstance(client, EngineClient)
        with client:
            context = attach_context(client)
            assert context.focus is None  # no shell kept one: not guessed
            assert context.params["bass"]["cutoff"] == 900.0
            assert context.tracks["bass"].pattern == "c2 eb2"
            assert attached_line(context, client.address) == (
                f"attached to the engine playing at 127.0.0.1:{engine.port}: "
                "2 modules, 1 pattern, tempo 128, no focus yet: `focus bass` picks one"
            )
    finally:
        engine.close()


def test_an_empty_engine_has_no_focus() -> None:
    engine = FakeEngine()
    try:
        client = find_engine(engine.port)
        assert client is not None
        with client:
            context = attach_context(client)
        assert context.focus is None
        assert attached_line(context, ("h", 1)) == (
            "attached to the engine waiting at h:1: 0 modules, 0 patterns, tempo 120"
        )
    finally:
        engine.close()


def test_no_engine_on_the_port_is_none() -> None:
    assert find_engine(unused_port()) is None


def test_leaving_says_how_to_come_back() -> None:
    assert "`chronus` again" in left_playing(("127.0.0.1", 57120))
    assert "`chronus --engine 127.0.0.1:57300` again" in left_playing(("127.0.0.1", 57300))


def test_attached_the_focus_is_the_one_the_last_shell_had(tmp_path: Path) -> None:
    """The focus was the last module of the patch: after `add a saw called bass through an
    acid filter` and `make it darker` (on bass), a shell attaching had acid1 in focus."""
    log = tmp_path / "session.log"
    StampedLog(log, 48000, 128).close()
    engine = FakeEngine()
    engine.dump = {
        "modules": {"bass": {"type": "saw"}, "acid1": {"type": "acid"}},
        "connections": [["bass", "acid1"], ["acid1", "master"]],
    }
    engine.status = {"engine": {"version": "fake", "log": str(log)}}
    try:
        mirror = Interpreter(Context.from_dump(engine.dump))
        first = Shell(EngineClient(*engine.address), mirror, lambda line: None)
        first.keep_focus(str(log))
        assert first.handle("focus acid1") and focus_path(log).read_text() == "acid1"
        assert first.handle("set bass cutoff 900")  # names bass: the focus moves with it
        assert focus_path(log).read_text() == "bass"
        first.client.close()
        client = find_engine(engine.port)
        assert client is not None
        with client:
            assert attach_context(client).focus == "bass"
            del engine.dump["modules"]["bass"]  # its module is gone: no focus, and a hint
            context = attach_context(client)
        assert context.focus is None
        assert attached_line(context, ("h", 1)).endswith("no focus yet: `focus acid1` picks one")
    finally:
        engine.close()


def test_attached_the_focus_is_never_an_lfo_and_record_goes_past_the_takes_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hour at the prompt: an lfo added last took the focus (`darker` then failed), and
    the second shell's `record` wrote take1.wav over the first shell's take. With no focus
    kept, none is guessed, and the hint names a sound, not the lfo."""
    files = tmp_path / "files"
    files.mkdir()
    (files / "take2.wav").write_bytes(b"")
    monkeypatch.setenv("CHRONUS_FILES", str(files))
    log = tmp_path / "session.log"
    stamped = StampedLog(log, 48000, 128)
    stamped.mark_recording(6144, str(files / "take4.wav"))
    stamped.close()
    engine = FakeEngine()
    engine.dump = {
        "modules": {
            "bass": {"type": "saw", "params": {}},
            "acid1": {"type": "acid", "params": {}},
            "lfo1": {"type": "lfo", "params": {}},
        },
        "connections": [["bass", "acid1"], ["acid1", "master"]],
    }
    engine.status = {"engine": {"version": "fake", "log": str(log)}}
    try:
        client = find_engine(engine.port)
        assert client is not None
        with client:
            context = attach_context(client)
        assert context.focus is None
        assert attached_line(context, ("h", 1)).endswith("no focus yet: `focus bass` picks one")
        record = Interpreter(context).interpret("record 1 bar")
        assert record.messages[0].args[0] == "take5.wav"
    finally:
        engine.close()


def test_takes_made_counts_the_folder_and_the_log() -> None:
    assert last_take(["take1.wav", "/x/take12.wav", "take.wav", "mytake3.wav", "take2.WAV"]) == 12
    assert takes_made("/nonexistent/folder") == 0
