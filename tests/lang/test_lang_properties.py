"""Properties of the language pipeline (hypothesis): any text gives intents or a
`ChronusSyntaxError`, never another exception; a failing line changes nothing; valid
commands round-trip through `chronus parse --json`."""

from __future__ import annotations

import contextlib
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronus.cli import main
from chronus.lang.context import Context
from chronus.lang.errors import ChronusSyntaxError
from chronus.lang.frames import read_frame
from chronus.lang.interpreter import Interpreter
from chronus.lang.parser import keywords, parse
from chronus.lang.vocabulary import known_words

SETUP = (
    "add a saw bass through an acid filter; add kick; add sine pad through reverb; "
    "kick x . x .; play c3 on bass"
)

# Words the grammar knows, a few module names and bits of syntax: random text made of
# these reaches deep parser states, where plain random text stops at the first word.
WORDS = [
    *sorted(keywords()),
    *sorted(known_words()),  # the word tables: random lines of them reach the frame reader
    "bass", "kick", "pad", "acid1", "reverb1", "it", "them", "c3", "eb2", "f#3", "middle c",
    "x", ".", "~", "[c3 e3]", "x(3,8)", "<a b>", "800", "-6", "1.2", "50%", "hz", "khz",
    "ms", "s", "db", "beats", "bars", "16th", "8th", "1/8", "triplet", ";", "then", "and",
    "/mod/bass/cutoff", '"x"', "#", "a", "the", "please", "take1.wav", "+5", "octave",
    "303", "808", "supersaw", "wobble", "sub", "clap", "tb303_f", "called",
]  # fmt: skip

sentences = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)
junk = st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace"))
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _interpreter() -> Interpreter:
    interpreter = Interpreter()
    assert interpreter.interpret(SETUP).ok
    return interpreter


INTERPRETER = _interpreter()


def _only_syntax_errors(text: str) -> None:
    try:
        parse(text)
    except ChronusSyntaxError:
        pass
    # The interpreter shields the musician from a bug in the frame reader; here it must show.
    read_frame(text, INTERPRETER.context, lambda command: bool(command))
    interpreter = Interpreter(INTERPRETER.context.copy())
    before = interpreter.context.to_dump(), interpreter.context.focus
    result = interpreter.interpret(text)
    if result.error is not None:
        # A line that fails sends nothing and changes nothing.
        assert "internal error" not in result.error.message, result.error.message
        assert result.messages == [] and result.intents == []
        assert (interpreter.context.to_dump(), interpreter.context.focus) == before
        result.error.render()
    elif result.read_as:
        # What the frame reader ran is a command of the grammar, sending the same OSC.
        direct = Interpreter(INTERPRETER.context.copy()).interpret(result.read_as)
        assert direct.read_as == "" and direct.messages == result.messages
    json.dumps(result.to_json_dict())


@FAST
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    _only_syntax_errors(text)


@FAST
@given(sentences)
def test_random_sentences_of_known_words(text: str) -> None:
    _only_syntax_errors(text)


@FAST
@given(junk)
def test_binary_junk(text: str) -> None:
    _only_syntax_errors(text)


def _ten_thousand(text: str) -> str:
    return (text * (10_000 // len(text) + 1))[:10_000]


@settings(max_examples=20, deadline=None)
@given(st.one_of(st.text(min_size=1, max_size=80), sentences.filter(bool)).map(_ten_thousand))
def test_ten_thousand_characters(text: str) -> None:
    assert len(text) == 10_000
    _only_syntax_errors(text)


def test_ten_thousand_characters_of_one_pattern() -> None:
    _only_syntax_errors("kick " + "x . " * 2500)
    _only_syntax_errors("play " + "c3 " * 3333)


VALID = [
    "tempo 128", "faster", "add a saw lead through delay", "bass cutoff 1.2 khz",
    "make it darker", "much brighter", "more resonance on acid1", "louder", "wetter",
    "play c3 on bass for 2 beats", "play c minor chord on pad", "bass plays eb2",
    "play c2 eb2 g2 c3 every 16th on bass", "kick x . . . x . . .", "swing 20%",
    "stop bass", "start", "mute bass", "panic", "lfo on bass cutoff at 1/8 depth 50%",
    "wobble the bass", "up an octave", "transpose bass +5", "undo", "record 8 bars",
    "/mod/bass/cutoff 800", "remove acid1", "pan 30% right",
]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=6))
def test_valid_commands_round_trip_through_parse_json(lines: list[str]) -> None:
    """`chronus parse --json` prints, line by line, what the interpreter does in-process."""
    interpreter = Interpreter(Context())
    expected = [interpreter.interpret(line).to_json_dict() for line in [SETUP, *lines]]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["parse", "--json", SETUP, *lines])
    rows = [json.loads(row) for row in out.getvalue().splitlines()]
    assert rows == expected
    assert code == (0 if all(row["ok"] for row in rows) else 1)
    for row in rows:
        if row["ok"]:
            assert row["error"] is None and all(osc[0].startswith("/") for osc in row["osc"])
