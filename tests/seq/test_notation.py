"""The pattern mini-notation: every form's events, friendly errors, and properties."""

from __future__ import annotations

import doctest
import math
import pickle
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chronus.seq import notation
from chronus.seq.notation import (
    ACCENT_VELOCITY,
    HIT_VELOCITY,
    MAX_PATTERN_CHARS,
    NOTE_VELOCITY,
    Event,
    Pattern,
    PatternError,
    bjorklund,
    parse,
)
from tests.seq.strategies import PATTERNS


def ev(text: str, cycle: int = 0) -> list[tuple[F, F, tuple[int, ...], int]]:
    """The events of one cycle as plain tuples."""
    return [(e.onset, e.length, e.notes, e.velocity) for e in parse(text).events(cycle)]


def notes(text: str, cycle: int = 0) -> list[tuple[int, ...]]:
    return [e.notes for e in parse(text).events(cycle)]


def onsets(text: str, cycle: int = 0) -> list[F]:
    return [e.onset for e in parse(text).events(cycle)]


def test_doctests() -> None:
    result = doctest.testmod(notation)
    assert result.failed == 0 and result.attempted > 0


# --- notes, hits, rests ---------------------------------------------------------------------


def test_a_bass_line_is_one_note_per_step() -> None:
    p = parse("c2 eb2 g2 c3")
    assert (p.steps, p.period) == (4, 1)
    assert ev("c2 eb2 g2 c3") == [
        (F(0), F(1), (36,), NOTE_VELOCITY),
        (F(1), F(1), (39,), NOTE_VELOCITY),
        (F(2), F(1), (43,), NOTE_VELOCITY),
        (F(3), F(1), (48,), NOTE_VELOCITY),
    ]


def test_four_on_the_floor() -> None:
    p = parse("x . . . x . . .")
    assert p.steps == 8
    assert ev("x . . . x . . .") == [(F(0), F(1), (), HIT_VELOCITY), (F(4), F(1), (), HIT_VELOCITY)]


def test_accents_and_both_rests() -> None:
    assert ev("x . X .") == [(F(0), F(1), (), 100), (F(2), F(1), (), 127)]
    assert ev("~ x ~ X") == [(F(1), F(1), (), HIT_VELOCITY), (F(3), F(1), (), ACCENT_VELOCITY)]
    assert parse(". ~").steps == 2 and ev(". ~") == []


@pytest.mark.parametrize(
    ("text", "midi"),
    [("c4", 60), ("a4", 69), ("c-1", 0), ("g9", 127), ("f#3", 54), ("eb2", 39), ("bb1", 34),
     ("C#4", 61), ("Eb2", 39), ("EB2", 39), ("BB1", 34), ("cb4", 59), ("b#3", 60),
     ("36", 36), ("0", 0), ("127", 127), ("007", 7)],
)  # fmt: skip
def test_note_names_and_midi_numbers(text: str, midi: int) -> None:
    assert notes(text) == [(midi,)]


def test_any_whitespace_separates_steps() -> None:
    assert ev("x\t.\n X  ") == ev("x . X")
    assert parse(" \tx\n").steps == 1


# --- subdivision, repeat --------------------------------------------------------------------


def test_subdivision_splits_the_step_evenly() -> None:
    assert ev("[x x] x") == [
        (F(0), F(1, 2), (), 100),
        (F(1, 2), F(1, 2), (), 100),
        (F(1), F(1), (), 100),
    ]
    assert parse("[x x] x").steps == 2


def test_subdivision_nests() -> None:
    assert [(on, ln) for on, ln, _, _ in ev("[c3 [e3 g3]]")] == [
        (F(0), F(1, 2)),
        (F(1, 2), F(1, 4)),
        (F(3, 4), F(1, 4)),
    ]
    assert notes("[c3 [e3 . [g3 c4]]]") == [(48,), (52,), (55,), (60,)]
    assert onsets("[c3 [e3 . [g3 c4]]]") == [F(0), F(1, 2), F(5, 6), F(11, 12)]


def test_repeat_plays_within_the_step() -> None:
    assert ev("c3*2 x") == [
        (F(0), F(1, 2), (48,), 100),
        (F(1, 2), F(1, 2), (48,), 100),
        (F(1), F(1), (), 100),
    ]
    assert parse("c3*2 x").steps == 2


def test_repeat_of_a_group() -> None:
    assert onsets("[c3 e3]*2") == [F(0), F(1, 4), F(1, 2), F(3, 4)]
    assert notes("[c3 e3]*2") == [(48,), (52,), (48,), (52,)]
    assert {e.length for e in parse("[c3 e3]*2").events(0)} == {F(1, 4)}


# --- alternation ----------------------------------------------------------------------------


def test_alternation_picks_one_per_cycle() -> None:
    p = parse("<c3 e3> x")
    assert (p.steps, p.period) == (2, 2)
    assert [notes("<c3 e3> x", c)[0] for c in range(4)] == [(48,), (52,), (48,), (52,)]
    assert p.events(-1) == p.events(1) and p.events(7) == p.events(1)


def test_alternation_inside_repeat_counts_visits() -> None:
    p = parse("<c3 e3>*2")
    assert p.period == 1
    assert ev("<c3 e3>*2", 5) == [(F(0), F(1, 2), (48,), 100), (F(1, 2), F(1, 2), (52,), 100)]
    q = parse("<c3 e3 g3>*2")
    assert q.period == 3
    assert [notes("<c3 e3 g3>*2", c) for c in range(3)] == [
        [(48,), (52,)],
        [(55,), (48,)],
        [(52,), (55,)],
    ]


def test_nested_alternation_advances_only_when_visited() -> None:
    p = parse("<c3 <e3 g3>>")
    assert p.period == 4
    assert [p.events(c)[0].notes for c in range(8)] == [(48,), (52,), (48,), (55,)] * 2


def test_alternation_of_groups_and_in_subdivisions() -> None:
    assert notes("[x <c3 [e3 g3]>]", 0) == [(), (48,)]
    assert ev("[x <c3 [e3 g3]>]", 1)[1:] == [
        (F(1, 2), F(1, 4), (52,), 100),
        (F(3, 4), F(1, 4), (55,), 100),
    ]


def test_stacked_alternations() -> None:
    assert [notes("<c3 e3, g3>", c) for c in range(2)] == [[(48, 55)], [(52, 55)]]


def test_period_is_the_smallest() -> None:
    assert parse("<c3 e3> <c3 e3 g3>").period == 6
    assert parse("<c3 c3>").period == 1
    assert parse("[<c3 e3>,<e3 c3>]").period == 1  # always the chord (c3, e3)
    assert parse("<x . x .>").period == 2
    assert parse(".(0,8) <c3 e3>(0,4)").period == 1
    assert parse("<c3 e3>*4").period == 1
    assert parse("<c3 e3 g3 b3>*2").period == 2


# --- Euclid -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hits", "steps", "rhythm"),
    [(3, 8, "x..x..x."), (5, 8, "x.xx.xx."), (2, 5, "x.x.."), (4, 7, "x.x.x.x"), (0, 4, "...."),
     (4, 4, "xxxx"), (1, 1, "x"), (5, 16, "x..x..x..x..x...")],
)  # fmt: skip
def test_bjorklund(hits: int, steps: int, rhythm: str) -> None:
    assert "".join("x" if hit else "." for hit in bjorklund(hits, steps)) == rhythm


def test_euclid_expands_into_steps() -> None:
    p = parse("x(3,8)")
    assert (p.steps, p.period) == (8, 1)
    assert p.events(0) == parse("x . . x . . x .").events(0)
    assert onsets("x(3,8,2)") == [F(1), F(4), F(6)]
    assert onsets("x(5,8)") == [F(0), F(2), F(3), F(5), F(6)]
    assert onsets("x(3,8,-1)") == [F(1), F(4), F(7)]
    assert onsets("x(3,8,10)") == onsets("x(3,8,2)")
    assert parse("x(3, 8 ,2)").events(0) == parse("x(3,8,2)").events(0)
    assert parse("x(3,8) c3").steps == 9


def test_euclid_with_notes_inside_brackets_and_velocity() -> None:
    assert ev("[c3(3,8)]") == [(F(k, 8), F(1, 8), (48,), 100) for k in (0, 3, 6)]
    assert parse("[c3(3,8)]").steps == 1
    assert ev("x(3,8):40") == ev("x:40(3,8)") == [(F(k), F(1), (), 40) for k in (0, 3, 6)]
    assert notes("[c3,e3](2,4)") == [(48, 52), (48, 52)]
    assert [notes("<c3 e3>(3,8)", c) for c in range(2)] == [[(48,)] * 3, [(52,)] * 3]
    assert onsets("x*2(2,4)") == [F(0), F(1, 2), F(2), F(5, 2)]


# --- chords and velocity ----------------------------------------------------------------------


def test_a_chord_is_one_event() -> None:
    assert ev("[c3,eb3,g3]") == [(F(0), F(1), (48, 51, 55), NOTE_VELOCITY)]
    assert notes("[g3,c3,eb3]") == [(48, 51, 55)]
    assert notes("[c3,c3]") == [(48,)]


def test_stacked_sequences_merge_only_where_they_coincide() -> None:
    assert ev("[c3 e3, g3]") == [
        (F(0), F(1, 2), (48,), 100),
        (F(0), F(1), (55,), 100),
        (F(1, 2), F(1, 2), (52,), 100),
    ]
    assert ev("[c3 e3, g3 b3]") == [
        (F(0), F(1, 2), (48, 55), 100),
        (F(1, 2), F(1, 2), (52, 59), 100),
    ]
    assert ev("[c3:80,e3]") == [(F(0), F(1), (48,), 80), (F(0), F(1), (52,), 100)]
    assert ev("[x,c3]") == [(F(0), F(1), (), 100), (F(0), F(1), (48,), 100)]
    assert ev("[x,x]") == [(F(0), F(1), (), 100)]


def test_velocities() -> None:
    assert [e.velocity for e in parse("c3:80 x:40 X:127 X:1 [c3,e3]:90 c3").events(0)] == [
        80,
        40,
        127,
        1,
        90,
        100,
    ]
    assert ev("[c3,e3]:90") == [(F(0), F(1), (48, 52), 90)]
    assert [e.velocity for e in parse("[c3:30 e3]:90").events(0)] == [30, 90]  # inner wins
    assert [e.velocity for e in parse("[x X]:60").events(0)] == [60, 60]
    assert [e.velocity for e in parse("c3*2:70 <x:10 X>").events(1)] == [70, 70, 127]


def test_case_insensitive() -> None:
    assert parse("C2 EB2 G2 C3 F#3 BB1").events(0) == parse("c2 eb2 g2 c3 f#3 bb1").events(0)


# --- the objects ------------------------------------------------------------------------------


def test_values_are_frozen_equal_and_cached() -> None:
    p = parse("<c3 e3> [x x]")
    assert p == parse("<c3 e3> [x x]") and p != parse("<c3 e3> [x X]")
    assert p.events(3) is p.events(1)
    assert isinstance(p.events(0)[0], Event) and isinstance(p, Pattern)
    with pytest.raises(AttributeError):
        p.events(0)[0].velocity = 1  # type: ignore[misc]
    assert hash(p.events(0)[0]) == hash(parse("c3").events(0)[0])


def test_events_are_sorted_by_onset_then_notes() -> None:
    events = parse("[e3, c3 g3] x [b3,x]").events(0)
    keys = [(e.onset, e.notes) for e in events]
    assert keys == sorted(keys)


def test_pattern_error_is_a_value_error_that_pickles() -> None:
    with pytest.raises(ValueError) as info:
        parse("c3 h3")
    err = info.value
    assert isinstance(err, PatternError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.message, again.text, again.column, again.hint) == (
        err.message,
        err.text,
        4,
        err.hint,
    )
    assert str(err).splitlines()[1:3] == ["  c3 h3", "     ^"]


def test_long_patterns_show_the_part_with_the_error() -> None:
    text = "x " * 100 + "q " + "x " * 100
    with pytest.raises(PatternError) as info:
        parse(text)
    _, line, caret, _ = str(info.value).splitlines()
    assert len(line) < 80 and line[caret.index("^")] == "q"


# --- errors -----------------------------------------------------------------------------------

ERRORS = [
    ("", 1, "at least one step"),
    ("  \t ", 1, "at least one step"),
    ("h3", 1, "'h' is not a note"),
    ("c3 h3", 4, "'h' is not a note"),
    ("q", 1, "'q' is not a note"),
    ("c", 2, "needs an octave"),
    ("bd sd", 2, "needs an octave"),
    ("c²", 2, "needs an octave"),
    ("g#9", 1, "MIDI note 128"),
    ("cb-1", 1, "MIDI note -1"),
    ("128", 1, "a MIDI note must be 0..127"),
    ("c3 # e3", 4, "unexpected character '#'"),
    ("x ♪", 3, "unexpected character '♪'"),
    ("１", 1, "unexpected character"),
    ("x..x", 2, "unexpected '.' after 'x'"),
    ("c3e3", 3, "unexpected 'e'"),
    ("x\x00", 2, "unexpected '\\x00'"),
    ("x(3)", 2, "Euclid needs hits and steps"),
    ("x(3,8,1,2)", 9, "at most three"),
    ("x(3,8", 2, "'(' is never closed"),
    ("x(3;8)", 4, "unexpected ';' in Euclid"),
    ("x(a,8)", 3, "expected a hit count"),
    ("x(9,8)", 2, "cannot spread 9 hits over 8 steps"),
    ("x(3,0)", 2, "cannot spread"),
    ("x(3,65)", 5, "a step count must be 0..64"),
    ("x(3,8)*2", 7, "cannot repeat a Euclid step"),
    ("x(3,8)(2,4)", 7, "Euclid"),
    ("x (3,8)", 3, "unexpected character '('"),
    ("[c3 e3", 1, "'[' is never closed"),
    ("[c3 [e3", 5, "'[' is never closed"),
    ("<c3 e3", 1, "'<' is never closed"),
    ("[c3 e3>", 1, "'[' is closed by '>'"),
    ("<c3 e3]", 1, "'<' is closed by ']'"),
    ("c3 e3]", 6, "']' closes nothing"),
    (")", 1, "')' closes nothing"),
    ("[x )]", 4, "')' closes nothing"),
    ("[]", 1, "empty '[]'"),
    ("x <>", 3, "empty '<>'"),
    ("[c3,]", 4, "nothing after ','"),
    ("[,c3]", 2, "nothing before ','"),
    ("c3, e3", 3, "only inside brackets"),
    ("c3:0", 4, "a velocity must be 1..127, not 0"),
    ("c3:128", 4, "a velocity must be 1..127"),
    ("c3:", 4, "expected a velocity"),
    ("c3 :80", 4, "unexpected character ':'"),
    ("c3*0", 4, "a repeat count must be 1..16"),
    ("c3*17", 4, "a repeat count must be 1..16"),
    ("x*", 3, "expected a repeat count"),
    ("x" * (MAX_PATTERN_CHARS + 1), MAX_PATTERN_CHARS + 1, "at most 512 characters"),
    ("[" * 40 + "x" + "]" * 40, 33, "nested deeper than 32"),
    ("x*16*16*16*16", 1, "too busy"),
]


@pytest.mark.parametrize(
    ("text", "column", "message"), ERRORS, ids=[repr(e[0])[:24] for e in ERRORS]
)
def test_errors_point_at_the_mistake(text: str, column: int, message: str) -> None:
    with pytest.raises(PatternError) as info:
        parse(text)
    err = info.value
    assert message in err.message
    assert err.column == column and err.text == text
    assert err.message in str(err) and "^" in str(err)


def nested_groups(sizes: list[int]) -> str:
    """Groups of `sizes` items nested in each other (each the last item of the one before):
    a cycle timed in the product of the sizes."""
    text = f"[x(1,{sizes[-1]})]"
    for n in reversed(sizes[:-1]):
        text = f"[x(1,{n - 1}) {text}]"
    return text


def test_a_cycle_timed_in_more_than_2_62_parts_is_refused() -> None:
    sizes = [64, 63, 61, 59, 53, 47, 43, 41, 37, 31, 29]  # coprime: 2.1e18 parts
    finest = parse(nested_groups(sizes))
    assert finest.steps * finest.unit == math.prod(sizes) < notation.MAX_GRID
    assert Pattern.from_bytes(finest.to_bytes()).timed(0) == finest.timed(0)
    last = finest.events(0)[-1]  # the innermost group's hit
    assert last.onset == 1 - F(sizes[-1], math.prod(sizes))
    assert last.length == F(1, math.prod(sizes))
    with pytest.raises(PatternError) as info:
        parse(nested_groups([*sizes, 23]))  # 4.9e19 parts
    assert "subdivided too finely" in info.value.message and "2^62" in info.value.message
    assert info.value.hint and info.value.column == 1


def test_a_period_over_1024_cycles_points_where_it_crosses() -> None:
    seven, eleven, thirteen = (" ".join(str(n) for n in range(k)) for k in (7, 11, 13))
    text = f"<{seven}> <{eleven}> <{thirteen}> <1 2>"
    assert parse(text[: text.rindex(" <")]).period == 1001
    with pytest.raises(PatternError) as info:
        parse(text)
    assert "2002 cycles" in info.value.message and info.value.column == text.rindex("<") + 1
    with pytest.raises(PatternError) as info:
        parse(f"[x <{seven} <{eleven} <{thirteen}>>>]")
    assert info.value.column == 4  # the outer alternation: 7 * 11 * 13 cycles


@pytest.mark.parametrize(
    ("text", "hint"),
    [("h3", notation.NOTE_HINT), ("c", notation.NOTE_HINT), ("x(3)", notation.EUCLID_HINT),
     ("x(9,8,1,1)", notation.EUCLID_HINT), ("x..x", notation.SPACE_HINT),
     ("bd", notation.NOTE_HINT),
     ("sd", notation.STEP_HINT)],
)  # fmt: skip
def test_hints(text: str, hint: str) -> None:
    with pytest.raises(PatternError) as info:
        parse(text)
    assert info.value.hint == hint and str(info.value).endswith(f"hint: {hint}")


def test_note_hint_wording() -> None:
    assert (
        notation.NOTE_HINT
        == "notes are a–g with an optional # or b and an octave, e.g. c3, eb2, f#3"
    )
    assert "(hits,steps) or (hits,steps,rotation)" in notation.EUCLID_HINT


# --- properties -------------------------------------------------------------------------------


def parses_or_pattern_error(text: str) -> None:
    try:
        pattern = parse(text)
    except PatternError as err:
        assert 1 <= err.column <= len(text) + 1
        assert err.message in str(err)
    else:
        assert pattern.steps >= 1 and pattern.period >= 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_parses_or_raises_pattern_error(text: str) -> None:
    parses_or_pattern_error(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="xX.~[]<>(),:*#-0123456789abcefgBh \t", max_size=40))
def test_near_miss_text_parses_or_raises_pattern_error(text: str) -> None:
    parses_or_pattern_error(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATTERNS)
def test_valid_patterns_keep_their_events_in_the_cycle_and_repeat(text: str) -> None:
    try:
        pattern = parse(text)
    except PatternError as err:
        assume("too busy" not in err.message and "repeats only" not in err.message)
        raise
    root = notation._tree(text)
    for cycle in range(min(pattern.period, 4) + 1):
        events = pattern.events(cycle)
        assert events == notation._evaluate(root, cycle)
        assert events == notation._evaluate(root, cycle + pattern.period)
        assert list(events) == sorted(
            events, key=lambda e: (e.onset, e.notes, e.length, e.velocity)
        )
        for e in events:
            assert (
                0 <= e.onset < pattern.steps
                and 0 < e.length
                and e.onset + e.length <= pattern.steps
            )
            assert 1 <= e.velocity <= 127 and all(0 <= n <= 127 for n in e.notes)
            assert list(e.notes) == sorted(set(e.notes))
    for divisor in range(1, pattern.period):
        if pattern.period % divisor == 0:
            assert any(
                pattern.events(c) != pattern.events(c + divisor) for c in range(pattern.period)
            )


@given(st.integers(1, 64).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_bjorklund_spreads_hits_as_evenly_as_possible(hits_steps: tuple[int, int]) -> None:
    hits, steps = hits_steps
    rhythm = bjorklund(hits, steps)
    assert len(rhythm) == steps and sum(rhythm) == hits
    where = [i for i, hit in enumerate(rhythm) if hit]
    gaps = {(b - a) % steps or steps for a, b in zip(where, where[1:] + where[:1], strict=True)}
    assert len(gaps) <= 2 and (len(gaps) < 2 or max(gaps) - min(gaps) == 1)
    assert not where or where[0] == 0
