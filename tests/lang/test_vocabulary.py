"""The word tables of `chronus.lang.vocabulary`, family by family: every word of a family
is understood by the grammar (or, where the table says so, by the frame reader) and means
what its canonical word means."""

from __future__ import annotations

import re

import pytest

from chronus.lang.interpreter import Interpreter
from chronus.lang.music import CHORDS
from chronus.lang.parser import grammar_text, keywords, parse
from chronus.lang.vocabulary import (
    ADD_OR_UNMUTE,
    CHORD_QUALITIES,
    COMPARATIVES,
    DEGREES,
    DIRECTIONS,
    EVERYTHING,
    INTERVALS,
    MAKING_VERBS,
    MIX_WORDS,
    MODULE_WORDS,
    RHYTHMS,
    ROUTE_VERBS,
    TEMPO_CHANGES,
    TEMPO_WORDS,
    grammar_terminals,
    module_type,
    phrase_regex,
    rhythm,
)


def osc(interpreter: Interpreter, line: str) -> list[list[object]]:
    result = interpreter.interpret(line)
    assert result.error is None, result.error.render()
    return [m.to_list() for m in result.messages]


def band(*lines: str) -> Interpreter:
    interpreter = Interpreter()
    for line in lines:
        assert interpreter.interpret(line).ok, line
    return interpreter


def test_every_slot_of_the_grammar_is_filled_from_the_tables() -> None:
    from chronus.lang.parser import GRAMMAR_FILE, grammar_dir

    raw = (grammar_dir() / GRAMMAR_FILE).read_text(encoding="utf-8")
    for slot in grammar_terminals():
        assert f"@{slot}@" in raw, slot
    assert not re.search(r"@[A-Z_]+@", grammar_text())


@pytest.mark.parametrize("verb", [v for v in MAKING_VERBS if v != "make"])
def test_verbs_of_making_add_a_module(verb: str) -> None:
    assert osc(Interpreter(), f"{verb} a saw called bass") == [
        ["/patch/create", "bass", "saw"],
        ["/patch/connect", "bass", "master"],
    ]


def test_make_adds_and_still_makes_things_darker() -> None:
    interpreter = Interpreter()
    assert osc(interpreter, "make a sine pad")[0] == ["/patch/create", "pad", "sine"]
    assert osc(interpreter, "make it darker") == [["/mod/pad/cutoff", 1400.0]]


@pytest.mark.parametrize(("word", "kind"), sorted(MODULE_WORDS.items()))
def test_module_words_name_their_type(word: str, kind: str) -> None:
    messages = osc(Interpreter(), f"add a {word}")
    assert messages[0][0] == "/patch/create" and messages[0][2] == kind


CHAIN_WORDS = [
    ("echo", "delay"), ("verb", "reverb"), ("fuzz", "distortion"), ("lpf", "lowpass"),
    ("hpf", "highpass"), ("crunch", "distortion"),
]  # fmt: skip


@pytest.mark.parametrize(("word", "kind"), CHAIN_WORDS)
def test_module_words_in_a_chain(word: str, kind: str) -> None:
    interpreter = band("add saw bass")
    messages = osc(interpreter, f"run the bass through some {word}")
    assert messages[0] == ["/patch/create", f"{kind}1", kind]


def test_a_module_named_like_a_module_word_is_the_module() -> None:
    interpreter = band("add saw bass", "add delay echo")
    assert osc(interpreter, "bass through echo") == [
        ["/patch/disconnect", "bass", "master"],
        ["/patch/connect", "bass", "echo"],
    ]


def test_module_type_lookup() -> None:
    assert module_type("Hi  Hat") == "hat" and module_type("hihats") == "hat"
    assert module_type("saw") is None and module_type("bass") is None


@pytest.mark.parametrize(("word", "size"), sorted(DEGREES.items()))
def test_degree_words(word: str, size: str) -> None:
    interpreter = band("add saw bass", "volume -6 db")
    expected = {"bit": -4.5, "much": 1.5}[size]
    assert osc(interpreter, f"a {word} louder") == [["/mod/bass/volume", expected]]


@pytest.mark.parametrize(("word", "canonical"), sorted(COMPARATIVES.items()))
def test_comparatives_mean_their_canonical_word(word: str, canonical: str) -> None:
    lines = ("add saw bass through reverb", "tempo 100")
    assert osc(band(*lines), word) == osc(band(*lines), canonical)


@pytest.mark.parametrize(("phrase", "meaning"), sorted(DIRECTIONS.items()))
def test_directions_read_as_changes(phrase: str, meaning: tuple[str, str]) -> None:
    way, kind = meaning
    lines = ("add saw bass through reverb", "tempo 100")
    canonical = {
        ("up", "level"): "louder", ("down", "level"): "quieter",
        ("up", "tone"): "brighter", ("down", "tone"): "darker",
        ("up", "wet"): "wetter", ("down", "wet"): "drier",
        ("up", "width"): "wider", ("down", "width"): "narrower",
        ("up", "tempo"): "faster", ("down", "tempo"): "slower",
    }[(way, kind)]  # fmt: skip
    target = "" if kind == "tempo" else " the bass"
    if phrase.startswith("too "):
        line = f"{'it' if kind == 'tempo' else 'the bass'} is {phrase}"
    elif phrase in ("up", "down"):
        line = f"bass {phrase}"
    elif len(phrase.split()) == 2:
        verb, particle = phrase.split()
        line = f"{verb}{target} {particle}"
    else:
        line = f"{phrase}{target}"
    assert osc(band(*lines), line) == osc(band(*lines), canonical), line


@pytest.mark.parametrize(("word", "meaning"), sorted(MIX_WORDS.items()))
def test_mute_words(word: str, meaning: tuple[str, float]) -> None:
    param, value = meaning
    interpreter = band("add saw bass", "add kick")
    assert osc(interpreter, f"{word} the kick") == [[f"/mod/kick/{param}", value]]


@pytest.mark.parametrize(("verb", "particle", "value"), [("take", "out", 1.0),
                                                         ("bring", "back", 0.0),
                                                         ("put", "back", 0.0)])  # fmt: skip
def test_split_mute_phrases(verb: str, particle: str, value: float) -> None:
    interpreter = band("add kick", "add hat")
    result = interpreter.interpret(f"{verb} the hats {particle}")
    assert [m.to_list() for m in result.messages] == [["/mod/hat/mute", value]]
    assert result.notes == [f"read as: {'mute' if value else 'unmute'} hat"]


@pytest.mark.parametrize("word", EVERYTHING)
def test_everything(word: str) -> None:
    interpreter = band("add saw bass", "add kick", "add lfo")
    assert osc(interpreter, f"mute {word}") == [["/mod/bass/mute", 1.0], ["/mod/kick/mute", 1.0]]


@pytest.mark.parametrize("verb", ADD_OR_UNMUTE)
def test_bring_in_adds_a_type_or_unmutes_a_module(verb: str) -> None:
    interpreter = band("add kick", "mute kick")
    assert osc(interpreter, f"{verb} the kick") == [["/mod/kick/mute", 0.0]]
    assert osc(interpreter, f"{verb} a saw bass")[0] == ["/patch/create", "bass", "saw"]


@pytest.mark.parametrize("word", TEMPO_WORDS)
def test_tempo_words(word: str) -> None:
    assert osc(Interpreter(), f"set the {word} to 90") == [["/tempo", 90.0]]


@pytest.mark.parametrize("line", ["go to 124 bpm", "124 bpm", "at 124 bpm please", "bpm 124",
                                  "set bpm to 124", "go to 124"])  # fmt: skip
def test_tempo_forms(line: str) -> None:
    assert osc(Interpreter(), line) == [["/tempo", 124.0]]


@pytest.mark.parametrize(("phrase", "change"), sorted(TEMPO_CHANGES.items()))
def test_tempo_changes(phrase: str, change: str) -> None:
    assert osc(band("tempo 100"), f"{phrase} a bit") == osc(band("tempo 100"), f"a bit {change}")


@pytest.mark.parametrize(("word", "semitones"), sorted(INTERVALS.items()))
def test_intervals(word: str, semitones: int) -> None:
    interpreter = band("add saw bass", "bass c2 eb2 g2")
    assert osc(interpreter, f"up a {word}") == [["/seq/bass/transpose", semitones]]


@pytest.mark.parametrize(("word", "name"), sorted(CHORD_QUALITIES.items()))
def test_chord_qualities(word: str, name: str) -> None:
    notes = [60.0 + step for step in CHORDS[name]]
    messages = osc(band("add sine pad"), f"play a c {word} chord")
    assert [m[1] for m in messages] == notes


@pytest.mark.parametrize(("line", "notes"), [
    ("play an f minor chord on the pad", [65.0, 68.0, 72.0]),
    ("play a g major chord on the pad", [67.0, 71.0, 74.0]),
    ("play f sharp minor seventh chord", [66.0, 69.0, 73.0, 76.0]),
    ("play a b flat major chord", [70.0, 74.0, 77.0]),
    ("play an a minor chord", [69.0, 72.0, 76.0]),
])  # fmt: skip
def test_chords_as_players_name_them(line: str, notes: list[float]) -> None:
    assert [m[1] for m in osc(band("add sine pad"), line)] == notes


@pytest.mark.parametrize(("phrase", "pattern"), sorted(RHYTHMS.items()))
def test_rhythm_idioms(phrase: str, pattern: str) -> None:
    interpreter = band("add kick")
    assert osc(interpreter, f"kick {phrase}") == [
        ["/seq/kick/step", 16],
        ["/seq/kick/pattern", pattern],
    ]
    assert rhythm(phrase.replace("the ", "").upper()) == pattern


def test_rhythm_on_a_module_and_in_focus() -> None:
    interpreter = band("add kick", "add hat")
    assert osc(interpreter, "on the offbeats on the hats".replace("the hats", "hat"))[1] == [
        "/seq/hat/pattern",
        RHYTHMS["on the off-beats"],
    ]
    assert osc(interpreter, "four on the floor")[1][0] == "/seq/hat/pattern"


def test_pattern_shorthand_with_a_colon() -> None:
    interpreter = band("add saw bass", "add kick")
    assert osc(interpreter, "bass: c2 c2 eb2 g2") == [["/seq/bass/pattern", "c2 c2 eb2 g2"]]
    assert osc(interpreter, "kick: x . . x") == [["/seq/kick/pattern", "x . . x"]]


@pytest.mark.parametrize("verb", ROUTE_VERBS)
def test_route_verbs(verb: str) -> None:
    interpreter = band("add saw bass")
    assert osc(interpreter, f"{verb} it through a delay")[0] == ["/patch/create", "delay1", "delay"]


def test_command_words_are_reserved() -> None:
    words = keywords()
    for word in ("drop", "kill", "speed", "pace", "fifth", "run", "unmute"):
        assert word in words, word


def test_phrase_regex_takes_blanks_hyphens_and_left_out_articles() -> None:
    regex = phrase_regex(["on the off-beats"])
    for text in ("on the off-beats", "on the offbeats", "on  off beats", "on the off beats"):
        assert re.fullmatch(regex, text), text
    assert not re.fullmatch(regex, "on the of beats")


def test_parse_gives_canonical_intents() -> None:
    (intent,) = parse("give me an 808 kick")  # the named sound, called kick
    assert (intent.to_dict()["sound"], intent.to_dict()["name"]) == ("808", "kick")
    (intent,) = parse("give me a bass drum")
    assert intent.to_dict()["type"] == "kick"
    (intent,) = parse("add some hi-hats")
    assert intent.to_dict()["type"] == "hat"


def test_help_words_lists_every_table() -> None:
    from chronus.shell.help import help_text

    text = " ".join(help_text("words").split())
    for table in (MAKING_VERBS, MODULE_WORDS, DEGREES, MIX_WORDS, TEMPO_WORDS, RHYTHMS,
                  INTERVALS, ROUTE_VERBS, EVERYTHING):  # fmt: skip
        for word in table:
            assert word in text, word
    assert "words" in help_text(None) and "read as:" in help_text(None)
