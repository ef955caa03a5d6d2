"""The frame reader: a line the grammar does not take runs only when every word is known and
exactly one reading works; otherwise nothing is sent and the error offers what would work."""

from __future__ import annotations

import pytest

from chronus.lang.context import Context
from chronus.lang.frames import read_frame
from chronus.lang.interpreter import Interpreter

SETUP = (
    "add a saw bass through an acid filter", "add kick", "add hat", "kick x . x .", "bass c2 eb2",
)  # fmt: skip


def band() -> Interpreter:
    interpreter = Interpreter()
    for line in SETUP:
        assert interpreter.interpret(line).ok, line
    return interpreter


def refused(interpreter: Interpreter, line: str) -> str:
    """The hint of a line that must fail, after checking that it sent and changed nothing."""
    before = interpreter.context.to_dump(), interpreter.context.focus
    result = interpreter.interpret(line)
    assert result.error is not None, f"{line!r} should fail"
    assert result.messages == [] and result.intents == [] and result.read_as == ""
    assert (interpreter.context.to_dump(), interpreter.context.focus) == before
    return result.error.hint


@pytest.mark.parametrize(
    ("line", "read_as"),
    [
        ("turn the hats up", "louder on hat"),
        ("turn it down a bit", "a bit quieter"),
        ("bring the kick back", "unmute kick"),
        ("take the hats out", "mute hat"),
        ("open the filter a little", "a bit brighter on acid1"),
        ("turn the bass down by 3 db", "set bass volume to -9 db"),
        ("turn the kick down to -12 db", "set kick volume to -12 db"),
        ("hats on the offbeats", "hat on the off-beats"),
        ("bring the bass up a fifth", "transpose bass +7"),
        ("slow down by 20 bpm", "tempo 100"),
        ("bring in a sine pad", "add a sine called pad"),
        ("kill the drums", "mute kick; mute hat"),
        ("make it loud", "louder"),
        ("the hats are way too loud", "much quieter on hat"),
        ("the bass sounds too muddy", "brighter on bass"),
        ("switch the hats off", "mute hat"),
        ("get rid of the hats", "remove hat"),
    ],
)
def test_one_reading_runs_and_says_how_it_was_read(line: str, read_as: str) -> None:
    interpreter = band()
    result = interpreter.interpret(line)
    assert result.ok and result.read_as == read_as, result.error and result.error.render()
    assert result.notes[0] == f"read as: {read_as}"
    # The reading is a command of the grammar: alone, it sends the very same OSC.
    again = band()
    assert again.interpret(line).messages == result.messages
    direct = band().interpret(read_as)
    assert direct.read_as == "" and direct.messages == result.messages


def test_a_read_line_can_be_undone() -> None:
    interpreter = band()
    assert interpreter.interpret("take the kick out").read_as == "mute kick"
    assert [m.to_list() for m in interpreter.interpret("undo").messages] == [
        ["/mod/kick/mute", 0.0]
    ]


@pytest.mark.parametrize(
    ("line", "offers"),
    [
        ("mute the bass louder", ["mute bass", "louder on bass"]),
        ("turn the bass up and down", ["louder on bass", "quieter on bass"]),
    ],
)
def test_two_actions_or_two_readings_are_never_guessed(line: str, offers: list[str]) -> None:
    hint = refused(band(), line)
    assert hint == f"did you mean: {offers[0]} or {offers[1]}?"


@pytest.mark.parametrize(
    ("line", "offer"),
    [
        ("turn the kik up", "louder on kick"),
        ("tunr the bass up", "louder on bass"),
        ("take out the kcik", "mute kick"),
        ("spped up a bit", "a bit faster"),
        ("tmepo 128", "tempo 128"),
    ],
)
def test_a_typo_is_offered_never_run(line: str, offer: str) -> None:
    assert refused(band(), line) == f"did you mean: {offer}?"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("make it sound like a cathedral full of cats", '"like", "cathedral", "full", "cats"'),
        ("play something nice", '"something", "nice"'),
        ("speed up the cathedral", '"cathedral"'),
    ],
)
def test_a_line_with_unknown_words_is_refused_politely(line: str, words: str) -> None:
    hint = refused(band(), line)
    assert hint.startswith("I do not know the word") and words in hint


def test_what_is_offered_works_and_is_at_most_three() -> None:
    interpreter = band()
    assert interpreter.interpret("kick x . . .").ok  # the kick in focus: it has no cutoff
    for line in ("add", "boost the cutoff", "turn up the drive", "more fuzz", "i want"):
        hint = refused(interpreter, line)
        assert hint.startswith("did you mean: "), (line, hint)
        offers = hint.removeprefix("did you mean: ").removesuffix("?").replace(" or ", ", ")
        commands = offers.split(", ")
        assert 1 <= len(commands) <= 3
        for command in commands:
            trial = Interpreter(interpreter.context.copy())
            assert trial.interpret(command).ok, (line, command)


def test_bring_in_adds_a_type_or_unmutes_a_module_but_never_both() -> None:
    interpreter = band()
    assert interpreter.interpret("bring in the kick").read_as == "unmute kick"
    assert interpreter.interpret("bring in a square lead").read_as == "add a square called lead"
    refused(interpreter, "bring in the bass and a saw")


def test_the_reader_leaves_the_context_alone() -> None:
    context = band().context
    before = context.to_dump()
    reading = read_frame("turn the hats up", context, lambda command: True)
    assert reading.command == "louder on hat" and context.to_dump() == before


def test_lines_it_cannot_read_get_no_reading() -> None:
    context = Context()
    for line in ("x . x .", "/mod/bass/cutoff 800", "mute bass; unmute bass", ""):
        assert read_frame(line, context, lambda command: True).command is None


@pytest.mark.parametrize(
    "line",
    ["add 2 kicks", "run the bass through 2 delays", "mute the kick in 2 bars",
     "turn the bass up in 4 bars", "cut the bass by 3 db", "lfo on bass drive at 100 hz",
     "remove everything"],
)  # fmt: skip
def test_a_reading_never_drops_a_number(line: str) -> None:
    hint = refused(band(), line)
    assert "did you mean" not in hint, hint


def test_a_type_word_that_names_no_module_is_no_command_for_the_focus() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add a saw bass; add hat").ok
    for line, kind in (("take the kick out", "kick"), ("clap on the backbeat", "snare"),
                       ("kill the reverb", "reverb")):  # fmt: skip
        hint = refused(interpreter, line)
        assert hint == f"there is no {kind} in the patch: add one first (add a {kind})", hint
    assert not refused(interpreter, "mute the filter").startswith("did you mean:")


def test_a_line_of_several_commands_is_read_piece_by_piece_and_undone_as_one() -> None:
    interpreter = band()
    result = interpreter.interpret(
        "add a square lead and turn it down a bit then take the hats out"
    )
    assert result.read_as == "add a square lead; a bit quieter; mute hat"
    assert [m.to_list() for m in result.messages][-2:] == [
        ["/mod/lead/volume", -7.5],
        ["/mod/hat/mute", 1.0],
    ]
    undone = [m.to_list() for m in interpreter.interpret("undo").messages]
    assert ["/patch/remove", "lead"] in undone and ["/mod/hat/mute", 0.0] in undone
    assert "lead" not in interpreter.context.modules


def test_pieces_are_all_or_nothing() -> None:
    interpreter = band()
    refused(interpreter, "turn the hats up and make it sound like a cathedral")
    refused(interpreter, "take the hats out and undo")


@pytest.mark.parametrize(
    "line",
    ["bpm echo pace brighter", "% unsolo semitones", "filter hz cut", "cut named triplets",
     "remove fourth hh tons", "slower band-pass", "bit 2 let's set up", "fourth lose",
     "reverbs muddy hat silence", "drums make semi slower", "close hz", "unsolo step",
     "turn the bass up a bit by 3 db"],
)  # fmt: skip
def test_a_known_word_the_reading_has_no_use_for_blocks_it(line: str) -> None:
    """Word soup of known words: acting on it would drop a word, so nothing runs."""
    refused(band(), line)


@pytest.mark.parametrize(
    ("setup", "line", "knob"),
    [
        ("add a pad", "more reverb on the pad", "/mod/pad_verb/mix"),
        ("add a saw called bass through a delay", "more echo on the bass", "/mod/delay1/mix"),
    ],
)
def test_an_effect_and_the_sound_through_it_are_one_knob_moved_once(
    setup: str, line: str, knob: str
) -> None:
    interpreter = Interpreter()
    assert interpreter.interpret(setup).ok
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    assert [message.address for message in result.messages] == [knob]
