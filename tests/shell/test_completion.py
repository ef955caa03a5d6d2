"""The completer: the text before the cursor in, the completions with their meta out.

The patch is built by the language itself (an interpreter on a context, as the shell's
mirror is), with no engine behind it: the completer never asks one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import learn_plugins
from chronus.lang.native import NativePlugin, declare_native
from chronus.session.snapshots import SnapshotStore
from chronus.shell.completion import CommandCompleter, Suggestion


@pytest.fixture
def context() -> Context:
    interpreter = Interpreter(Context())
    for line in (
        "add a saw called bass through an acid filter",
        "add kick",
        "add a sine called lead",
        "set lead cutoff 800 hz",
    ):
        assert interpreter.interpret(line).ok, line
    return interpreter.context


@pytest.fixture
def completer(context: Context, tmp_path: Path) -> CommandCompleter:
    store = SnapshotStore(tmp_path / "snapshots")
    store.save("intro", {"modules": {}})
    store.save("verse", {"modules": {}})
    return CommandCompleter(lambda: context, store.names)


def _texts(found: list[Suggestion]) -> list[str]:
    return [s.text for s in found]


def _meta(found: list[Suggestion], text: str) -> str:
    return next(s.meta for s in found if s.text == text)


def test_command_words_open_a_line_with_an_example(completer: CommandCompleter) -> None:
    found = completer.suggest("")
    texts = _texts(found)
    assert texts[:3] == ["add", "clear", "connect"]
    for word in ("play", "set", "snapshot", "tempo", "undo", "record", "help"):
        assert word in texts
    assert _meta(found, "add") == "add a saw called bass"
    pl = completer.suggest("pl")
    assert _texts(pl)[0] == "play" and all(s.replaces == 2 for s in pl)


def test_command_words_after_a_separator(completer: CommandCompleter) -> None:
    assert "play" in _texts(completer.suggest("set bass cutoff 300; pl"))
    assert "play" in _texts(completer.suggest("tempo 120 then pl"))


def test_module_names_where_a_module_goes(completer: CommandCompleter) -> None:
    for line in ("mute ", "play c3 on ", "connect bass to ", "show ", "what is "):
        found = completer.suggest(line)
        assert {"bass", "acid1", "kick", "lead"} <= set(_texts(found)), line
    assert _meta(completer.suggest("mute b"), "bass") == "saw"
    assert _texts(completer.suggest("mute l")) == ["lead"]


def test_parameters_of_that_module_with_range_and_unit(completer: CommandCompleter) -> None:
    found = completer.suggest("set lead ")
    assert _meta(found, "cutoff") == "20–20000 hz · now 800"
    assert "decay" in _texts(found)
    assert _meta(completer.suggest("set bass "), "cutoff") == "20–20000 hz · now 2000"
    kick = completer.suggest("kick ")
    assert "tone" in _texts(kick) and "cutoff" not in _texts(kick)
    acid = completer.suggest("lfo on acid1 re")
    assert _texts(acid) == ["res", "resonance"] and _meta(acid, "res").startswith("0–1")
    assert _meta(acid, "resonance") == "= res"  # an alias, after the parameters
    assert _texts(completer.suggest("set bass cuto")) == ["cutoff"]


def test_a_parameter_alone_is_one_of_the_focus(
    completer: CommandCompleter, context: Context
) -> None:
    context.focus = "bass"
    assert "cutoff" in _texts(completer.suggest("cu"))
    context.focus = "kick"
    assert "cutoff" not in _texts(completer.suggest("cu"))


def test_module_types_and_sounds_after_add(completer: CommandCompleter) -> None:
    found = completer.suggest("add a ")
    texts = _texts(found)
    assert texts[:2] == ["saw", "sine"]
    assert _meta(found, "saw") == "synth" and _meta(found, "kick") == "drum"
    assert _meta(found, "reverb") == "effect" and _meta(found, "lowpass") == "filter"
    assert "303" in texts and "acid bass" in texts
    assert completer.suggest("add a saw called ") == []
    assert "reverb" in _texts(completer.suggest("add a saw called x through an "))


def test_notes_where_notes_go(completer: CommandCompleter, context: Context) -> None:
    found = completer.suggest("play e")
    assert "e2" in _texts(found) and _meta(found, "e2") == "midi 40"
    assert "eb2" in _texts(found)  # out of the key, but typed
    pattern = completer.suggest("bass: c2 eb2 ")
    assert _texts(pattern)[0] == "c1" and "g2" in _texts(pattern)
    assert "every" in _texts(pattern)
    context.key, context.scale = 0, "minor"
    assert "eb2" in _texts(completer.suggest("bass: c2 "))
    assert "e2" not in _texts(completer.suggest("bass: c2 "))
    assert _texts(completer.suggest("kick: x . ")) == ["every", "now"]  # a drum plays no notes


def test_snapshot_names_after_snapshot_verbs(completer: CommandCompleter) -> None:
    for line in ("snapshot load ", "load snapshot ", "snapshot delete ", "snapshot diff "):
        assert _texts(completer.suggest(line)) == ["intro", "verse"], line
    assert _texts(completer.suggest("snapshot diff intro v")) == ["verse"]
    assert _meta(completer.suggest("snapshot load i"), "intro") == "snapshot"
    assert "intro" not in _texts(completer.suggest("snapshot save "))  # a new name goes there


def test_file_paths_where_a_path_goes(
    completer: CommandCompleter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / "intro.chr").write_text("tempo 120\n")
    (tmp_path / "fold.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "notes.txt.bak").write_text("")
    (tmp_path / ".hidden").write_text("")
    monkeypatch.chdir(tmp_path)
    found = completer.suggest("replay so")
    assert _texts(found) == ["songs"] and _meta(found, "songs") == "folder"
    assert _texts(completer.suggest("replay songs/")) == ["songs/intro.chr"]
    everything = _texts(completer.suggest("record to "))
    assert "notes.txt" in everything and ".hidden" not in everything
    assert _texts(completer.suggest("record to notes.txt")) == ["notes.txt", "notes.txt.bak"]
    assert _texts(completer.suggest("record to .h")) == [".hidden"]
    modules = _texts(completer.suggest("load module "))
    assert "fold.py" in modules and "songs" in modules and "notes.txt" not in modules


def test_plugin_type_names(completer: CommandCompleter) -> None:
    learn_plugins({"fold": {"params": [], "processor": True}})
    try:
        assert _texts(completer.suggest("unload ")) == ["fold"]
        assert "fold" in _texts(completer.suggest("load module f"))
        found = completer.suggest("add a saw called x through a f")
        assert _meta(found, "fold") == "plugin"
    finally:
        learn_plugins({})


def test_native_plugin_names_after_load_plugin(completer: CommandCompleter) -> None:
    declare_native([NativePlugin("tap_reverb", "/l/tap_reverb.so#tap_reverb", "Reverberator"),
                    NativePlugin("plate", "/l/plate_1423.so#plate", "Plate reverb")])  # fmt: skip
    try:
        assert "plugin" in _texts(completer.suggest("load "))
        found = completer.suggest("load plugin ")
        assert _texts(found) == ["plate", "tap_reverb"]
        assert _meta(found, "tap_reverb") == "LADSPA: Reverberator"
        assert _texts(completer.suggest("load plugin ta")) == ["tap_reverb"]
    finally:
        declare_native([])


def test_units_of_the_parameter_first(completer: CommandCompleter) -> None:
    assert _texts(completer.suggest("set bass cutoff 800 "))[:2] == ["hz", "khz"]
    assert _texts(completer.suggest("bass decay 2 "))[:2] == ["ms", "s"]


def test_phrases_of_several_words(completer: CommandCompleter) -> None:
    found = completer.suggest("kick four on th")
    assert [(s.text, s.replaces) for s in found] == [("four on the floor", len("four on th"))]
    assert "take out" in _texts(completer.suggest("ta"))


def test_help_topics(completer: CommandCompleter) -> None:
    found = completer.suggest("help pa")
    assert "pattern" in _texts(found) and _meta(found, "pattern") == "help topic"


def test_a_line_that_does_not_fit_offers_nothing(completer: CommandCompleter) -> None:
    assert completer.suggest("set bass cutoff 800 hz hz ") == []
    assert completer.suggest("plya c3 on ") == []


def test_modules_are_rebuilt_only_when_the_patch_changes(
    completer: CommandCompleter, context: Context
) -> None:
    first = completer.modules()
    assert completer.modules() is first
    context.modules["pad"] = "sine"
    again = completer.modules()
    assert again is not first and ("pad", "sine") in again


def test_prompt_toolkit_completions_carry_the_meta(completer: CommandCompleter) -> None:
    document = Document("set lead cu", len("set lead cu"))
    (completion,) = completer.get_completions(document, CompleteEvent(completion_requested=True))
    assert completion.text == "cutoff" and completion.start_position == -2
    assert completion.display_meta_text == "20–20000 hz · now 800"
