"""Lines → canonical OSC through the whole pipeline (parse, resolve, map), no engine."""

from __future__ import annotations

import pytest

from chronus.lang.context import Context
from chronus.lang.intents import SetParam
from chronus.lang.interpreter import Interpreter
from chronus.lang.mapper import convert_value
from chronus.lang.modules import find_param
from chronus.protocol import Arg, Message, validate


def osc(interpreter: Interpreter, line: str) -> list[list[Arg]]:
    result = interpreter.interpret(line)
    assert result.ok, result.error.render() if result.error else line
    return [m.to_list() for m in result.messages]


@pytest.fixture
def band() -> Interpreter:
    """A patch with a saw called bass and a kick, bass in focus, 120 bpm."""
    interpreter = Interpreter()
    osc(interpreter, "add kick; add saw bass")
    assert interpreter.context.focus == "bass"
    return interpreter


@pytest.mark.parametrize(
    "line", ["add saw bass", "add a saw called bass", "add a saw bass", "create a saw bass"]
)
def test_add_named(line: str) -> None:
    assert osc(Interpreter(), line) == [
        ["/patch/create", "bass", "saw"],
        ["/patch/connect", "bass", "master"],
    ]


def test_add_unnamed_takes_the_type_then_numbers() -> None:
    interpreter = Interpreter()
    assert osc(interpreter, "add kick")[0] == ["/patch/create", "kick", "kick"]
    assert osc(interpreter, "add kick")[0] == ["/patch/create", "kick2", "kick"]
    assert osc(interpreter, "add a kick")[0] == ["/patch/create", "kick3", "kick"]
    assert interpreter.context.focus == "kick3"


@pytest.mark.parametrize("line", ["tempo 128", "set tempo to 128", "tempo 128 bpm"])
def test_tempo(line: str) -> None:
    interpreter = Interpreter()
    assert osc(interpreter, line) == [["/tempo", 128.0]]
    assert interpreter.context.tempo == 128.0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("set bass cutoff 800", ["/mod/bass/cutoff", 800.0]),
        ("set bass cutoff to 800 hz", ["/mod/bass/cutoff", 800.0]),
        ("bass cutoff 1.2 khz", ["/mod/bass/cutoff", 1200.0]),
        ("cutoff 800", ["/mod/bass/cutoff", 800.0]),
        ("set bass attack 5 ms", ["/mod/bass/attack", 0.005]),
        ("release 1.5 s", ["/mod/bass/release", 1.5]),
        ("release 300 ms", ["/mod/bass/release", 0.3]),
        ("release 1 beat", ["/mod/bass/release", 0.5]),
        ("volume -6 db", ["/mod/bass/volume", -6.0]),
        ("volume -6", ["/mod/bass/volume", -6.0]),
        ("pan 50%", ["/mod/bass/pan", 0.5]),
        ("sustain 0.25", ["/mod/bass/sustain", 0.25]),
        ("set bass resonance 0.5", ["/mod/bass/res", 0.5]),
        ("bass q 0.5", ["/mod/bass/res", 0.5]),
        ("kick decay 200 ms", ["/mod/kick/decay", 0.2]),
    ],
)
def test_set_param(band: Interpreter, line: str, expected: list[object]) -> None:
    assert osc(band, line) == [expected]


def test_focus_follows_the_module_last_named(band: Interpreter) -> None:
    osc(band, "kick decay 0.3")
    assert band.context.focus == "kick"
    assert osc(band, "decay 0.4") == [["/mod/kick/decay", 0.4]]
    osc(band, "play c3 on bass")
    assert osc(band, "cutoff 900") == [["/mod/bass/cutoff", 900.0]]
    assert osc(band, "play c3 on it") == [["/note/bass", 48.0, 100.0]]


def test_parameter_values_are_mirrored(band: Interpreter) -> None:
    osc(band, "bass cutoff 1.2 khz")
    assert band.context.params["bass"]["cutoff"] == 1200.0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("play c3 on bass", ["/note/bass", 48.0, 100.0]),
        ("play c3", ["/note/bass", 48.0, 100.0]),
        ("play eb2 on bass for 0.5 s", ["/note/bass", 39.0, 100.0, 0.5]),
        ("play eb2 on bass for 2 beats", ["/note/bass", 39.0, 100.0, 1.0]),
        ("play eb2 on bass for 1 bar", ["/note/bass", 39.0, 100.0, 2.0]),
        ("play eb2 on bass for 1 step", ["/note/bass", 39.0, 100.0, 0.125]),
        ("play eb2 for 250 ms", ["/note/bass", 39.0, 100.0, 0.25]),
        ("bass plays eb2", ["/note/bass", 39.0, 100.0]),
        ("play kick", ["/note/kick", 60.0, 100.0]),
        ("play middle c on bass", ["/note/bass", 60.0, 100.0]),
        ("play f#3", ["/note/bass", 54.0, 100.0]),
        ("play C#4", ["/note/bass", 61.0, 100.0]),
        ("play bb1", ["/note/bass", 34.0, 100.0]),
    ],
)
def test_play(band: Interpreter, line: str, expected: list[object]) -> None:
    assert osc(band, line) == [expected]


def test_beats_use_the_tempo_in_force_even_within_a_line(band: Interpreter) -> None:
    assert osc(band, "tempo 90; play c3 for 3 beats") == [
        ["/tempo", 90.0],
        ["/note/bass", 48.0, 100.0, 2.0],
    ]


def test_transport(band: Interpreter) -> None:
    assert osc(band, "stop") == [["/seq/stop"]]
    assert osc(band, "panic") == [["/panic"]]


def test_several_commands_on_one_line(band: Interpreter) -> None:
    assert osc(band, "play c2 on bass; play kick") == [
        ["/note/bass", 36.0, 100.0],
        ["/note/kick", 60.0, 100.0],
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/mod/bass/cutoff 800", ["/mod/bass/cutoff", 800.0]),
        ("/mod/bass/resonance 0.5", ["/mod/bass/res", 0.5]),
        ("/mod/other/frequency 440", ["/mod/other/freq", 440.0]),
        ("/note/bass 48 100 0.5", ["/note/bass", 48.0, 100.0, 0.5]),
        ("/patch/create pad sine", ["/patch/create", "pad", "sine"]),
        ("/bpm 100", ["/tempo", 100.0]),
    ],
)
def test_raw_osc_passes_through_validated(
    band: Interpreter, line: str, expected: list[object]
) -> None:
    assert osc(band, line) == [expected]


def test_raw_osc_updates_the_mirror_but_not_the_focus(band: Interpreter) -> None:
    osc(band, "/patch/create pad sine; /patch/connect pad master")
    assert band.context.modules["pad"] == "sine"
    assert ("pad", "master") in band.context.connections
    assert band.context.focus == "bass"
    assert osc(band, "pad cutoff 500") == [["/mod/pad/cutoff", 500.0]]


@pytest.mark.parametrize("line", ["wait 2 beats", "help", "help tempo", "health", "status", "quit"])
def test_words_without_osc(band: Interpreter, line: str) -> None:
    result = band.interpret(line)
    assert result.ok and result.intents and result.messages == []


def test_messages_are_canonical_protocol_messages(band: Interpreter) -> None:
    for message in band.interpret("add sine pad; pad cutoff 2 khz; play a4 on pad").messages:
        assert isinstance(message, Message)
        assert validate(message.address, message.args) == message


def test_unit_conversion_is_exact() -> None:
    spec = find_param("saw", "cutoff")
    assert spec is not None
    assert convert_value(1.2, "khz", spec, 120.0) == 1200.0
    attack = find_param("saw", "attack")
    assert attack is not None
    assert convert_value(5, "ms", attack, 120.0) == 0.005
    assert convert_value(3, "steps", attack, 120.0) == 0.375


def test_from_dump_resumes_a_session() -> None:
    context = Context.from_dump(
        {
            "modules": {"bass": {"type": "saw", "params": {"cutoff": 640.0}}},
            "connections": [["bass", "master"]],
            "tempo": 100.0,
        }
    )
    interpreter = Interpreter(context)
    assert osc(interpreter, "play c3 on bass for 1 beat") == [["/note/bass", 48.0, 100.0, 0.6]]
    assert osc(interpreter, "add saw")[0] == ["/patch/create", "saw1", "saw"]
    assert interpreter.interpret("set bass cutoff 900").intents == [
        SetParam("bass", "cutoff", 900.0)
    ]


@pytest.mark.parametrize("kind", ["lowpass", "acid", "distortion", "delay", "reverb"])
def test_add_a_processor_routes_it_to_master(kind: str) -> None:
    assert osc(Interpreter(), f"add {kind} called fx") == [
        ["/patch/create", "fx", kind],
        ["/patch/connect", "fx", "master"],
    ]


def test_add_an_lfo_creates_it_without_routing_audio() -> None:
    assert osc(Interpreter(), "add lfo called wob") == [["/patch/create", "wob", "lfo"]]


@pytest.mark.parametrize(
    ("setup", "line", "expected"),
    [
        ({}, "record 30 seconds to x.wav", ["/record/start", "x.wav", 30 * 48000]),
        ({"rate": 44100}, "record 30 seconds to x.wav", ["/record/start", "x.wav", 30 * 44100]),
        ({"tempo": 124.0}, "record 8 bars to x.wav", ["/record/start", "x.wav", 743226]),
        ({"tempo": 90.0}, "record 3 beats to x.wav", ["/record/start", "x.wav", 96000]),
        ({}, "record 250 ms to x.wav", ["/record/start", "x.wav", 12000]),
        ({}, "record to x.wav", ["/record/start", "x.wav"]),
    ],
)
def test_a_recording_length_is_sent_in_frames_at_the_engines_rate_and_tempo(
    setup: dict[str, float], line: str, expected: list[Arg]
) -> None:
    # 8 bars at 124 bpm: 32 × 60 / 124 s = 15.4838… s = 743225.8 frames at 48 kHz.
    assert osc(Interpreter(Context.from_dump(setup)), line) == [expected]


def test_a_recording_length_the_engine_cannot_take_is_refused_at_the_length() -> None:
    interpreter = Interpreter(Context.from_dump({"rate": 48000}))
    for line in ("record 0.001 ms to x.wav", "record 50000 seconds to x.wav"):
        result = interpreter.interpret(line)
        assert not result.ok and result.messages == []
        assert result.error is not None and result.error.column == 8
        assert "a recording lasts from 1 sample to 12.4 hours" in str(result.error)
    assert interpreter.context.recording is None
