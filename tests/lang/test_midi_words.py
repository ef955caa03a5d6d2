"""The MIDI words through the whole pipeline (parse, resolve, map), no engine."""

from __future__ import annotations

import pytest

from chronus.lang.interpreter import Interpreter
from tests.lang.test_mapping import osc


@pytest.fixture
def band() -> Interpreter:
    """A saw called bass and a saw called lead, lead in focus."""
    interpreter = Interpreter()
    osc(interpreter, "add saw bass; add saw lead")
    return interpreter


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("midi in", [["/midi/ports"]]),
        ("MIDI in 1", [["/midi/in", "1", "lead"]]),
        ("midi in keys to bass", [["/midi/in", "keys", "bass"]]),
        ("midi in chronus-test-keys:out", [["/midi/in", "chronus-test-keys:out", "lead"]]),
        ('midi in "my keys:out 1" to bass', [["/midi/in", "my keys:out 1", "bass"]]),
        ("midi in to bass", [["/midi/to", "bass"]]),
        ("midi in off", [["/midi/in", "off"]]),
        ("map cc 74 to bass cutoff", [["/midi/map", 74, "bass", "cutoff"]]),
        ("map cc 1 to lead resonance", [["/midi/map", 1, "lead", "res"]]),
        ("learn bass res", [["/midi/learn", "bass", "res"]]),
    ],
)
def test_midi_words_map_to_midi_messages(band: Interpreter, line: str, expected: object) -> None:
    assert osc(band, line) == expected


def test_midi_in_to_a_module_puts_it_in_focus(band: Interpreter) -> None:
    osc(band, "midi in keys to bass")
    assert band.context.focus == "bass"


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("midi in 1", "none is in focus"),
        ("map cc 74 to drum cutoff", 'no module called "drum"'),
        ("map cc 200 to bass cutoff", "0 to 127"),
        ("learn bass cutof", 'has no parameter "cutof"'),
    ],
)
def test_bad_midi_lines_say_why_and_send_nothing(line: str, needle: str) -> None:
    interpreter = Interpreter()
    if not line.startswith("midi"):
        osc(interpreter, "add saw bass")
    result = interpreter.interpret(line)
    assert not result.ok and result.error is not None
    assert needle in result.error.render()
    assert result.messages == []
