"""Lines the hour at the prompt (issue 16) showed a musician types: short snapshot names,
`focus bass`, effects added `to` a module, `play`, `undo that`, and swing said of a filter."""

from __future__ import annotations

import pytest

from chronus.lang.errors import BadValueError, UnknownModuleError
from chronus.lang.intents import Redo, ShellCommand, Snapshot, Start, Undo
from chronus.lang.interpreter import Interpreter
from chronus.lang.parser import parse


@pytest.mark.parametrize(
    ("line", "action", "name", "other"),
    [
        ("snapshot save a", "save", "a", None),
        ("snapshot save an", "save", "an", None),
        ("save snapshot as a", "save", "a", None),
        ("snapshot save 1", "save", "1", None),
        ("save this as intro", "save", "intro", None),
        ("save it as verse", "save", "verse", None),
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


# ---- the last refused lines of the hour at the prompt --------------------------------------
@pytest.mark.parametrize(
    ("line", "steps"),
    [
        ("undo twice", 2),
        ("undo 3 times", 3),
        ("undo the last 2", 2),
        ("undo the last two changes", 2),
        ("undo three lines", 3),
        ("undo one", 1),
        ("undo the last one", 1),
        ("undo 1 time", 1),
    ],
)
def test_undo_takes_how_many_times_as_people_say_it(line: str, steps: int) -> None:
    assert parse(line) == [Undo(steps)]


def test_redo_takes_them_too() -> None:
    assert parse("redo twice") == [Redo(2)]
    assert parse("redo the last 3") == [Redo(3)]


def test_undo_twice_goes_back_two_lines_and_keeps_each_step() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass")
    _osc(interpreter, "cutoff 900")
    _osc(interpreter, "tempo 90")
    result = interpreter.interpret("undo twice")
    assert [m.to_list() for m in result.messages] == [
        ["/mod/bass/cutoff", 2000.0],
        ["/tempo", 120.0],
    ]
    [mapped] = result.mapped
    first, second = mapped.path
    assert (first.tempo, dict(dict(first.params)["bass"])["cutoff"]) == (120.0, 900.0)
    assert second == interpreter.context.state()
    assert interpreter.context.modules == {"bass": "saw"}
    assert _osc(interpreter, "redo twice") == [["/mod/bass/cutoff", 900.0], ["/tempo", 90.0]]


@pytest.mark.parametrize(
    ("line", "address", "value"),
    [
        ("swing the hat 20%", "/seq/hat/swing", 0.2),
        ("swing hat 0.3", "/seq/hat/swing", 0.3),
        ("swing bass 60%", "/seq/bass/swing", 0.6),
        ("gate bass 0.3", "/seq/bass/gate", 0.3),
        ("no swing on the hat", "/seq/hat/swing", 0.0),
        ("no swing on bass", "/seq/bass/swing", 0.0),
    ],
)
def test_swing_on_a_named_track(line: str, address: str, value: float) -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass; bass: c2 eb2; add a hat; hat: x x")
    assert _osc(interpreter, line) == [[address, value]]


def test_no_swing_with_nothing_named_is_every_tracks_and_a_filter_reaches_its_track() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter; bass: c2 eb2")
    _osc(interpreter, "add a hat; hat: x x; swing 20% on hat")
    assert _osc(interpreter, "no swing on acid1") == [["/seq/bass/swing", 0.0]]
    interpreter.context.focus = None
    assert _osc(interpreter, "no swing") == [["/seq/bass/swing", 0.0], ["/seq/hat/swing", 0.0]]
    assert _osc(interpreter, "no drive on acid1") == [["/mod/acid1/drive", 0.0]]


def test_a_module_called_swing_keeps_its_name() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called swing")
    assert _osc(interpreter, "swing cutoff 900") == [["/mod/swing/cutoff", 900.0]]


def test_swing_on_a_track_that_is_not_there_names_the_module() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass; bass: c2")
    error = interpreter.interpret("swing the tuba 20%").error
    assert isinstance(error, UnknownModuleError)
    assert 'no module called "tuba"' in error.message
    assert error.column == 11


def test_play_with_a_filter_in_focus_plays_the_sound_that_goes_into_it() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter")
    _osc(interpreter, "set acid1 cutoff 500")
    assert interpreter.context.focus == "acid1"
    result = interpreter.interpret("play c3")
    assert result.ok
    assert [m.address for m in result.messages] == ["/note/bass"]
    assert result.notes == ["played on bass, which plays into acid1"]
    assert interpreter.context.focus == "acid1"
    assert [m.address for m in interpreter.interpret("play c minor chord on acid1").messages] == [
        "/note/bass"
    ] * 3
    assert [m.address for m in interpreter.interpret("acid1 plays eb2").messages] == ["/note/bass"]


def test_play_on_an_effect_nothing_or_several_play_into_is_refused() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a reverb")
    alone = interpreter.interpret("play c3")
    assert isinstance(alone.error, BadValueError) and not alone.messages
    assert alone.error.message == (
        "reverb1 is a reverb: it makes no sound of its own, and nothing plays into it"
    )
    assert alone.error.hint == "add a saw called bass through reverb1, then play c3 on bass"
    _osc(interpreter, "add a saw called bass; add a sine called lead")
    _osc(interpreter, "connect bass to reverb1; connect lead to reverb1")
    both = interpreter.interpret("play c3 on reverb1")
    assert isinstance(both.error, BadValueError) and not both.messages
    assert (
        both.error.message == "reverb1 is a reverb: bass and lead play into it; which one plays c3?"
    )
    assert both.error.hint == "play c3 on bass"
    assert interpreter.context.modules["reverb1"] == "reverb"


def test_darker_said_of_an_lfo_offers_the_sound_it_moves_not_a_route() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter; wobble it")
    interpreter.context.focus = "lfo1"
    error = interpreter.interpret("make it darker").error
    assert error is not None
    assert error.message == "lfo1 (lfo) has nothing that makes it darker or brighter"
    assert error.hint == "an lfo makes no sound: name one (focus acid1)"


def test_a_track_setting_is_not_called_an_unknown_word() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a pad")  # no sound played as a bass: `bass` names nothing
    error = interpreter.interpret("swing bass 60%").error
    assert error is not None and error.message == 'there is no module called "bass"'
    assert "swing" not in error.hint


@pytest.mark.parametrize(
    ("line", "read_as", "osc"),
    [
        (
            "808 x . . . x . . .",
            "tr808 x . . . x . . .",
            [["/seq/tr808/pattern", "x . . . x . . ."]],
        ),
        ("mute the 808", "mute the tr808", [["/mod/tr808/mute", 1.0]]),
        ("the 303: c2 eb2", "the tb303: c2 eb2", [["/seq/tb303/pattern", "c2 eb2"]]),
        ("make the 303 darker", "make the tb303 darker", [["/mod/tb303_f/cutoff", 224.0]]),
    ],
)
def test_a_named_sound_is_the_module_it_made(line: str, read_as: str, osc: list[object]) -> None:
    """`add an 808` makes tr808: `808 x . . .` was refused ("I do not know the word x"), and
    the frame reader read `make the 303 darker` as a cutoff of the module in focus."""
    interpreter = Interpreter()
    _osc(interpreter, "add an 808; add a 303; add a wobble bass")
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    assert result.read_as == read_as
    assert [m.to_list() for m in result.messages] == osc


@pytest.mark.parametrize(
    ("line", "read_as", "osc"),
    [
        ("bass: c2 c2 eb2 g2", "tb303: c2 c2 eb2 g2", [["/seq/tb303/pattern", "c2 c2 eb2 g2"]]),
        ("make the bass darker", "make the tb303 darker", [["/mod/tb303_f/cutoff", 224.0]]),
        ("swing bass 60%", "swing tb303 60%", [["/seq/tb303/swing", 0.6]]),
        ("turn the bass down", "quieter on tb303", [["/mod/tb303/volume", -9.0]]),
        ("bring the bass back", "unmute tb303", [["/mod/tb303/mute", 0.0]]),
    ],
)
def test_the_bass_is_the_one_bass_sound(line: str, read_as: str, osc: list[object]) -> None:
    """`give me a 303`, then `bass: c2 c2 eb2 g2` (the charter's own first lines) was refused:
    "there is no module called bass". A player calls the 303 the bass."""
    interpreter = Interpreter()
    _osc(interpreter, "give me a 303; give me a kick")
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    assert result.read_as == read_as
    assert [m.to_list() for m in result.messages] == osc


def test_the_bass_is_not_guessed_among_two_nor_over_a_module_called_bass() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a 303; add a sub bass")
    two = interpreter.interpret("bass: c2 c2")
    assert two.error is not None and not two.messages  # which one is not guessed
    _osc(interpreter, "add a saw called bass")
    assert _osc(interpreter, "bass: c2 c2") == [["/seq/bass/pattern", "c2 c2"]]


def test_a_sound_given_a_name_is_still_the_sound() -> None:
    """`play an f minor chord on the pad` (an example of `help`) was refused after `add a pad
    called keys`: "there is no module called pad", hint "did you mean add?"."""
    interpreter = Interpreter()
    _osc(interpreter, "add a pad called keys; add a saw called bass through reverb")
    result = interpreter.interpret("play an f minor chord on the pad")
    assert result.ok, result.error and result.error.render()
    assert [m.to_list()[0] for m in result.messages] == ["/note/keys"] * 3
    assert _osc(interpreter, "make the pad darker") == [["/mod/keys/cutoff", 980.0]]
    _osc(interpreter, "add a pad called strings")
    two = interpreter.interpret("make the pad darker")
    assert two.error is not None and not two.messages  # two pads: which one is not guessed


def test_a_one_part_sound_is_not_found_by_its_type() -> None:
    """A plain kick is not "the 808": the 808 kick is one module, so its parts prove nothing."""
    interpreter = Interpreter()
    _osc(interpreter, "add a kick called boom")
    result = interpreter.interpret("808 x . . .")
    assert result.error is not None and not result.messages


def test_a_named_sound_made_twice_is_not_guessed() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add an 808; add an 808")
    assert set(interpreter.context.modules) == {"tr808", "tr808_2"}
    result = interpreter.interpret("808 x . x .")
    assert result.error is not None and not result.messages


def test_a_pattern_said_of_a_filter_is_the_pattern_of_the_sound_going_into_it() -> None:
    """`play c2 eb2 every 16th` with acid1 in focus went to acid1's own track: its notes only
    retriggered the envelope, and the bass stayed silent."""
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter; set acid1 cutoff 500")
    result = interpreter.interpret("play c2 eb2 every 16th")
    assert [m.to_list() for m in result.messages] == [
        ["/seq/bass/step", 16],
        ["/seq/bass/pattern", "c2 eb2"],
    ]
    assert result.notes == ["the track playing into acid1"]
    assert _osc(interpreter, "acid1: c2 . g2") == [["/seq/bass/pattern", "c2 . g2"]]
    assert _osc(interpreter, "every 8th") == [["/seq/bass/step", 8]]
    assert interpreter.context.focus == "acid1"
    assert "acid1" not in interpreter.context.tracks
    _osc(interpreter, "add a reverb")
    refused = interpreter.interpret("reverb1: c3")
    assert refused.error is not None and not refused.messages
    assert refused.error.hint == "bass: c3, or route it: bass through reverb1"


def test_notes_with_no_module_say_how_to_play_them() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw bass through an acid filter")
    error = interpreter.interpret("c2 c3 eb2 c2 every 16th").error
    assert error is not None
    assert error.hint == (
        "play c2 c3 eb2 c2 every 1/16 (the module in focus), or name it: "
        "bass: c2 c3 eb2 c2 every 1/16"
    )
    for line in ("play c2 c3 eb2 c2 every 1/16", "bass: c2 c3 eb2 c2 every 1/16"):
        assert _osc(Interpreter(interpreter.context.copy()), line)[-1] == [
            "/seq/bass/pattern",
            "c2 c3 eb2 c2",
        ]


@pytest.mark.parametrize("line", ["make the kick punchier", "make the kick boom"])
def test_the_kick_with_an_unknown_word_makes_no_new_kick(line: str) -> None:
    """`make the kick punchier` was read as `add a kick called punchier`: a second kick
    started playing. "the kick" is the one there is; an unknown word after it is no name."""
    interpreter = Interpreter()
    _osc(interpreter, "add a kick")
    result = interpreter.interpret(line)
    assert result.error is not None and not result.messages, result.messages
    assert list(interpreter.context.modules) == ["kick"]


def test_a_type_then_a_free_word_still_names_a_new_module() -> None:
    interpreter = Interpreter()
    assert _osc(interpreter, "make a kick boom") == [
        ["/patch/create", "boom", "kick"],
        ["/patch/connect", "boom", "master"],
    ]


@pytest.mark.parametrize(
    ("line", "osc"),
    [
        ("start recording", [["/record/start", "take1.wav"]]),
        ("record start", [["/record/start", "take1.wav"]]),
        ("start recording 8 bars to t.wav", [["/record/start", "t.wav", 768000]]),
    ],
)
def test_recording_starts_as_musicians_say_it(line: str, osc: list[object]) -> None:
    """`record start` was refused ("unexpected word start") and `start recording` read as
    a module called "recording"."""
    assert _osc(Interpreter(), line) == osc


@pytest.mark.parametrize(
    ("line", "osc"),
    [
        ("more drive on b", [["/mod/b_drive/drive", 21.0]]),
        ("drive 24 on b", [["/mod/b_drive/drive", 24.0]]),
        ("less drive", [["/mod/b_drive/drive", 15.0]]),  # b is in focus
        ("more drive on b_f", [["/mod/b_drive/drive", 21.0]]),
        ("more drive on b_drive", [["/mod/b_drive/drive", 21.0]]),
    ],
)
def test_drive_said_of_a_sound_turns_up_the_distortion_it_goes_through(
    line: str, osc: list[object]
) -> None:
    """An acid bass called b is b (a square, with a drive of its own) → b_f (an acid filter,
    with one too) → b_drive (the distortion): `more drive on b` moved the square's drive,
    which the distortion after it all but hides."""
    interpreter = Interpreter()
    _osc(interpreter, "add an acid bass called b")
    assert interpreter.context.modules["b_drive"] == "distortion"
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    assert [m.to_list() for m in result.messages] == osc
    assert "b_drive drive 18 → " in result.notes[0]  # the module that moved is named


def test_drive_with_no_distortion_after_it_is_the_modules_own() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a 303 called acid; add a saw called lead through distortion")
    assert _osc(interpreter, "drive 0.5 on acid") == [["/mod/acid/drive", 0.5]]
    assert _osc(interpreter, "drive 0.5 on acid_f") == [["/mod/acid_f/drive", 0.5]]
    assert _osc(interpreter, "drive 20 on lead") == [["/mod/distortion1/drive", 20.0]]
    # and raw OSC still reaches the synth's own
    assert _osc(interpreter, "/mod/lead/drive 0.5") == [["/mod/lead/drive", 0.5]]


@pytest.mark.parametrize(
    ("line", "osc"),
    [
        ("more squelch", [["/mod/acid1/res", 0.7]]),
        ("less squelch", [["/mod/acid1/res", 0.5]]),
        ("a bit more squelch", [["/mod/acid1/res", 0.65]]),
        ("squelch 70%", [["/mod/acid1/res", 0.7]]),
        ("squelch 0.9 on acid1", [["/mod/acid1/res", 0.9]]),
        ("set bass squelch to 0.3", [["/mod/acid1/res", 0.3]]),
    ],
)
def test_squelch_is_the_resonance_of_the_acid_filter(line: str, osc: list[object]) -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called bass through an acid filter")
    assert _osc(interpreter, line) == osc


def test_more_swing_moves_the_tracks_swing_within_its_range() -> None:
    """`more swing` was refused: "kick (kick) has no parameter swing"."""
    interpreter = Interpreter()
    refused = interpreter.interpret("more swing")
    assert refused.error is not None and "none plays yet" in refused.error.message
    _osc(interpreter, "give me a kick; kick: x . x .; add a hat; hat: x x x x; focus kick")
    assert _osc(interpreter, "more swing") == [["/seq/kick/swing", 0.1]]
    assert _osc(interpreter, "a bit more swing") == [["/seq/kick/swing", 0.15]]
    assert _osc(interpreter, "much more swing") == [["/seq/kick/swing", 0.4]]
    assert _osc(interpreter, "much more swing") == [["/seq/kick/swing", 0.65]]
    assert _osc(interpreter, "much more swing") == [["/seq/kick/swing", 0.75]]  # its top
    assert _osc(interpreter, "less swing on the hat") == [["/seq/hat/swing", 0.0]]  # its floor
    assert _osc(interpreter, "less gate") == [["/seq/hat/gate", 0.4]]
    result = interpreter.interpret("more swing")
    assert result.notes == ["hat swing 0 → 10%"]
    interpreter.context.focus = None
    assert _osc(interpreter, "less swing") == [["/seq/kick/swing", 0.65], ["/seq/hat/swing", 0.0]]


@pytest.mark.parametrize(
    ("line", "name", "arg"),
    [
        ("what's playing", "what", "playing"),
        ("what’s bass", "what", "bass"),
        ("who's here", "who", None),
    ],
)
def test_is_may_be_said_short(line: str, name: str, arg: str | None) -> None:
    """`what's playing` was refused: unexpected character "'"."""
    result = Interpreter().interpret(line)
    assert result.ok, result.error and result.error.render()
    assert [(i.name, i.arg) for i in result.intents] == [(name, arg)]


def test_dirtier_and_cleaner_move_the_drive() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "give me a 303")
    assert _osc(interpreter, "make the bass dirtier") == [["/mod/tb303/drive", 2.0]]
    assert _osc(interpreter, "a bit grittier") == [["/mod/tb303/drive", 3.0]]
    assert _osc(interpreter, "cleaner") == [["/mod/tb303/drive", 1.0]]


def test_a_lead_is_a_sound_and_transpose_takes_plain_semitones() -> None:
    """`add a lead` was refused (no module type "lead"); `transpose up 2` wanted a word."""
    interpreter = Interpreter()
    made = _osc(interpreter, "add a lead")
    assert made[:2] == [
        ["/patch/create", "lead", "square"],
        ["/patch/create", "lead_echo", "delay"],
    ]
    _osc(interpreter, "lead: c4 eb4 g4")
    assert _osc(interpreter, "transpose up 2") == [["/seq/lead/transpose", 2]]
    assert _osc(interpreter, "transpose the lead down 3") == [["/seq/lead/transpose", -1]]


def test_a_sound_read_by_its_role_says_what_is_wrong_with_it() -> None:
    """`transpose the bass up 2` with a 303 that plays nothing said "there is no module called
    bass": the 303 is the bass, and what is wrong is that it plays nothing."""
    interpreter = Interpreter()
    _osc(interpreter, "give me a 303")
    result = interpreter.interpret("transpose the bass up 2")
    assert result.error is not None and not result.messages
    assert result.error.message.startswith("tb303 has no pattern")
    assert result.read_as == "transpose the tb303 up 2"


@pytest.mark.parametrize(
    ("line", "root", "scale"),
    [
        ("key of c minor", 0, "minor"),
        ("set key to a minor", 9, "minor"),
        ("set the key to f# major", 6, "major"),
        ("in eb minor", 3, "minor"),
    ],
)
def test_the_key_said_as_players_say_it(line: str, root: int, scale: str) -> None:
    """`key of c minor`, `set key to a minor`, `in c minor` were refused; `key c minor` was not."""
    result = Interpreter().interpret(line)
    assert result.ok, result.error and result.error.render()
    assert [i.to_dict() for i in result.intents] == [
        {"kind": "set_key", "root": root, "scale": scale}
    ]


@pytest.mark.parametrize(
    ("line", "osc"),
    [
        ("kick off", [["/mod/kick/mute", 1.0]]),
        ("the hat off", [["/mod/hat/mute", 1.0]]),
        ("everything off", [["/mod/kick/mute", 1.0], ["/mod/hat/mute", 1.0]]),
        ("everything back", [["/mod/kick/mute", 0.0], ["/mod/hat/mute", 0.0]]),
    ],
)
def test_off_and_back_said_after_the_module(line: str, osc: list[object]) -> None:
    """`kick off`, `everything off` were refused ("this command is not finished")."""
    interpreter = Interpreter()
    _osc(interpreter, "give me a kick; add a hat")
    assert _osc(interpreter, line) == osc
    assert _osc(interpreter, "link off") == [["/link", 0]]  # `off` is still Link's where said


def test_make_it_shorter_moves_a_drums_decay_and_a_synths_release() -> None:
    """`make the kick shorter` was refused: unexpected word "shorter"."""
    interpreter = Interpreter()
    _osc(interpreter, "give me a kick; give me a 303")
    assert _osc(interpreter, "make the kick shorter") == [["/mod/kick/decay", 0.3]]
    assert _osc(interpreter, "make the kick a bit longer") == [["/mod/kick/decay", 0.375]]
    release = _osc(interpreter, "make the bass longer")
    assert release[0][0] == "/mod/tb303/release" and release[0][1] == pytest.approx(0.12)
