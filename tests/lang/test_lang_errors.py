"""Errors: where they point (1-based column), what they expect, and the hint they give."""

from __future__ import annotations

import tomllib

import pytest

from chronus.dsp.specs import param_specs
from chronus.lang.errors import (
    BadValueError,
    ChronusSyntaxError,
    NoFocusError,
    UnknownModuleError,
    UnknownParamError,
)
from chronus.lang.interpreter import Interpreter
from chronus.lang.parser import ERRORS_FILE, example_label, grammar_dir, parse

SAW_PARAMS = tuple(spec.name for spec in param_specs("saw"))
"""The saw's parameters in declaration order, as an error lists them."""


@pytest.fixture
def band() -> Interpreter:
    interpreter = Interpreter()
    assert interpreter.interpret("add kick; add saw bass").ok
    return interpreter


def error_of(interpreter: Interpreter, line: str) -> ChronusSyntaxError:
    result = interpreter.interpret(line)
    assert not result.ok and result.error is not None, line
    assert result.messages == [] and result.intents == []
    assert result.error.line == line
    return result.error


def test_misspelt_command_points_at_the_first_word(band: Interpreter) -> None:
    err = error_of(band, "plya c3 on bass")
    assert (err.column, err.hint) == (1, 'did you mean "play"?')
    assert '"play"' in err.expected and "a module name" in err.expected
    err = error_of(band, "please ad saw lead")
    assert (err.column, err.hint) == (8, 'did you mean "add"?')
    err = error_of(band, "stop; stpo")
    assert (err.column, err.hint) == (7, 'did you mean "stop"?')


def test_misspelt_command_that_parses_as_a_parameter(band: Interpreter) -> None:
    err = error_of(Interpreter(), "tmepo 128")
    assert (err.column, err.message, err.hint) == (
        1,
        '"tmepo" is not a command',
        "did you mean: tempo 128?",
    )
    err = error_of(band, "tmepo 128")
    assert isinstance(err, UnknownParamError)
    assert (err.column, err.hint) == (1, "did you mean: tempo 128?")


def test_a_known_module_is_not_taken_for_a_misspelt_keyword() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add saw pad").ok
    err = error_of(interpreter, "pad cutoff loud")
    assert err.column == 12
    assert err.expected == ['"to"', "a number"]
    assert err.hint == "a parameter needs a value: set bass cutoff 800 hz"


def test_misspelt_unit_keyword(band: Interpreter) -> None:
    err = error_of(band, "play c3 for 2 beets")
    assert (err.column, err.hint) == (15, 'did you mean "beats"?')
    assert err.expected == ["a unit (hz, khz, ms, s, db, %, beats, bars, steps)"]


def test_unfinished_command_points_past_the_end(band: Interpreter) -> None:
    err = error_of(band, "set bass cutoff")
    assert err.column == 16
    assert error_of(band, "set bass cutoff   # trailing comment").column == 16
    assert err.message == "this command is not finished"
    assert err.expected == ['"to"', "a number"]


def test_unexpected_character(band: Interpreter) -> None:
    err = error_of(band, "play c3 on bass @")
    assert err.column == 17
    assert err.message == "unexpected character '@'"
    assert err.expected == [
        '";", "then" or "and"', '"every"', '"for"', '"now"', '"on"', '"velocity"', "end of line",
    ]  # fmt: skip


def test_unknown_module(band: Interpreter) -> None:
    err = error_of(band, "set bas cutoff 800")
    assert isinstance(err, UnknownModuleError)
    assert (err.column, err.hint) == (5, "did you mean: set bass cutoff to 800?")
    assert err.expected == ["kick", "bass"]
    err = error_of(band, "play c3 on lead")
    assert (err.column, err.message) == (12, 'there is no module called "lead"')
    err = error_of(Interpreter(), "play snare")
    assert err.hint == "add one first: add snare"


def test_unknown_module_type(band: Interpreter) -> None:
    err = error_of(band, "add a sawtoth lead")
    assert isinstance(err, UnknownModuleError)
    assert err.column == 7
    assert "saw" in err.expected and "kick" in err.expected


def test_unknown_param_suggests(band: Interpreter) -> None:
    err = error_of(band, "set bass cutof 800")
    assert isinstance(err, UnknownParamError)
    assert (err.column, err.hint) == (10, "did you mean: set bass cutoff to 800?")
    assert err.message == 'bass (saw) has no parameter "cutof"'
    assert "cutoff" in err.expected and "release" in err.expected
    # A parameter of another type: kicks have no cutoff.
    err = error_of(band, "kick cutoff 800")
    assert isinstance(err, UnknownParamError) and err.column == 6


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("play h4", 6, '"h4" is neither a note nor a module'),
        ("play c99 on bass", 6, 'note "c99" is outside MIDI (c-1 to g9)'),
        ("play c10", 6, 'note "c10" is outside MIDI (c-1 to g9)'),
        ("play a9", 6, 'note "a9" is outside MIDI (c-1 to g9)'),
        ("play cb-1", 6, 'note "cb-1" is outside MIDI (c-1 to g9)'),
    ],
)
def test_bad_note(band: Interpreter, line: str, column: int, message: str) -> None:
    err = error_of(band, line)
    assert isinstance(err, BadValueError)
    assert (err.column, err.message) == (column, message)
    assert "c4" in err.hint


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("set bass cutoff 5 ms", 19, ["hz", "khz"]),
        ("bass attack 20 hz", 16, ["ms", "s", "beats", "bars", "steps"]),
        ("volume 50%", 10, ["db"]),
        ("play c3 for 2 hz", 15, ["ms", "s", "beats", "bars", "steps"]),
        ("wait 3 db", 8, ["ms", "s", "beats", "bars", "steps"]),
    ],
)
def test_value_with_wrong_unit(
    band: Interpreter, line: str, column: int, expected: list[str]
) -> None:
    err = error_of(band, line)
    assert isinstance(err, BadValueError)
    assert err.column == column
    assert err.expected == expected


def test_tempo_takes_bpm_only(band: Interpreter) -> None:
    err = error_of(band, "tempo 128 hz")
    assert err.column == 11
    assert err.expected == ['";", "then" or "and"', '"bpm"', '"now"', "end of line"]


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("cutoff 30000", 8),
        ("set bass volume 20 db", 17),
        ("tempo 1000", 7),
        ("play c3 for 2 hours", 15),
    ],
)
def test_value_out_of_range(band: Interpreter, line: str, column: int) -> None:
    assert error_of(band, line).column == column


def test_out_of_range_duration_points_at_the_duration(band: Interpreter) -> None:
    err = error_of(band, "play c3 on bass for 5000 s")
    assert err.column == 21 and "3600" in err.message


def test_no_focus() -> None:
    for line, column in [("cutoff 800", 1), ("play c3", 6), ("play c3 on it", 12)]:
        err = error_of(Interpreter(), line)
        assert isinstance(err, NoFocusError), line
        assert err.column == column
        assert "add a saw called bass" in err.hint


def test_no_focus_with_a_patch_offers_its_modules_not_an_add() -> None:
    interpreter = Interpreter()
    interpreter.interpret("add a saw called bass through an acid filter; add a kick")
    interpreter.interpret("bass: c2 eb2")
    interpreter.context.focus = None  # as in a shell that just attached
    err = error_of(interpreter, "up an octave")
    assert isinstance(err, NoFocusError)
    assert err.hint == (
        "focus bass (or acid1), then up an octave works; or name the module "
        "(modules: bass acid1 kick)"
    )
    err = error_of(interpreter, "volume -6 db")
    assert err.hint.startswith("focus bass (or acid1, kick), then volume -6 db works")
    assert "add" not in err.hint


def test_reserved_and_taken_names(band: Interpreter) -> None:
    err = error_of(band, "add saw called tempo")
    assert (err.column, err.message) == (16, '"tempo" is a word of the language, not a module name')
    err = error_of(band, "add sine called bass")
    assert err.message == 'there is already a module called "bass" (saw)'
    assert err.hint == "pick another name, e.g. bass2"
    assert error_of(band, "add saw master").column == 9


def test_raw_osc_errors(band: Interpreter) -> None:
    err = error_of(band, "/note/bass x")
    assert err.column == 1 and err.hint == "usage: /note/<id> <midi> <velocity> [<seconds>]"
    assert error_of(band, "stop; /nope 3").column == 7
    assert "must be" in error_of(band, "/note/bass 200 100").message


def test_render_shows_line_caret_expected_and_hint(band: Interpreter) -> None:
    assert error_of(band, "set bass cutof 800").render() == "\n".join(
        [
            "set bass cutof 800",
            "         ^",
            'bass (saw) has no parameter "cutof"',
            "expected: " + ", ".join(SAW_PARAMS),
            "hint: did you mean: set bass cutoff to 800?",
        ]
    )


def test_error_json_shape(band: Interpreter) -> None:
    data = band.interpret("set bass cutof 800").to_json_dict()
    assert data["ok"] is False and data["osc"] == [] and data["intents"] == []
    assert data["error"] == {
        "message": 'bass (saw) has no parameter "cutof"',
        "column": 10,
        "expected": list(SAW_PARAMS),
        "hint": "did you mean: set bass cutoff to 800?",
    }


def test_parse_raises_only_chronus_syntax_errors() -> None:
    for line in ["play 60", "@@@", "tempo 1e999", "wait 3 hz", "play a9", "add saw called"]:
        with pytest.raises(ChronusSyntaxError) as info:
            parse(line)
        assert info.value.line == line


def _examples() -> list[tuple[str, str]]:
    table = tomllib.loads((grammar_dir() / ERRORS_FILE).read_text(encoding="utf-8"))
    return [(entry["label"], example) for entry in table["hint"] for example in entry["examples"]]


@pytest.mark.parametrize(("label", "example"), _examples(), ids=[e for _, e in _examples()])
def test_every_bad_example_maps_to_its_label(label: str, example: str) -> None:
    assert example_label(example) == label


def test_an_unseen_line_gets_the_label_of_its_state(band: Interpreter) -> None:
    assert error_of(band, "wait forever").hint.startswith("wait takes a number and a time unit")
    assert error_of(band, "play c3 on").hint == 'after "on" comes a module name: play c3 on bass'
