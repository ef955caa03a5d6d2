"""The supervisor's MIDI out, with no process: requests, their answers and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chronus.dsp.patch import Patch
from chronus.engine.midi_out import MidiOutput
from chronus.protocol import validate


class _Said:
    def __init__(self) -> None:
        self.replies: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.told: list[tuple[Any, ...]] = []


@pytest.fixture
def said() -> _Said:
    return _Said()


@pytest.fixture
def out(said: _Said, monkeypatch: pytest.MonkeyPatch) -> MidiOutput:
    patch = Patch()
    patch.apply(validate("/patch/create", ("bass", "saw")))
    output = MidiOutput(
        48000, 128, lambda: "io", lambda: patch,
        lambda addr, *a: said.replies.append(a), lambda addr, *a: said.errors.append(a),
        lambda *a: said.told.append(a),
    )  # fmt: skip
    monkeypatch.setattr(output, "_start", lambda: None)  # no process: what it is told is lost
    return output


def _ready(out: MidiOutput) -> None:
    out._heard({"ready": "chronus-midi-out", "outputs": ["synth:midi_in", "keys:in"]})


def _ask(out: MidiOutput, address: str, *args: str) -> None:
    """A request to a ready process, and its listing of the ports (unchanged) coming back."""
    out.request(validate(address, args), "me", 0)
    out._heard({"outputs": ["synth:midi_in", "keys:in"]})


def test_a_request_before_the_process_is_ready_is_answered_when_it_is(
    out: MidiOutput, said: _Said
) -> None:
    out.request(validate("/midi/out", ("bass", "synth", 2)), "me", 0)
    assert said.replies == []
    _ready(out)
    assert said.replies == [("/midi/out", "bass", "synth:midi_in", 2)]
    assert out.routes == {"bass": ("synth:midi_in", 1)}


def test_the_destinations_are_listed_with_their_numbers(out: MidiOutput, said: _Said) -> None:
    _ready(out)
    out.request(validate("/midi/outs", ()), "me", 0)
    assert said.replies == []  # the process lists the ports as they are now first
    out._heard({"outputs": ["synth:midi_in", "keys:in"]})
    address, text = said.replies[0]
    assert address == "/midi/outs"
    assert json.loads(text) == [[0, "synth:midi_in"], [1, "keys:in"]]


def test_a_port_that_came_after_the_process_started_is_found(out: MidiOutput, said: _Said) -> None:
    _ready(out)
    out.request(validate("/midi/out", ("bass", "late-synth", 1)), "me", 0)
    out._heard({"outputs": ["synth:midi_in", "keys:in", "late-synth:in"]})
    assert said.errors == [] and out.routes == {"bass": ("late-synth:in", 0)}


@pytest.mark.parametrize(
    ("args", "why"),
    [(("lead", "synth"), "lead"), (("bass", "pads"), "no MIDI port 'pads'"),
     (("bass", "in"), "several MIDI ports match"), (("bass", "off"), "plays to no MIDI out")],
)  # fmt: skip
def test_a_bad_request_is_refused_and_changes_nothing(
    out: MidiOutput, said: _Said, args: tuple[str, str], why: str
) -> None:
    _ready(out)
    _ask(out, "/midi/out", *args)
    assert said.replies == [] and out.routes == {}
    (address, text) = said.errors[0]
    assert address == "/midi/out" and why in text and text.endswith("nothing changed")


def test_the_clock_goes_to_every_port_a_track_plays_to(out: MidiOutput, said: _Said) -> None:
    _ready(out)
    _ask(out, "/midi/clock", "on")
    assert json.loads(said.replies[-1][1]) == []
    _ask(out, "/midi/out", "bass", "1")
    assert out.status["clock"] == ["keys:in"]
    _ask(out, "/midi/clock", "off")
    assert json.loads(said.replies[-1][1]) is None and out.status["clock"] is None


def test_a_failed_process_answers_who_waited(out: MidiOutput, said: _Said) -> None:
    out.request(validate("/midi/outs", ()), "me", 0)
    out._heard({"failed": "no JACK MIDI: the server is gone"})
    assert said.errors == [("/midi/outs", "no JACK MIDI: the server is gone; nothing changed")]
