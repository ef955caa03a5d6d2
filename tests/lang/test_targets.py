"""One rule for targets: which module and parameter a word reaches, the same for `cutoff 800`,
`more cutoff`, `darker` and an lfo, and what each change tells the musician."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, SYNTH_TYPES
from chronus.dsp.specs_effects import EFFECT_SPECS
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.protocol import Arg


def run(interpreter: Interpreter, line: str) -> Interpretation:
    result = interpreter.interpret(line)
    assert result.ok, result.error.render() if result.error else line
    return result


def osc(interpreter: Interpreter, line: str) -> list[list[Arg]]:
    return [m.to_list() for m in run(interpreter, line).messages]


@pytest.fixture
def chain() -> Interpreter:
    """`add a saw bass through an acid filter`: bass (cutoff 2000) → acid1 (cutoff 400)."""
    interpreter = Interpreter()
    osc(interpreter, "add a saw bass through an acid filter")
    assert interpreter.context.focus == "bass"
    return interpreter


def test_the_bug_cutoff_then_darker_move_one_filter(chain: Interpreter) -> None:
    """The absolute and the relative form reach the same knob, and darker starts from the
    value the absolute form set."""
    assert osc(chain, "cutoff 1000") == [["/mod/acid1/cutoff", 1000.0]]
    assert osc(chain, "darker") == [["/mod/acid1/cutoff", 700.0]]
    assert chain.context.params["bass"]["cutoff"] == 2000.0  # the saw's own is untouched


@pytest.mark.parametrize(
    "line",
    [
        "cutoff 1000",
        "set bass cutoff to 1000 hz",
        "bass cutoff 1 khz",
        "set the cutoff of bass to 1000",
        "cutoff 1000 on bass",
        "set it cutoff 1000",
    ],
)
def test_every_absolute_form_on_the_chain_head_reaches_its_filter(
    chain: Interpreter, line: str
) -> None:
    assert osc(chain, line) == [["/mod/acid1/cutoff", 1000.0]]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("make it darker", ["/mod/acid1/cutoff", 280.0]),
        ("make the bass brighter", ["/mod/acid1/cutoff", 560.0]),
        ("darker on bass", ["/mod/acid1/cutoff", 280.0]),
        ("more cutoff", ["/mod/acid1/cutoff", 560.0]),
        ("less cutoff on bass", ["/mod/acid1/cutoff", 280.0]),
        ("more resonance", ["/mod/acid1/res", 0.7]),
        ("resonance 0.9", ["/mod/acid1/res", 0.9]),
        ("q 0.3 on bass", ["/mod/acid1/res", 0.3]),
    ],
)
def test_tone_words_on_the_chain_head_reach_its_filter(
    chain: Interpreter, line: str, expected: list[Arg]
) -> None:
    assert osc(chain, line) == [expected]


def test_other_parameters_stay_the_modules_own(chain: Interpreter) -> None:
    assert osc(chain, "drive 3") == [["/mod/bass/drive", 3.0]]
    assert osc(chain, "more drive") == [["/mod/bass/drive", 5.0]]
    assert osc(chain, "env_amount 2") == [["/mod/bass/env_amount", 2.0]]
    assert osc(chain, "louder") == [["/mod/bass/volume", -3.0]]


def test_on_a_filter_its_own_parameters(chain: Interpreter) -> None:
    assert osc(chain, "cutoff 500 on acid1") == [["/mod/acid1/cutoff", 500.0]]
    assert osc(chain, "darker") == [["/mod/acid1/cutoff", 350.0]]  # acid1 is the focus now
    assert chain.context.focus == "acid1"
    assert osc(chain, "more resonance on acid1") == [["/mod/acid1/res", 0.7]]


def test_the_focus_follows_the_module_named_not_the_one_reached(chain: Interpreter) -> None:
    osc(chain, "cutoff 800 on bass")
    assert chain.context.focus == "bass"
    assert osc(chain, "quieter") == [["/mod/bass/volume", -9.0]]


def test_a_synth_without_a_filter_uses_its_own() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add sine pad")
    assert osc(interpreter, "cutoff 1000") == [["/mod/pad/cutoff", 1000.0]]
    assert osc(interpreter, "darker") == [["/mod/pad/cutoff", 700.0]]
    assert osc(interpreter, "more resonance") == [["/mod/pad/res", 0.3]]


def test_the_nearest_filter_wins_past_effects() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add saw lead through distortion then lowpass then acid")
    assert osc(interpreter, "cutoff 600") == [["/mod/lowpass1/cutoff", 600.0]]
    assert osc(interpreter, "brighter") == [["/mod/lowpass1/cutoff", 840.0]]
    # A distortion with a filter after it gets darker there, not through its own tone …
    assert osc(interpreter, "darker on distortion1") == [["/mod/lowpass1/cutoff", 588.0]]
    # … and the acid filter, after the lowpass, is reached by name.
    assert osc(interpreter, "darker on acid1") == [["/mod/acid1/cutoff", 280.0]]


def test_a_drum_through_a_filter() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add hat through lowpass")
    assert osc(interpreter, "darker") == [["/mod/lowpass1/cutoff", 700.0]]
    assert osc(interpreter, "cutoff 3000") == [["/mod/lowpass1/cutoff", 3000.0]]
    osc(interpreter, "add kick")
    assert osc(interpreter, "darker") == [["/mod/kick/tone", 0.4]]


def test_parameters_a_module_lacks_are_found_along_its_chain_in_both_forms() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add saw bass through reverb")
    assert osc(interpreter, "wetter") == [["/mod/reverb1/mix", 0.4]]
    assert osc(interpreter, "mix 0.6") == [["/mod/reverb1/mix", 0.6]]
    assert osc(interpreter, "room 0.9") == [["/mod/reverb1/room", 0.9]]
    assert osc(interpreter, "more room") == [["/mod/reverb1/room", 1.0]]


def test_an_lfo_follows_the_same_rule(chain: Interpreter) -> None:
    messages = osc(chain, "lfo on bass cutoff at 1/8")
    assert messages[-1] == ["/patch/modulate", "lfo1", "acid1", "cutoff"]
    result = chain.interpret("wobble the bass")
    assert result.error is not None and "acid1 cutoff is already modulated" in result.error.message


def test_them_moves_a_shared_filter_once(chain: Interpreter) -> None:
    assert osc(chain, "make them darker") == [["/mod/acid1/cutoff", 280.0]]
    assert osc(chain, "cutoff 500 on them") == [["/mod/acid1/cutoff", 500.0]]


def test_the_filter_names_the_filter_of_the_focus(chain: Interpreter) -> None:
    assert osc(chain, "resonance 0.8 on the filter") == [["/mod/acid1/res", 0.8]]
    assert osc(chain, "make the filter darker") == [["/mod/acid1/cutoff", 280.0]]
    osc(chain, "add reverb after acid1")
    assert chain.context.focus == "reverb1"
    assert osc(chain, "cutoff 900 on the filter") == [["/mod/acid1/cutoff", 900.0]]


def test_the_filter_with_none_is_a_clear_error() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add saw bass")
    result = interpreter.interpret("cutoff 500 on the filter")
    assert result.error is not None
    assert result.error.message == "which filter? bass goes through none"
    assert not result.messages and interpreter.context.params["bass"]["cutoff"] == 2000.0


@pytest.mark.parametrize(
    ("line", "note"),
    [
        ("make it darker", "acid1 cutoff 400 → 280 Hz"),
        ("a bit brighter", "acid1 cutoff 400 → 472 Hz"),
        ("more resonance", "acid1 res 0.6 → 0.7"),
        ("quieter", "bass volume -6 → -9 dB"),
        ("longer release", "bass release 0.25 → 0.375 s"),
        ("much more drive", "bass drive 0 → 5"),
        ("cutoff 1000", "acid1 cutoff 400 → 1000 Hz"),
    ],
)
def test_each_change_says_what_it_did(chain: Interpreter, line: str, note: str) -> None:
    assert run(chain, line).notes == [note]


def test_a_set_on_the_named_module_itself_says_nothing_more(chain: Interpreter) -> None:
    assert run(chain, "volume -3 db").notes == []
    assert run(chain, "cutoff 300 on acid1").notes == []


def test_a_clamped_change_says_where_it_stopped() -> None:
    interpreter = Interpreter()
    osc(interpreter, "add saw bass; cutoff 19000")
    assert run(interpreter, "much brighter").notes == ["bass cutoff 19000 → 20000 Hz"]


def test_notes_go_to_json(chain: Interpreter) -> None:
    assert run(chain, "darker").to_json_dict()["notes"] == ["acid1 cutoff 400 → 280 Hz"]


def test_a_lane_plays_its_own_module_and_says_so_behind_a_filter(chain: Interpreter) -> None:
    result = run(chain, "lane bass cutoff 400 800")
    assert [m.to_list() for m in result.messages] == [["/seq/bass/lane", "cutoff", "400 800"]]
    assert result.notes == ["the lane moves bass's own cutoff, behind acid1"]
    assert run(chain, "lane bass drive 1 2").notes == []


PROCESSORS = [*FILTER_TYPES, *EFFECT_SPECS]
WORDS = ["cutoff", "resonance", "q", "mix", "room", "damp", "tone", "drive", "time", "decay"]


@settings(max_examples=80, deadline=None)
@given(
    source=st.sampled_from([*SYNTH_TYPES, *DRUM_TYPES]),
    chain=st.lists(st.sampled_from(PROCESSORS), max_size=3),
    word=st.sampled_from(WORDS),
)
def test_absolute_and_relative_forms_reach_the_same_knob(
    source: str, chain: list[str], word: str
) -> None:
    """On any chain, `more <word> on src` and `set src <word> <v>` move the same parameter
    (or both fail), and darker moves the knob that `cutoff` sets whenever a filter follows."""
    setup = f"add {source} src" + (" through " + " then ".join(chain) if chain else "")

    def fresh() -> Interpreter:
        interpreter = Interpreter()
        run(interpreter, setup)
        return interpreter

    relative = fresh().interpret(f"more {word} on src")
    if not relative.ok:
        assert not fresh().interpret(f"set src {word} 1").ok
    else:
        [message] = relative.messages
        absolute = fresh().interpret(f"set src {word} {message.args[0]!r}")
        assert [m.to_list() for m in absolute.messages] == [message.to_list()]
    interpreter = fresh()
    if interpreter.context.sound_filter("src") is not None:
        darker = interpreter.interpret("darker on src").messages
        assert [m.address for m in darker] == [
            m.address for m in fresh().interpret("set src cutoff 500").messages
        ]


def test_the_filter_in_plain_speech_is_the_one_rules_filter() -> None:
    """With another sound's filter in the patch, `open the filter` on a chain is its own
    filter, and on a synth through none the synth's own, never every filter of the patch."""
    interpreter = Interpreter()
    for line in ("add a clap", "add a saw bass through an acid filter"):
        assert interpreter.interpret(line).ok, line
    result = interpreter.interpret("open the filter a little")
    assert [m.address for m in result.messages] == ["/mod/acid1/cutoff"], result.notes
    assert interpreter.interpret("add a saw called lead").ok
    result = interpreter.interpret("open the filter a bit")
    assert [m.address for m in result.messages] == ["/mod/lead/cutoff"], result.notes
