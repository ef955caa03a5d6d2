"""The shell's session words against a real engine: snapshots, recording, replay, undo,
patterns, `what is` and `help <topic>`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.files import FILES_ENV
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate
from chronus.session.wav import read_wav
from chronus.shell.app import Shell


def _shell(engine: EngineProcess, tmp_path: Path) -> tuple[Shell, list[str]]:
    client = engine.client()
    written: list[str] = []
    interpreter = Interpreter(Context.from_dump(client.dump()))
    return Shell(client, interpreter, written.append, snapshot_dir=tmp_path / "snaps"), written


def _dump(engine: EngineProcess) -> dict[str, object]:
    with engine.client() as client:
        return client.dump()


def test_snapshot_save_list_and_load(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("add a saw snapbass through an acid filter called snapf")
    assert shell.handle("set snapbass cutoff 700 hz")  # the filter it goes through
    assert written[-1] == "snapf cutoff 400 → 700 Hz"
    assert shell.handle("set snapbass release 0.5 s")
    assert shell.handle("snapshot save intro")
    assert written[-1].startswith("saved snapshot intro")
    saved = json.loads((tmp_path / "snaps" / "intro.json").read_text())
    assert saved["modules"]["snapf"]["params"]["cutoff"] == 700
    assert saved["modules"]["snapbass"]["params"]["release"] == 0.5
    assert ["snapbass", "snapf"] in saved["connections"]
    assert shell.handle("save snapshot as verse")
    assert shell.handle("snapshots")
    assert written[-1] == "snapshots: intro verse"

    assert shell.handle("remove snapf; set snapbass release 2 s; add sine snappad")
    assert shell.handle("load snapshot intro")
    assert written[-1].splitlines() == [
        "loaded snapshot intro, crossfaded in 50 ms (undo goes back)",
        "  + snapf (acid) → master",
        "  - snappad (sine)",
        "  ~ snapbass release 2 → 0.5 s",
        "  + snapbass → snapf",
        "  - snapbass → master",
    ], written
    dump = _dump(null_engine)
    modules = dump["modules"]
    assert isinstance(modules, dict)
    assert "snappad" not in modules and modules["snapbass"]["params"]["release"] == 0.5
    assert modules["snapf"]["params"]["cutoff"] == 700
    assert set(shell.interpreter.context.modules) == set(modules)
    # Undo goes back to the patch before the load.
    assert shell.handle("undo")
    modules = _dump(null_engine)["modules"]
    assert isinstance(modules, dict)
    assert "snappad" in modules and "snapf" not in modules
    assert shell.handle("load snapshot nothing")
    assert written[-1].startswith('there is no snapshot "nothing"')


def test_record_for_a_time_stops_by_itself(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    target = tmp_path / "take.wav"
    assert shell.handle(f"record 0.3 seconds to {target}")
    assert written[-1] == f"recording 0.3 s to {target}"
    assert shell.interpreter.context.recording == str(target)
    deadline = time.monotonic() + 5
    while not any(line.startswith("recorded") for line in written):
        assert time.monotonic() < deadline, written
        time.sleep(0.05)
    assert written[-1] == f"recorded 0.3 s to {target}"
    assert read_wav(target)[0].shape == (14400, 2)  # the engine stopped it on that frame
    assert shell.interpreter.context.recording is None


def test_record_in_bars_uses_the_tempo_and_stop_recording(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("tempo 240")
    assert shell.handle(f"record 8 bars to {tmp_path / 'bars.wav'}")
    assert written[-1] == f"recording 8 s to {tmp_path / 'bars.wav'}"
    assert shell.recorder.pending
    assert shell.handle("stop recording")
    assert not shell.recorder.pending
    assert shell.handle("tempo 120")


def test_replay_plays_a_script_in_the_background(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    script = tmp_path / "song.chr"
    script.write_text("add sine called replayed\nplay c4 on replayed for 0.1 s\nwait 0.2 s\n")
    assert shell.handle(f"replay {script}")
    assert written[-1].startswith(f"replaying {script}")
    assert shell.replayer.finished.wait(5)
    assert shell.handle("play e4 on replayed for 0.1 s")  # the context learnt the module
    assert "replayed" in shell.interpreter.context.modules
    assert shell.handle(f"replay {tmp_path / 'missing.chr'}")
    assert written[-1].startswith("error: cannot read")


def test_patterns_undo_and_what_is(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("add kick called seqkick")
    assert shell.handle("seqkick x . . . x . . .")
    assert shell.handle("swing 20%")
    tracks = _dump(null_engine)["tracks"]
    assert isinstance(tracks, dict)
    assert tracks["seqkick"]["pattern"] == "x . . . x . . ."
    assert tracks["seqkick"]["swing"] == pytest.approx(0.2)
    assert shell.handle("what is seqkick")
    assert written[-1].startswith("seqkick is a kick (in focus)")
    assert "pattern: x . . . x . . ." in written[-1]
    assert shell.handle("undo 2")
    tracks = _dump(null_engine)["tracks"]
    assert isinstance(tracks, dict) and "seqkick" not in tracks
    assert shell.handle("stop")
    errors = [line for line in written if line.startswith("error")]
    assert errors == []


def test_help_topics_and_notes(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("help filters")
    assert "acid" in written[-1] and "cutoff" in written[-1]
    assert shell.handle("help patterns")
    assert "x(3,8)" in written[-1]
    assert shell.handle("help nonsense")
    assert written[-1].startswith('no help on "nonsense"')
    assert shell.handle("help sounds")
    assert all(word in written[-1] for word in ("303", "tb303", "wobble bass", "_verb", "clap"))
    assert shell.handle("help wobble")
    assert "wobble_bass_lfo → wobble_bass_f cutoff" in written[-1]
    assert "cutoff 500 hz" in written[-1]
    assert shell.handle("add a 303 called helpacid")
    assert written[-1] == "added 303: helpacid → helpacid_f → master"
    modules = _dump(null_engine)["modules"]
    assert isinstance(modules, dict)
    assert modules["helpacid"]["type"] == "saw" and modules["helpacid_f"]["type"] == "acid"
    assert modules["helpacid_f"]["params"]["cutoff"] == 320.0
    assert shell.handle("add sine called notepad; play c3 on notepad for 0.1 s; up an octave")
    assert written[-1] == "notepad plays c4"
    assert shell.handle("what is nothing")
    assert written[-1].startswith('there is no module called "nothing"')


def test_completion_knows_the_modules_of_the_patch(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, _ = _shell(null_engine, tmp_path)
    assert shell.handle("add a saw called completeme")
    words = shell.completions()
    assert "completeme" in words and "darker" in words and "wobble" in words


def test_a_refused_message_resyncs_the_mirror(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("/patch/create ghost saw")  # the mirror learns it …
    with null_engine.client() as client:  # … but another client removes it
        client.send([validate("/patch/remove", ("ghost",))])
        client.sync()
    assert "ghost" in shell.interpreter.context.modules
    assert shell.handle("/patch/connect ghost master")
    assert any(line.startswith("error:") for line in written), written
    assert "ghost" not in shell.interpreter.context.modules


def test_a_relative_record_path_lands_in_the_engines_files_folder(
    null_engine: EngineProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shell, written = _shell(null_engine, tmp_path)
    name = f"{tmp_path.name}.wav"  # the files folder is shared by the tests
    assert shell.handle(f"record 0.2 seconds to {name}")
    deadline = time.monotonic() + 5
    while not any(line.startswith("recorded") for line in written):
        assert time.monotonic() < deadline, written
        time.sleep(0.05)
    # The engine's own account of the take names the file where it wrote it.
    target = Path(os.environ[FILES_ENV]) / name
    assert written[-1] == f"recorded 0.2 s to {target}"
    assert read_wav(target)[0].shape == (9600, 2)
    assert not (tmp_path / name).exists()


def test_loading_a_snapshot_sends_only_the_differences() -> None:
    from chronus.session.snapshots import load_messages

    now = {
        "modules": {
            "bass": {"type": "saw", "params": {"cutoff": 300.0}},
            "pad": {"type": "sine", "params": {}},
        },
        "connections": [["bass", "master"], ["pad", "master"]],
        "tempo": 120.0,
    }
    snapshot = {
        "modules": {
            "bass": {"type": "saw", "params": {"cutoff": 700.0}},
            "f1": {"type": "acid", "params": {}},
        },
        "connections": [["bass", "f1"], ["f1", "master"]],
        "tempo": 100.0,
        "tracks": {"bass": {"pattern": "c2 eb2", "division": 16, "gate": 0.5, "swing": 0.0,
                            "transpose": 0, "lanes": {}, "running": True}},
        "transport": True,
    }  # fmt: skip
    assert [m.to_list() for m in load_messages(now, snapshot)] == [
        ["/patch/disconnect", "bass", "master"],
        ["/patch/remove", "pad"],
        ["/patch/create", "f1", "acid"],
        ["/mod/bass/cutoff", 700.0],
        ["/patch/connect", "bass", "f1"],
        ["/patch/connect", "f1", "master"],
        ["/tempo", 100.0],
        ["/seq/bass/pattern", "c2 eb2"],
        ["/seq/start"],
    ]
    with pytest.raises(ValueError):
        load_messages(now, {"modules": {"x": {"type": "nonsense"}}})


def test_a_snapshot_that_needs_a_plugin_not_loaded_is_refused_naming_it() -> None:
    from chronus.session.snapshots import load_messages

    now = {"modules": {}, "connections": [], "tempo": 120.0, "plugins": {"crush": "aa"}}
    snapshot = {
        "modules": {"f": {"type": "fold", "params": {}}},
        "connections": [["f", "master"]],
        "tempo": 120.0,
        "plugins": {"fold": "0123456789ab", "crush": "aa", "unused": "bb"},
    }
    with pytest.raises(
        ValueError, match=r"needs the plugin fold \(v 0123456789ab\), not loaded"
    ) as refused:
        load_messages(now, snapshot)
    assert "crush" not in str(refused.value) and "unused" not in str(refused.value)


def test_a_snapshot_that_uses_a_loaded_plugin_loads() -> None:
    from dataclasses import asdict

    from chronus.dsp.params import ParamSpec, mix_specs
    from chronus.dsp.specs import TYPE_SPECS, undeclare
    from chronus.session.snapshots import load_messages

    params = [asdict(p) for p in (ParamSpec("drive", 2.0, 1.0, 10.0), *mix_specs(0.0))]
    now = {
        "modules": {"bass": {"type": "saw", "params": {}}},
        "connections": [["bass", "master"]],
        "tempo": 120.0,
        "plugins": {"fold": "0123456789ab"},
        "plugin_types": {"fold": {"processor": True, "params": params}},
    }
    snapshot = {
        "modules": {"bass": {"type": "saw", "params": {}}, "f": {"type": "fold",
                    "params": {"drive": 4.0}}},
        "connections": [["bass", "f"], ["f", "master"]],
        "tempo": 120.0,
        "plugins": {"fold": "0123456789ab"},
    }  # fmt: skip
    try:
        sent = [m.to_list() for m in load_messages(now, snapshot)]
        assert ["/patch/create", "f", "fold"] in sent and ["/mod/f/drive", 4.0] in sent
        assert ["/patch/connect", "bass", "f"] in sent
        assert TYPE_SPECS["fold"][0].name == "drive"
    finally:
        undeclare("fold")


def test_quitting_leaves_a_timed_recording_to_the_engine(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    shell, written = _shell(null_engine, tmp_path)
    target = tmp_path / "long.wav"
    assert shell.handle(f"record 0.75 seconds to {target}")
    assert shell.recorder.pending
    assert shell.handle("quit --leave") is False
    shell.client.close()
    assert not shell.recorder.pending
    assert written[-1].startswith(f"the engine goes on recording {target}: it ends in ")
    deadline = time.monotonic() + 5
    with null_engine.client() as client:
        while client.status()["engine"]["recording"]["recording"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert read_wav(target)[0].shape == (36000, 2)


def test_replay_plays_a_session_log_too(null_engine: EngineProcess, tmp_path: Path) -> None:
    shell, written = _shell(null_engine, tmp_path)
    log = tmp_path / "old.log"
    log.write_text(
        "# chronus session log v1 rate=48000 block=128\n"
        '96000\t/patch/create\t["relogged", "sine"]\n'
        '96000\t/patch/connect\t["relogged", "master"]\n'
        "# end of session at sample 105600\n"
    )
    assert shell.handle(f"replay {log}")
    assert written[-1] == f"replaying {log} (0.2 s)"
    assert shell.replayer.finished.wait(5)
    assert shell.handle("set relogged volume -6 db")  # the context learnt the module
    assert _dump(null_engine)["modules"]["relogged"]["params"]["volume"] == -6  # type: ignore[index]
    (tmp_path / "bad.log").write_text("# chronus session log v1 rate=48000 block=128\n1\tx\n")
    assert shell.handle(f"replay {tmp_path / 'bad.log'}")
    assert written[-1].startswith(f"error: {tmp_path / 'bad.log'}:2: ")
    assert shell.handle("remove relogged")


def test_replay_finds_a_logged_session_by_name(
    null_engine: EngineProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "data" / "chronus" / "sessions"
    folder.mkdir(parents=True)
    (folder / "2026-01-02_03-04-05.log").write_text(
        "# chronus session log v1 rate=48000 block=128\n"
        '0\t/patch/create\t["named", "sine"]\n# end of session at sample 4800\n'
    )
    shell, written = _shell(null_engine, tmp_path)
    assert shell.handle("replay last")
    assert written[-1] == f"replaying {folder / '2026-01-02_03-04-05.log'} (0.1 s)"
    assert shell.replayer.finished.wait(5)
    assert shell.handle("replay 2026-01-02_03-04-05")
    assert shell.replayer.finished.wait(5)
    assert shell.handle("replay nosuch")
    assert written[-1].startswith("error: cannot read nosuch: there is no file or session")
    assert shell.handle("remove named")
