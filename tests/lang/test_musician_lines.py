"""Lines the hour at the prompt (issue 16) showed a musician types: short snapshot names,
`focus bass`, effects added `to` a module, `play`, `undo that`, and swing said of a filter."""

from __future__ import annotations

import pytest

from chronus.lang.errors import BadValueError
from chronus.lang.intents import ShellCommand, Snapshot, Start, Undo
from chronus.lang.interpreter import Interpreter
from chronus.lang.parser import parse


@pytest.mark.parametrize(
    ("line", "action", "name", "other"),
    [
        ("snapshot save a", "save", "a", None),
        ("snapshot save an", "save", "an", None),
        ("save snapshot as a", "save", "a", None),
        ("snapshot save 1", "save", "1", None),
        ("load snapshot a", "load", "a", None),
        ("load a", "load", "a", None),
        ("snapshot load 12", "load", "12", None),
        ("snapshot diff a", "diff", "a", None),
        ("snapshot diff a b", "diff", "a", "b"),
        ("diff 1 2", "diff", "1", "2"),
        ("snapshot diff intro a", "diff", "intro", "a"),
        # the article is still an article before the name it goes with
        ("snapshot save the intro", "save", "intro", None),
        ("diff the intro", "diff", "intro", None),
    ],
)
def test_a_snapshot_may_have_any_short_name(
    line: str, action: str, name: str, other: str | None
) -> None:
    assert parse(line) == [Snapshot(action, name, other)]


def test_a_short_snapshot_name_ends_its_command() -> None:
    intents = parse("snapshot save a then tempo 120")
    assert intents[0] == Snapshot("save", "a")
    assert len(intents) == 2


def test_snapshot_save_alone_says_it_needs_a_name() -> None:
    result = Interpreter().interpret("snapshot save")
    assert result.error is not None
    assert "a name" in result.error.expected
    assert "snapshot save intro" in result.error.hint


def test_focus_puts_a_module_in_focus_and_checks_it() -> None:
    interpreter = Interpreter()
    interpreter.interpret("add a saw called bass; add a sine called lead")
    result = interpreter.interpret("focus on bass")
    assert result.ok and result.messages == []
    assert result.intents == [ShellCommand("focus", "bass")]
    assert interpreter.context.focus == "bass"
    assert result.notes == ["focus: bass"]
    wrong = interpreter.interpret("focus tuba")
    assert wrong.error is not None and 'no module called "tuba"' in wrong.error.message
    assert interpreter.context.focus == "bass"


def test_play_alone_starts_the_transport_and_undo_that_is_undo() -> None:
    assert parse("play") == [Start(None)]
    assert parse("undo that") == parse("undo the last line") == [Undo(1)]


def _osc(interpreter: Interpreter, line: str) -> list[list[object]]:
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    return [m.to_list() for m in result.messages]


def test_swing_said_of_a_filter_moves_the_track_that_plays_into_it() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter; bass: c2 eb2")
    _osc(interpreter, "add a kick; kick: x .")
    assert _osc(interpreter, "swing 20% on acid1") == [["/seq/bass/swing", 0.2]]
    assert _osc(interpreter, "set acid1 cutoff 900; swing 10%") == [
        ["/mod/acid1/cutoff", 900.0],
        ["/seq/bass/swing", 0.1],
    ]
    assert "acid1" not in interpreter.context.tracks


def test_swing_with_no_track_anywhere_is_refused_and_changes_nothing() -> None:
    interpreter = Interpreter()
    with_nothing = interpreter.interpret("swing 20%")
    assert isinstance(with_nothing.error, BadValueError)
    assert "none plays yet" in with_nothing.error.message
    _osc(interpreter, "add a reverb")
    before = interpreter.context.state()
    refused = interpreter.interpret("swing 20% on reverb1")
    assert isinstance(refused.error, BadValueError)
    assert "reverb1 is a reverb, nothing plays into it" in refused.error.message
    assert interpreter.context.state() == before


def test_open_the_filter_on_a_sound_moves_its_filter_once() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter")
    _osc(interpreter, "add a saw called lead through a lowpass filter")
    assert _osc(interpreter, "open the filter a little on bass") == [["/mod/acid1/cutoff", 472.0]]
    assert _osc(interpreter, "close the filter on bass") == [["/mod/acid1/cutoff", 330.4]]


def test_undo_in_a_mirror_that_attached_says_why_there_is_nothing() -> None:
    interpreter = Interpreter()
    interpreter.interpret("add a saw called bass")
    found = Interpreter(interpreter.context.copy())
    found.context.history = []
    found.context.attached = True
    error = found.interpret("undo").error
    assert error is not None
    assert error.message.startswith("nothing to undo since this shell attached")
    assert error.hint == "change it by name (remove bass, mute bass) or load a snapshot (snapshots)"
    assert found.interpret("remove bass").ok
    assert found.interpret("undo").ok
    assert found.context.modules == {"bass": "saw"}


def test_up_an_octave_said_of_a_filter_shifts_the_pattern_that_plays_into_it() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter; bass: c2 eb2")
    assert _osc(interpreter, "set acid1 cutoff 300; up an octave") == [
        ["/mod/acid1/cutoff", 300.0],
        ["/seq/bass/transpose", 12],
    ]
    _osc(interpreter, "add a reverb")
    refused = Interpreter(interpreter.context.copy())
    refused.context.tracks.clear()
    error = refused.interpret("transpose reverb1 +3").error
    assert error is not None
    assert error.message == "reverb1 is a reverb: no pattern plays into it to transpose"
