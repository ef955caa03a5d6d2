"""The feedback line: what a line changed, from the mirror before and after it."""

from __future__ import annotations

import pytest

from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell import feedback
from chronus.shell.feedback import MOST, Moment, Teller, next_bar_of, told


class Player:
    """An interpreter and the feedback of each line typed at it (no engine)."""

    def __init__(self, *lines: str) -> None:
        self.interpreter = Interpreter(Context())
        for line in lines:
            self(line)

    def __call__(self, line: str, next_bar: int | None = None) -> list[str]:
        before = Moment.of(self.interpreter.context)
        result = self.interpreter.interpret(line)
        assert result.ok, result.error and result.error.render()
        return told(result, before, Moment.of(self.interpreter.context), next_bar)


# ---- the patch ----------------------------------------------------------------------------
def test_adding_a_chain_names_each_module_and_where_it_goes() -> None:
    play = Player()
    assert play("add a saw called bass through an acid filter") == [
        "added bass (saw) → acid1 → master"
    ]


def test_adding_an_effect_after_a_module_says_after_which() -> None:
    play = Player("add a saw called bass")
    assert play("add a reverb after bass") == ["added reverb1 after bass"]


def test_a_named_sound_says_which_it_is() -> None:
    play = Player()
    assert play("add a 303 called acidy") == ["added 303: acidy → acidy_f → master"]
    # the values the sound sets are not told, one the line sets is
    assert play("add a pluck; cutoff 900") == [
        "added pluck: pluck → pluck_echo → master; pluck cutoff 900 Hz"
    ]


def test_removing_a_module_says_removed_and_what_closes_the_gap() -> None:
    play = Player("add a saw called bass through an acid filter")
    assert play("remove acid1") == ["removed acid1; bass → master"]


def test_routes_made_and_undone_between_modules_that_were_there() -> None:
    play = Player("add a saw called bass", "add a delay")
    assert play("connect bass to delay1") == ["bass → delay1"]
    assert play("disconnect bass from master") == ["bass no longer to master"]


# ---- parameters -------------------------------------------------------------------------------
def test_an_absolute_value_with_the_unit_of_its_spec() -> None:
    play = Player("add a saw called bass through an acid filter")
    assert play("cutoff 280 hz") == ["acid1 cutoff 400 → 280 Hz"]
    assert play("set bass release 0.5") == ["bass release 0.25 → 0.5 s"]


def test_a_value_set_to_what_it_was_says_it_stays() -> None:
    """Understood, and nothing to hear: said so, not left blank (the hour at the prompt
    found a silent answer read as a line not taken)."""
    play = Player("add a saw called bass through an acid filter", "cutoff 280 hz")
    assert play("cutoff 280 hz") == ["acid1 cutoff stays 280 Hz"]
    assert play("set bass release 0.25") == ["bass release stays 0.25 s"]
    assert play("cutoff 300 hz") == ["acid1 cutoff 280 → 300 Hz"]


def test_a_relative_word_says_the_knob_it_moved() -> None:
    play = Player("add a saw called bass through an acid filter")
    assert play("make it darker") == ["acid1 cutoff 400 → 280 Hz"]
    assert play("a bit louder on bass") == ["bass volume -6 → -4.5 dB"]


def test_drive_on_a_sound_says_it_moved_the_distortion_of_its_chain() -> None:
    play = Player("add an acid bass called b")
    assert play("more drive on b") == ["b_drive drive 18 → 21 dB"]
    assert play("squelch 0.9") == ["b_f res 0.72 → 0.9"]


def test_a_group_says_each_module_it_moved() -> None:
    play = Player("add a pluck")
    assert play("make them darker") == ["pluck cutoff 500 → 350 Hz; pluck_echo damp 0.5 → 0.6"]


def test_a_new_module_with_a_value_set_on_the_same_line() -> None:
    play = Player()
    assert play("add saw lead; cutoff 900") == ["added lead (saw) → master; lead cutoff 900 Hz"]


def test_a_modulation_says_what_moves_what() -> None:
    play = Player("add a saw called bass")
    assert play("lfo on bass cutoff at 1/8") == [
        "added lfo1; lfo1 sync 0.5 beats; lfo1 → bass cutoff"
    ]


# ---- patterns ------------------------------------------------------------------------------
def test_a_pattern_on_a_stopped_transport_starts_at_bar_1() -> None:
    play = Player("add a saw called bass")
    assert play("play c2 eb2 g2 c3 on bass") == [
        "bass: pattern c2 eb2 g2 c3 (16ths) from bar 1; transport started"
    ]


def test_a_pattern_while_playing_says_the_bar_it_starts_on() -> None:
    play = Player("add a saw called bass", "add kick", "kick x . x .")
    assert play("play c2 eb2 g2 c3 every 8th on bass", next_bar=5) == [
        "bass: pattern c2 eb2 g2 c3 (8ths) from bar 5"
    ]
    assert play("bass c2 c3") == ["bass: pattern c2 c3 (8ths) from the next bar"]


def test_track_settings_and_transposition() -> None:
    play = Player("add a saw called bass", "play c2 eb2 on bass")
    assert play("every 8th triplet") == ["bass: steps 16ths → 8th triplets"]
    assert play("swing 20%") == ["bass: swing 0 → 0.2"]
    assert play("transpose bass up 2 semitones") == ["bass: transpose +0 → +2"]
    assert play("lane cutoff 400 800 . 1600") == ["bass: lane cutoff 400 800 . 1600"]
    assert play("stop") == ["transport stopped"]


# ---- tempo ---------------------------------------------------------------------------------
def test_tempo_set_and_relative() -> None:
    play = Player()
    assert play("tempo 128") == ["tempo 120 → 128"]
    assert play("a bit faster") == [f"tempo 128 → {128 * 1.05:g}"]


def test_a_tempo_change_while_playing_lands_on_the_next_bar() -> None:
    play = Player("add kick", "kick x . x .")
    assert play("tempo 90") == ["tempo 120 → 90 from the next bar"]


# ---- undo and redo ------------------------------------------------------------------------
def test_undo_and_redo_say_what_they_changed_back() -> None:
    play = Player("add a saw called bass through an acid filter", "make it darker")
    assert play("undo") == ["undo: acid1 cutoff 280 → 400 Hz"]
    assert play("redo") == ["redo: acid1 cutoff 400 → 280 Hz"]
    assert play("undo 5") == [
        "undo 2 lines (all there were; asked for 5):",
        "  1. acid1 cutoff 280 → 400 Hz",
        "  2. removed acid1; removed bass",
    ]


def test_undo_of_lines_that_cancel_out_tells_each_line_once() -> None:
    play = Player("add a saw called bass", "cutoff 900", "cutoff 2000")
    assert play("undo twice") == [
        "undo 2 lines:",
        "  1. bass cutoff 2000 → 900 Hz",
        "  2. bass cutoff 900 → 2000 Hz",
    ]
    assert play("redo twice") == [
        "redo 2 lines:",
        "  1. bass cutoff 2000 → 900 Hz",
        "  2. bass cutoff 900 → 2000 Hz",
    ]


def test_undo_twice_says_what_each_line_undid_and_redo_too() -> None:
    play = Player("add a saw called bass", "cutoff 900", "tempo 90")
    assert play("undo twice") == [
        "undo 2 lines:",
        "  1. tempo 90 → 120",
        "  2. bass cutoff 900 → 2000 Hz",
    ]
    assert play("redo the last 2") == [
        "redo 2 lines:",
        "  1. bass cutoff 2000 → 900 Hz",
        "  2. tempo 120 → 90",
    ]


def test_undoing_a_remove_brings_the_module_back_with_its_value() -> None:
    play = Player("add a saw called bass through an acid filter", "cutoff 300", "remove acid1")
    assert play("undo") == ["undo: added acid1 after bass; acid1 cutoff 300 Hz"]


# ---- focus, silence, and lines that answer for themselves -------------------------------
def test_a_played_note_or_chord_says_what_played_where() -> None:
    """`play an f minor chord on keys` said only "focus: keys", and `play c3` nothing."""
    play = Player("add a saw called bass", "add a sine called lead")
    assert play("play c3 on bass") == ["bass plays c3"]
    assert play("play c3") == ["bass plays c3"]
    assert play("play an f minor chord on lead") == ["lead plays f4 ab4 c5"]


def test_a_note_said_of_a_filter_says_which_sound_played_it() -> None:
    play = Player("add a saw called bass through an acid filter", "focus acid1")
    assert play("play c3") == ["played on bass, which plays into acid1"]


def test_focus_moves_the_focus_and_says_so() -> None:
    play = Player("add a saw called bass", "add a sine called lead")
    assert play("focus bass") == ["focus: bass"]
    assert play("cutoff 900") == ["bass cutoff 2000 → 900 Hz"]
    assert play("focus on lead") == ["focus: lead"]


# ---- lines that set what was already there ----------------------------------------------
def test_a_pattern_set_to_the_one_it_has_says_it_is_unchanged() -> None:
    play = Player("add a kick", "kick: x . . . x . . .")
    assert play("kick: x . . . x . . .") == ["kick: pattern unchanged (x . . . x . . .)"]
    assert play("kick every 16th") == ["kick: steps stay 16ths"]
    assert play("swing 20% on kick") == ["kick: swing 0 → 0.2"]
    assert play("swing 20% on kick") == ["kick: swing stays 0.2"]
    assert play("gate 0.5 on kick") == ["kick: gate stays 0.5"]


def test_starting_a_transport_that_plays_says_it_plays_on() -> None:
    play = Player("add a kick", "kick: x . . . x . . .")
    assert play("play") == ["the transport plays on"]
    assert play("stop") == ["transport stopped"]
    assert play("stop everything") == ["the transport stays stopped"]
    assert play("start") == ["transport started"]


def test_a_restart_says_the_transport_starts_from_its_first_beat() -> None:
    play = Player("add a kick", "kick: x . . . x . . .")
    assert play("restart") == ["the transport starts again from its first beat"]
    assert play("stop") == ["transport stopped"]
    assert play("from the top") == ["transport started"]


# ---- swing belongs to a track ------------------------------------------------------------
def test_swing_with_a_filter_in_focus_goes_to_the_track_that_plays_into_it() -> None:
    play = Player(
        "add a saw called bass through an acid filter", "bass: c2 eb2", "add a kick", "kick: x ."
    )
    assert play("set acid1 cutoff 500") == ["acid1 cutoff 400 → 500 Hz"]
    assert play("swing 20%") == ["bass: swing 0 → 0.2 (the track playing into acid1)"]
    assert play("swing 20%") == ["bass: swing stays 0.2 (the track playing into acid1)"]
    assert play("gate 0.3 on acid1") == ["bass: gate 0.5 → 0.3 (the track playing into acid1)"]


def test_up_an_octave_on_a_filter_says_which_track_moved() -> None:
    play = Player("add a saw called bass through an acid filter", "bass: c2 eb2")
    assert play("transpose acid1 +12") == [
        "bass: transpose +0 → +12 (the track playing into acid1)"
    ]


def test_quiet_leaves_out_the_asides_too() -> None:
    play = Player("add a saw called bass through an acid filter", "bass: c2 eb2")
    before = Moment.of(play.interpreter.context)
    result = play.interpreter.interpret("swing 20% on acid1")
    after = Moment.of(play.interpreter.context)
    assert Teller(quiet=True).lines(result, before, after) == []
    assert Teller().lines(result, before, after) == [
        "bass: swing 0 → 0.2 (the track playing into acid1)"
    ]


def test_swing_on_an_effect_nothing_plays_into_goes_to_every_track() -> None:
    play = Player("add a saw called bass", "bass: c2 eb2", "add a kick", "kick: x .")
    assert play("add a reverb") == ["added reverb1 → master"]
    assert play("swing 30%") == [
        "bass: swing 0 → 0.3; kick: swing 0 → 0.3 (every track: nothing plays into reverb1)"
    ]


def test_swing_with_nothing_in_focus_is_the_whole_transports() -> None:
    play = Player("add a saw called bass", "bass: c2 eb2", "add a kick", "kick: x .")
    play.interpreter.context.focus = None
    assert play("swing 10%") == [
        "bass: swing 0 → 0.1; kick: swing 0 → 0.1 (every track: nothing is in focus)"
    ]


@pytest.mark.parametrize(
    "line", ["help", "what is bass", "show patch", "health", "snapshot save intro"]
)
def test_lines_that_answer_for_themselves_get_no_feedback(line: str) -> None:
    play = Player("add a saw called bass")
    assert play(line) == []


def test_the_frame_reader_says_how_it_read_the_line_first() -> None:
    play = Player("add a saw called bass through an acid filter")
    assert play("open the filter a little") == [
        "read as: a bit brighter on acid1",
        "acid1 cutoff 400 → 472 Hz",
    ]


def test_a_line_of_many_changes_stays_one_line() -> None:
    play = Player("add a saw called a1", "add a saw called a2", "add a saw called a3")
    lines = play("add a saw called a4; add a saw called a5; add a saw called a6")
    assert len(lines) == 1
    assert lines[0].count("added") == 3
    lines = play("remove a1; remove a2; remove a3; remove a4; remove a5; remove a6")
    assert len(lines) == 1 and lines[0].endswith(f"… and {6 - MOST} more")


def test_quiet_tells_only_the_notes() -> None:
    interpreter = Interpreter(Context())
    interpreter.interpret("add a saw called bass through an acid filter")
    before = Moment.of(interpreter.context)
    result = interpreter.interpret("make it darker")
    after = Moment.of(interpreter.context)
    assert Teller(quiet=True).lines(result, before, after) == result.notes
    before = after
    result = interpreter.interpret("tempo 100")
    assert Teller(quiet=True).lines(result, before, Moment.of(interpreter.context)) == []
    assert Teller().lines(result, before, Moment.of(interpreter.context)) == ["tempo 120 → 100"]


def test_the_next_bar_comes_from_the_beat_when_the_transport_runs() -> None:
    assert next_bar_of(None) is None
    assert next_bar_of(0.0) == 2
    assert next_bar_of(15.9) == 5
    assert next_bar_of(16.0) == 6
    interpreter = Interpreter(Context())
    interpreter.interpret("add kick; kick x . x .")
    before = Moment.of(interpreter.context)
    result = interpreter.interpret("kick x x x x")
    after = Moment.of(interpreter.context)
    asked: list[bool] = []
    teller = Teller(beat_now=lambda: asked.append(True) or 17.5)
    assert teller.lines(result, before, after) == ["kick: pattern x x x x (16ths) from bar 6"]
    assert len(asked) == 1
    tempo = interpreter.interpret("tempo 100")
    then = Moment.of(interpreter.context)
    assert teller.lines(tempo, after, then) == ["tempo 120 → 100 from bar 6"]
    assert len(asked) == 2 and teller.next_bar == 6  # a tempo waits for the bar line too
    added = interpreter.interpret("add a saw")
    assert teller.lines(added, then, Moment.of(interpreter.context)) == ["added saw1 → master"]
    assert len(asked) == 2 and teller.next_bar is None  # nothing waits: the clock not asked

    def broken() -> float | None:
        raise OSError("no clock")

    assert Teller(beat_now=broken).lines(result, before, after) == [
        "kick: pattern x x x x (16ths) from the next bar"
    ]


def test_the_examples_in_the_module_docstring() -> None:
    import doctest

    result = doctest.testmod(feedback)
    assert result.attempted >= 3 and result.failed == 0


def test_the_shell_reads_the_beat_from_the_clients_now() -> None:
    from typing import Any

    from chronus.shell.app import _beat

    class Clock:
        def __init__(self, beat: float | None) -> None:
            self.beat = beat

        def now(self) -> dict[str, Any]:
            return {"beat": self.beat, "bpm": 120.0}

    assert _beat(Clock(9.5)) == 9.5  # type: ignore[arg-type]
    assert _beat(Clock(None)) is None, "a stopped transport has no beat"  # type: ignore[arg-type]


def test_mute_and_solo_say_what_they_did() -> None:
    play = Player("add kick", "add a saw called bass")
    assert play("take out the kick") == ["kick muted"]
    assert play("bring back the kick") == ["kick unmuted"]
    assert play("solo bass") == ["bass soloed"]
    assert play("unsolo bass") == ["bass unsoloed"]
