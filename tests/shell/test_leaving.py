"""Finding the engine a shell left playing, and what the shell says about it."""

from __future__ import annotations

from chronus.engine.client import EngineClient
from chronus.shell.leaving import attach_context, attached_line, find_engine, left_playing
from tests.e2e.test_shell_leave_null import _free_port
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
            assert context.focus == "acid1"  # the last module
            assert context.params["bass"]["cutoff"] == 900.0
            assert context.tracks["bass"].pattern == "c2 eb2"
            assert attached_line(context, client.address) == (
                f"attached to the engine playing at 127.0.0.1:{engine.port}: "
                "2 modules, 1 pattern, tempo 128, focus acid1"
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
    assert find_engine(_free_port()) is None


def test_leaving_says_how_to_come_back() -> None:
    assert "`chronus` again" in left_playing(("127.0.0.1", 57120))
    assert "`chronus --engine 127.0.0.1:57300` again" in left_playing(("127.0.0.1", 57300))
