"""Snapshots in the shell against a real engine: a format version on every file, a clear
error and no change for a corrupt, foreign or newer file, and `snapshot diff`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.snapshots import FORMAT_KEY, FORMAT_VERSION
from chronus.shell.app import Shell
from chronus.shell.snapshot_words import SHOWN


def _shell(engine: EngineProcess, tmp_path: Path) -> tuple[Shell, list[str]]:
    client = engine.client()
    written: list[str] = []
    interpreter = Interpreter(Context.from_dump(client.dump()))
    return Shell(client, interpreter, written.append, snapshot_dir=tmp_path / "snaps"), written


def test_a_saved_snapshot_carries_its_format_version(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, _ = _shell(null_engine, tmp_path)
    assert shell.handle("add a sine called vsine; snapshot save versioned")
    saved = json.loads((tmp_path / "snaps" / "versioned.json").read_text())
    assert saved[FORMAT_KEY] == FORMAT_VERSION == 1
    assert saved["modules"]["vsine"]["type"] == "sine"
    assert shell.handle("remove vsine")


BAD_FILES = {
    "corrupt": ('{"modules": {"x": ', "is corrupt: not valid JSON (line 1"),
    "binary": ("\udcff", "is corrupt: it is not UTF-8 text"),
    "foreign": ('{"name": "my-app", "version": "1.0.0"}', "is not a chronus snapshot"),
    "listy": ("[1, 2, 3]", "is not a chronus snapshot: it holds no JSON object"),
    "newer": (
        json.dumps({FORMAT_KEY: FORMAT_VERSION + 1, "modules": {}}),
        f"was saved by a newer chronus (snapshot format {FORMAT_VERSION + 1}; this one reads "
        f"up to {FORMAT_VERSION}): update chronus to load it",
    ),
    "malformed": (
        json.dumps({FORMAT_KEY: 1, "modules": {"x": {"type": "saw", "params": {"cutoff": "hi"}}}}),
        "is corrupt: module x needs a type and numeric params",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_snapshot_file_gets_a_clear_error_and_changes_nothing(
    null_engine: EngineProcess, tmp_path: Path, name: str
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("add a saw called keepme; set keepme cutoff 900 hz")
    (tmp_path / "snaps").mkdir()
    text, said = BAD_FILES[name]
    (tmp_path / "snaps" / f"{name}.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    before = shell.client.dump()
    commits = shell.client.status()["engine"]["commits"]
    assert shell.handle(f"load snapshot {name}")
    assert written[-1].startswith(f"error: snapshot {name}: "), written[-1]
    assert said in written[-1]
    assert shell.handle(f"snapshot diff {name}")
    assert written[-1].startswith(f"error: snapshot {name}: ") and said in written[-1]
    assert shell.client.dump() == before
    assert shell.client.status()["engine"]["commits"] == commits
    assert shell.interpreter.context.modules["keepme"] == "saw"
    assert shell.handle("remove keepme")


def test_snapshot_diff_in_musical_terms(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("tempo 120; add a saw called dbass through an acid filter called dacid")
    assert shell.handle("play c2 eb2 every 16th on dbass")
    assert shell.handle("snapshot save first")
    assert shell.handle("set dacid cutoff 700 hz; tempo 128; play c2 g2 every 8th on dbass")
    assert shell.handle("add kick called dkick; dkick x . x .")
    assert shell.handle("snapshot save second")
    assert shell.handle("snapshot diff first second")
    assert written[-1].splitlines() == [
        "from first to second:",
        "  + dkick (kick) → master",
        "  ~ dacid cutoff 400 → 700 Hz",
        "  ~ tempo 120 → 128 bpm",
        "  ~ dbass pattern c2 eb2 (16ths) → c2 g2 (8ths)",
        "  + dkick plays x . x . (16ths)",
    ]
    assert shell.handle("snapshot diff second")
    assert written[-1] == "second is what plays now"
    assert shell.handle("remove dkick; set dacid cutoff 500 hz")
    assert shell.handle("snapshot diff second")
    assert written[-1].splitlines() == [
        "what loading second changes in the patch now:",
        "  + dkick (kick) → master",
        "  ~ dacid cutoff 500 → 700 Hz",
        "  + dkick plays x . x . (16ths)",
    ]
    assert shell.handle("diff first first")
    assert written[-1] == "first and first are the same"
    assert shell.handle("snapshot diff nothing")
    assert written[-1] == 'there is no snapshot "nothing" (snapshots: first second)'
    assert shell.handle("remove dbass; remove dacid; tempo 120")


def test_a_snapshot_saved_before_versions_still_loads(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    (tmp_path / "snaps").mkdir()
    old = {"modules": {"oldsine": {"type": "sine", "params": {"volume": -6.0}}},
           "connections": [["oldsine", "master"]], "tempo": 120.0}  # fmt: skip
    (tmp_path / "snaps" / "old.json").write_text(json.dumps(old))
    assert shell.handle("load snapshot old")
    assert written[-1].startswith("loaded snapshot old, crossfaded"), written
    assert shell.client.dump()["modules"]["oldsine"]["params"]["volume"] == -6.0
    assert shell.handle("remove oldsine")


def test_a_snapshot_silent_at_first_still_loads(null_engine: EngineProcess, tmp_path: Path) -> None:
    """A sparse kick pattern replacing a held note is silent until its next hit: the commit
    must not be refused for it (the engine's test of a change that is silent where the sound
    before was not would refuse it, as `/patch/commit` without `silence_ok` does)."""
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("add kick called skick; skick x . . . . . . .; start")
    assert shell.handle("snapshot save sparse")
    assert shell.handle("remove skick; add a saw called slead; play c3 on slead for 30 s")
    for _ in range(3):
        assert shell.handle("load snapshot sparse")
        assert written[-1].startswith("loaded snapshot sparse, crossfaded"), written[-1]
        modules = shell.client.dump()["modules"]
        assert "skick" in modules and "slead" not in modules
        assert shell.handle("undo")
        assert "slead" in shell.client.dump()["modules"]
        assert shell.handle("play c3 on slead for 30 s")
    assert shell.handle("remove slead; stop")


def test_snapshots_loaded_back_to_back_all_load(null_engine: EngineProcess, tmp_path: Path) -> None:
    """After a commit the slot that held the old patch is replaced; a load typed meanwhile
    waits for it instead of failing."""
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("add a saw called bbass; play c2 eb2 every 16th on bbass; start")
    assert shell.handle("snapshot save low")
    assert shell.handle("set bbass cutoff 3 khz; add kick called bkick; bkick x . x .")
    assert shell.handle("snapshot save high")
    for name in ["low", "high"] * 4:
        assert shell.handle(f"load snapshot {name}")
        assert written[-1].startswith(f"loaded snapshot {name}, crossfaded"), written[-1]
    assert shell.handle("remove bbass; remove bkick; stop")


def test_a_big_load_lists_its_first_changes_and_how_many_more(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("snapshot save empty")
    names = [f"many{n}" for n in range(SHOWN + 3)]
    assert shell.handle("; ".join(f"add a sine called {name}" for name in names))
    assert shell.handle("snapshot save many")
    assert shell.handle("load snapshot empty")
    lines = written[-1].splitlines()
    assert lines[0].startswith("loaded snapshot empty")
    assert len(lines) == 1 + SHOWN + 1 and lines[-1] == "  … and 3 more"
    assert shell.handle("snapshot diff many empty")
    assert len(written[-1].splitlines()) == 1 + len(names)
    assert not set(names) & set(shell.client.dump()["modules"])


def test_help_snapshots_and_help_sessions(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("help snapshots")
    assert written[-1].startswith("Snapshots:") and "snapshot diff intro verse" in written[-1]
    assert shell.handle("help sessions")
    assert written[-1].startswith("Sessions:") and "chronus render" in written[-1]
    assert "--no-log" in written[-1] and "sessions  " in written[-1]
