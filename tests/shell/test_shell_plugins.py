"""Plugins from the shell and `chronus plugins`, against a fake engine that speaks the OSC the
engine side of issue 15 answers (real UDP and TCP; the replies come late, as a validation's)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronus.cli import main
from chronus.engine.client import EngineClient
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import learn_plugins
from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult
from chronus.protocol import Arg
from chronus.shell.app import Shell
from chronus.shell.plugins import Watcher, request_of
from tests.shell.fake_engine import FakeEngine, Reply

VERSION = "1a2b3c4d5e6f"
FOLD = {"version": VERSION, "state": "active", "processor": True, "params": [
    {"name": "drive", "default": 0.3, "minimum": 0.0, "maximum": 1.0, "smoothing_ms": 10.0},
]}  # fmt: skip


def _dumped(engine: FakeEngine) -> None:
    """The fake engine's dump as a real one gives it with `fold` loaded: its version in
    `plugins`, its module type in `plugin_types`."""
    engine.dump["plugins"] = {"fold": VERSION}
    engine.dump["plugin_types"] = {"fold": {"processor": True, "params": FOLD["params"]}}


def _listing(path: str, state: PluginState = PluginState.ACTIVE) -> list[dict[str, Any]]:
    """What a real registry lists for one plugin `fold` loaded from `path`."""
    registry = PluginRegistry()
    registry.discover("fold", path)
    registry.transition("fold", PluginState.VALIDATING, "load")
    registry.set_validation("fold", ValidationResult(True, processor=True), VERSION)
    registry.transition("fold", PluginState.READY, "valid")
    registry.transition("fold", PluginState.ACTIVE, "loaded")
    error = "ZeroDivisionError: division by zero"
    registry.update_metrics(
        "fold",
        success_count=1200,
        error_count=3,
        cpu_us_p50=12.0,
        cpu_us_p99=41.0,
        last_error=error,
    )
    if state is not PluginState.ACTIVE:
        registry.transition("fold", state, "errors", "3 blocks in a row")
    listing: list[dict[str, Any]] = json.loads(json.dumps(registry.listing()))
    return listing


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine()
    learn_plugins({})
    yield fake
    fake.close()
    learn_plugins({})


def _shell(engine: FakeEngine) -> tuple[Shell, list[str]]:
    written: list[str] = []
    client = EngineClient(*engine.address)
    shell = Shell(client, Interpreter(Context.from_engine(client.dump())), written.append)
    return shell, written


def _loads(engine: FakeEngine, path: str) -> None:
    """The engine loads `fold` from `path`: its answer, then its dump and listing know it."""

    def on_plugin(address: str, args: tuple[Arg, ...]) -> list[Reply]:
        _dumped(engine)
        engine.listing = _listing(path)
        return [("/plugins/loaded", ("fold", VERSION, "active"))]

    engine.on_plugin = on_plugin


def _fold_file(folder: Path) -> Path:
    path = folder / "fold.py"
    path.write_text("# a wavefolder\n", encoding="utf-8")
    return path


def test_load_a_file_then_play_its_type(engine: FakeEngine, tmp_path: Path) -> None:
    shell, written = _shell(engine)
    path = _fold_file(tmp_path)
    _loads(engine, str(path))
    assert shell.handle(f"load module {path} as fold")
    assert engine.wait_for("/plugins/load") == (str(path), "fold")
    assert shell.plugins.wait(5)
    assert written[-1] == f"loaded fold (v {VERSION}): active"
    # The next line learns the type from the engine's dump, so it can be made and set.
    assert shell.handle("add a saw called bass; add a fold called f1 after bass")
    assert shell.handle("set f1 drive to 0.7")
    assert ("/patch/create", ("f1", "fold")) in engine.received
    assert engine.wait_for("/mod/f1/drive") == (pytest.approx(0.7),)


def test_a_relative_or_home_path_is_sent_absolute(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, _ = _shell(engine)
    _fold_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert shell.handle("load module ./fold.py")
    assert engine.wait_for("/plugins/load") == (str(tmp_path / "fold.py"), "fold")
    monkeypatch.setenv("HOME", str(tmp_path))
    engine.received.clear()
    assert shell.handle("load module ~/fold.py as fold2")
    assert engine.wait_for("/plugins/load") == (str(tmp_path / "fold.py"), "fold2")


def test_a_bare_name_is_sent_as_is(engine: FakeEngine) -> None:
    shell, _ = _shell(engine)
    assert shell.handle("load module fold")
    assert engine.wait_for("/plugins/load") == ("fold",)


def test_a_missing_file_sends_nothing(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, written = _shell(engine)
    monkeypatch.chdir(tmp_path)
    assert shell.handle("load module ./nope.py then tempo 90")
    assert written[-1] == f"error: there is no file {tmp_path / 'nope.py'} — nothing sent"
    time.sleep(0.2)
    assert not [a for a in engine.addresses() if a.startswith("/plugins") or a == "/tempo"]
    assert shell.interpreter.context.tempo == 120.0  # the mirror follows the engine again


def test_a_failed_validation_shows_its_type_and_message(engine: FakeEngine, tmp_path: Path) -> None:
    shell, written = _shell(engine)
    engine.on_plugin = lambda address, args: [
        ("/error", (address, "non_finite: block 0 sample 3 is nan"))
    ]
    assert shell.handle(f"load module {_fold_file(tmp_path)}")
    assert shell.plugins.wait(5)
    assert written[-1] == (
        "error: load fold failed — non_finite (the module wrote NaN or infinity)\n"
        "  block 0 sample 3 is nan"
    )
    assert not shell.plugins.changed.is_set()
    assert shell.handle("add a fold called f1")
    assert 'there is no module type "fold"' in written[-1]


def test_a_failed_reload_says_the_old_version_plays_on(engine: FakeEngine) -> None:
    shell, written = _shell(engine)
    engine.on_plugin = lambda address, args: [("/error", (address, "timeout", "went past 2 s"))]
    assert shell.handle("reload fold")
    assert engine.wait_for("/plugins/reload") == ("fold",)
    assert shell.plugins.wait(5)
    assert written[-1] == (
        "error: reload fold failed — timeout (validation went past its time limit (an endless "
        "loop))\n  went past 2 s; the old version keeps playing"
    )


def test_unload_forgets_the_type(engine: FakeEngine, tmp_path: Path) -> None:
    _dumped(engine)
    engine.dump["modules"] = {"f1": {"type": "fold", "params": {"drive": 0.5}}}
    shell, written = _shell(engine)
    assert shell.interpreter.context.params["f1"] == {"drive": 0.5}

    def unloads(address: str, args: tuple[Arg, ...]) -> list[Reply]:
        engine.dump = {"modules": {}, "connections": [], "tempo": 120.0, "plugins": {}}
        return [("/plugins/unloaded", ("fold",))]

    engine.on_plugin = unloads
    assert shell.handle("unload fold")
    assert shell.plugins.wait(5)
    assert written[-1] == "unloaded fold"
    assert shell.handle("add a fold called f2")
    assert 'there is no module type "fold"' in written[-1]
    assert "f1" not in shell.interpreter.context.modules


def test_a_mistyped_plugin_line_sends_nothing(engine: FakeEngine) -> None:
    shell, written = _shell(engine)
    for line in ("unlod fold", "load module", "reload", "unload saw", "load module x.txt"):
        assert shell.handle(line)
        assert "^" in written[-1], line
    time.sleep(0.2)
    assert [a for a in engine.addresses() if a.startswith("/plugins")] == []


def test_modules_shows_the_listing(engine: FakeEngine) -> None:
    shell, written = _shell(engine)
    assert shell.handle("modules")
    assert written[-1].startswith("no plugins loaded")
    engine.listing = _listing("/m/fold.py", PluginState.SUSPENDED)
    assert shell.handle("modules")
    table = written[-1]
    for column in ("name", "state", "version", "runs in", "blocks ok", "errors", "uptime"):
        assert column in table
    row = next(line for line in table.splitlines() if line.lstrip().startswith("fold"))
    for cell in ("suspended", VERSION, "inline", "1200", "3", "12 / 41", "ZeroDivisionError"):
        assert cell in row, (cell, row)


def test_health_shows_plugins_when_the_engine_has_them(engine: FakeEngine) -> None:
    shell, written = _shell(engine)
    assert shell.handle("health")
    assert "plugins" not in written[-1]
    engine.status["plugins"] = _listing("/m/fold.py")
    assert shell.handle("health")
    assert "plugins:" in written[-1] and VERSION in written[-1]
    engine.status["plugins"] = []
    assert shell.handle("health")
    assert "plugins: none loaded" in written[-1]


def test_watch_reloads_when_the_file_changes(engine: FakeEngine, tmp_path: Path) -> None:
    shell, written = _shell(engine)
    path = _fold_file(tmp_path)
    assert shell.handle("watch fold")
    assert written[-1] == 'there is no plugin "fold" (plugins: none loaded)'
    engine.listing = _listing(str(path))
    assert shell.handle("watch fold")
    assert written[-1] == f"watching {path}: fold reloads when it changes (unwatch fold stops)"
    assert "· watching fold ·" in shell.toolbar()
    engine.on_plugin = lambda address, args: [
        ("/plugins/loaded", ("fold", "ffff00001111", "active"))
    ]
    path.write_text("# a wavefolder, folded harder\n", encoding="utf-8")
    assert engine.wait_for("/plugins/reload") == ("fold",)
    deadline = time.monotonic() + 5
    while "loaded fold (v ffff00001111): active" not in written:
        assert time.monotonic() < deadline, written
        time.sleep(0.02)
    assert "fold: its file changed — reloading" in written
    assert shell.handle("unwatch fold")
    assert written[-1] == "stopped watching fold"
    assert shell.handle("unwatch fold")
    assert written[-1] == '"fold" is not watched (watched: none)'


def test_the_watcher_waits_until_the_file_is_stable(tmp_path: Path) -> None:
    path = _fold_file(tmp_path)
    watcher = Watcher(lambda name: None, lambda text: None, interval=3600)  # looks when told
    watcher.watch("fold", path)
    try:
        assert watcher.poll() == []
        for second in (1, 2, 3):  # an editor writing in bursts: different at every look
            path.write_text("x" * second, encoding="utf-8")
            os.utime(path, ns=(second * 10**9, second * 10**9))
            assert watcher.poll() == []
        assert watcher.poll() == ["fold"]  # the same as the look before: written
        assert watcher.poll() == []  # once
        path.unlink()
        assert watcher.poll() == [] and watcher.poll() == []  # gone: nothing to reload
        _fold_file(tmp_path)
        assert watcher.poll() == [] and watcher.poll() == ["fold"]
        assert watcher.names() == ["fold"] and watcher.unwatch("fold")
        assert watcher.poll() == [] and watcher.names() == []
    finally:
        watcher.close()


def test_cli_plugins_table_and_json(engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    engine.listing = _listing("/m/fold.py")
    assert main(["plugins", "--engine", f"127.0.0.1:{engine.port}"]) == 0
    out = capsys.readouterr().out
    assert "fold" in out and "active" in out and VERSION in out
    assert main(["--engine", f"127.0.0.1:{engine.port}", "plugins", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == engine.listing


def test_cli_plugins_without_an_engine_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeEngine()
    port = fake.port
    fake.close()  # nothing listens there any more
    assert main(["plugins", "--engine", f"127.0.0.1:{port}"]) == 1
    assert "is `chronus engine` running?" in capsys.readouterr().err


def test_help_plugins_shows_the_commands_and_the_loaded_types(engine: FakeEngine) -> None:
    from chronus.shell.help import help_text

    assert help_text("plugins").endswith("Loaded: none yet.")
    learn_plugins({"fold": FOLD})
    text = help_text("plugins")
    assert "Loaded:\n  fold\n    drive" in text
    assert help_text("fold").startswith("fold:\n  fold\n    drive")
    interpreter = Interpreter()
    for line in ("load module ./fold.py as fold", "load module fold", "reload fold",
                 "unload fold", "modules", "watch fold", "unwatch fold", "add a saw called bass",
                 "add a fold called f1 after bass", "bass through fold", "set f1 drive to 0.7",
                 "more drive on f1"):  # fmt: skip
        assert line.split(" · ")[0] in text or line.startswith("add a saw")
        result = interpreter.interpret(line)
        assert result.ok, (line, result.error and result.error.render())


def test_cli_send_waits_for_the_answer_of_a_load(
    engine: FakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _fold_file(tmp_path)
    _loads(engine, str(path))
    address = f"127.0.0.1:{engine.port}"
    assert main(["send", "--engine", address, f"load module {path}; tempo 90"]) == 0
    out = capsys.readouterr().out
    assert f"loaded fold (v {VERSION}): active" in out
    assert engine.wait_for("/plugins/load") == (str(path), "fold")
    assert engine.addresses().index("/tempo") < engine.addresses().index("/plugins/load")
    engine.on_plugin = lambda address, args: [("/error", (address, "crash: SIGSEGV"))]
    assert main(["send", "--engine", address, "reload fold"]) == 1
    assert "error: reload fold failed — crash" in capsys.readouterr().err


def test_a_line_naming_a_plugin_under_way_says_so(engine: FakeEngine, tmp_path: Path) -> None:
    shell, written = _shell(engine)
    engine.delay = 0.5
    _loads(engine, str(_fold_file(tmp_path)))
    assert shell.handle(f"load module {tmp_path / 'fold.py'}")
    assert "load fold…" in shell.toolbar()
    assert shell.handle("add a fold called f1")
    assert written[-1].endswith(
        "\n(load fold is under way: the engine answers once it has checked it)"
    )
    assert shell.plugins.wait(5) and shell.plugins.awaited == []
    assert "load fold" not in shell.toolbar()
    assert shell.handle("add a fold called f1")
    assert engine.wait_for("/patch/create") == ("f1", "fold")


def _health(path: str) -> dict[str, Any]:
    """What a real registry says of plugin `fold` in detail: suspended, after errors."""
    registry = PluginRegistry()
    registry.discover("fold", path)
    registry.transition("fold", PluginState.VALIDATING, "load")
    registry.set_validation("fold", ValidationResult(True, duration=0.084), VERSION)
    registry.transition("fold", PluginState.READY, "valid")
    registry.transition("fold", PluginState.ACTIVE, "loaded")
    registry.transition("fold", PluginState.SUSPENDED, "errors", "8 blocks in a row")
    health: dict[str, Any] = json.loads(json.dumps(registry.health("fold")))
    return health


def test_modules_fold_and_cli_plugins_fold_show_one_in_detail(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.health = {"fold": _health("/m/fold.py")}
    shell, written = _shell(engine)
    assert shell.handle("modules fold")
    lines = written[-1].splitlines()
    assert lines[0] == f"fold · suspended · v {VERSION} · runs inline · up —"
    assert lines[1] == "  file: /m/fold.py"
    assert "  last validation: passed in 84 ms" in lines
    states = [line.split()[1] for line in lines[lines.index("  history:") + 1 :]]
    assert states == ["discovered", "validating", "ready", "active", "suspended"]
    assert lines[-1].endswith("suspended    errors — 8 blocks in a row")
    assert shell.handle("modules crush")
    assert written[-1] == "error: the engine refused /plugins/crush/health: no plugin crush"
    assert main(["plugins", "fold", "--engine", f"127.0.0.1:{engine.port}"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == lines[0]
    assert main(["plugins", "fold", "--json", "--engine", f"127.0.0.1:{engine.port}"]) == 0
    assert json.loads(capsys.readouterr().out) == engine.health["fold"]
    assert main(["plugins", "crush", "--engine", f"127.0.0.1:{engine.port}"]) == 1


def test_a_snapshot_that_needs_a_plugin_says_which(engine: FakeEngine, tmp_path: Path) -> None:
    snapshot = {
        "modules": {"bass": {"type": "saw", "params": {}},
                    "f1": {"type": "fold", "params": {"drive": 0.8}}},
        "connections": [["bass", "f1"], ["f1", "master"]],
        "tracks": {"f1": {"pattern": "c2", "division": 16, "gate": 0.5, "swing": 0.0,
                          "transpose": 0, "lanes": {}, "running": True}},
        "tempo": 120.0,
        "plugins": {"fold": "0000aaaa1111"},
    }  # fmt: skip
    (tmp_path / "snaps").mkdir()
    (tmp_path / "snaps" / "intro.json").write_text(json.dumps(snapshot), encoding="utf-8")
    written: list[str] = []
    client = EngineClient(*engine.address)
    shell = Shell(client, Interpreter(Context.from_engine(client.dump())), written.append,
                  snapshot_dir=tmp_path / "snaps")  # fmt: skip
    assert shell.handle("load snapshot intro")
    assert written[-1] == (
        "error: snapshot intro: it needs the plugin fold (v 0000aaaa1111), not loaded in the "
        "engine: load module fold first"
    )
    assert [a for a in engine.addresses() if not a.startswith("/engine/")] == []
    _dumped(engine)
    shell.plugins.changed.set()  # as after a load: the next line learns the engine's plugins
    assert shell.handle("load snapshot intro")
    assert written[-2].startswith("loaded snapshot intro, crossfaded in 50 ms (undo goes back)")
    assert (
        written[-1] == f"note: the snapshot was saved with fold v 0000aaaa1111; v {VERSION} plays"
    )
    assert engine.wait_for("/patch/create") == ("bass", "saw")
    assert ("/patch/create", ("f1", "fold")) in engine.received
    assert engine.wait_for("/mod/f1/drive") == (pytest.approx(0.8),)


@pytest.mark.parametrize(
    ("line", "asked"),
    [
        ("load module fold", "load fold"),
        ("load module fold as fold2", "load fold2"),
        ("load module fold isolated", "load fold"),
        ("load module /m/fold.py as f2 inline", "load f2"),
        ("reload fold", "reload fold"),
    ],
)
def test_a_plugin_request_is_told_by_the_plugins_name(line: str, asked: str) -> None:
    [message] = Interpreter().interpret(line).messages
    assert request_of(message) == (asked, asked.split()[1])


def test_modules_fold_shows_each_isolated_modules_host(engine: FakeEngine) -> None:
    health = _health("/m/fold.py")
    health["runs_in"] = "isolated"
    keeper_health = {
        "hosting": "isolated", "host_pid": 4242, "host_state": "running", "restarts": 1,
        "deaths": ["died of signal 9"], "decision": "respawn now", "bypasses": 37,
        "latency_blocks": 1,
    }  # fmt: skip
    health["hosts"] = {"g": keeper_health}
    engine.health = {"fold": health}
    shell, written = _shell(engine)
    assert shell.handle("modules fold")
    lines = written[-1].splitlines()
    assert "runs isolated" in lines[0]
    assert (
        "  g: host pid 4242 · running · restarts 1 · 37 calls bypassed · plays 1 block late"
        in lines
    )
    assert "    host deaths: died of signal 9 — respawn now" in lines


def test_modules_lists_an_isolated_plugins_hosts(engine: FakeEngine) -> None:
    listing = _listing("/m/fold.py")
    listing[0]["runs_in"] = "isolated"
    listing[0]["hosts"] = {"g": {"host_pid": 4242, "host_state": "running", "restarts": 1}}
    engine.listing = listing
    shell, written = _shell(engine)
    assert shell.handle("modules")
    text = " ".join(written[-1].split())
    assert "isolated, 1 block" in text and "4242 running, 1 restarts)" in text  # cells wrap


def test_modules_names_a_native_plugins_maker_and_the_modules_its_host_serves(
    engine: FakeEngine,
) -> None:
    health = _health("/usr/lib/ladspa/tap_reverb.so#tap_reverb")
    health["runs_in"] = "isolated"
    health["hosts"] = {
        "verb": {
            "host_pid": 4242, "host_state": "running", "restarts": 1, "bypasses": 3,
            "latency_blocks": 1, "plugin": "tap_reverb", "maker": "Tom Szilagyi",
            "host_group": "tom_szilagyi", "group_modules": ["verb", "echo"],
        }
    }  # fmt: skip
    engine.health = {"fold": health}
    shell, written = _shell(engine)
    assert shell.handle("modules fold")
    assert (
        "  verb (tap_reverb, maker: Tom Szilagyi): host pid 4242 · running · restarts 1 · "
        "3 calls bypassed · plays 1 block late · 2 modules in this host (verb, echo)"
    ) in written[-1].splitlines()


def test_modules_lists_a_native_plugin_in_its_makers_host(engine: FakeEngine) -> None:
    listing = _listing("/usr/lib/ladspa/tap_reverb.so#tap_reverb")
    listing[0].update(runs_in="isolated", maker="Tom Szilagyi", host_group="tom_szilagyi")
    listing[0]["hosts"] = {"verb": {"host_pid": 4242, "host_state": "running", "restarts": 0}}
    engine.listing = listing
    shell, written = _shell(engine)
    assert shell.handle("modules")
    text = " ".join(written[-1].split())
    assert "isolated in the tom_szilagyi host" in text and "(maker Tom Szilagyi), 1 block" in text
