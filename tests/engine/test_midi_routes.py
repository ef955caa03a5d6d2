"""MIDI events turned into canonical commands: notes, CC maps over a parameter's curve,
learn, pitch bend; and the `/midi/*` requests' answers."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from chronus.dsp.params import ParamSpec
from chronus.dsp.patch import Patch
from chronus.engine.midi_requests import HOP_MS, MARGIN_MS, MidiRequests, least_latency_ms
from chronus.engine.midi_routes import MidiError, MidiRoutes, cc_value
from chronus.engine.news import KINDS
from chronus.protocol import Message, validate


def _patch(*modules: tuple[str, str]) -> Patch:
    patch = Patch()
    for module_id, kind in modules:
        patch.apply(validate("/patch/create", (module_id, kind)))
    return patch


def _lists(messages: list[Message]) -> list[list[object]]:
    return [m.to_list() for m in messages]


def _note(note: int, velocity: int) -> Message:
    return validate("/midi/note", (note, velocity))


def test_notes_play_the_target_and_the_gate_closes_when_the_last_key_is_up() -> None:
    patch, routes = _patch(("lead", "saw")), MidiRoutes()
    routes.play("lead", patch)
    assert _lists(routes.translate(_note(60, 90), patch)) == [["/note/lead", 60.0, 90.0]]
    assert _lists(routes.translate(_note(64, 30), patch)) == [["/note/lead", 64.0, 30.0]]
    assert routes.translate(_note(60, 0), patch) == []
    assert _lists(routes.translate(_note(64, 0), patch)) == [["/gate/lead", 0]]
    assert _lists(routes.translate(_note(64, 0), patch)) == [["/gate/lead", 0]], "a stray off"


def test_notes_without_a_module_or_after_it_is_gone_are_refused() -> None:
    patch, routes = _patch(("lead", "saw")), MidiRoutes()
    with pytest.raises(MidiError, match="no module yet"):
        routes.translate(_note(60, 90), patch)
    with pytest.raises(MidiError, match="nope"):
        routes.play("nope", patch)
    routes.play("lead", patch)
    patch.apply(validate("/patch/remove", ("lead",)))
    with pytest.raises(MidiError, match="gone"):
        routes.translate(_note(60, 90), patch)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (ParamSpec("cutoff", 1.0, 20.0, 20000.0, "hz"), 0, 20.0),
        (ParamSpec("cutoff", 1.0, 20.0, 20000.0, "hz"), 127, 20000.0),
        (ParamSpec("cutoff", 1.0, 20.0, 20000.0, "hz"), 127 / 3, 200.0),  # a decade a third
        (ParamSpec("res", 0.2, 0.0, 1.0), 127, 1.0),
        (ParamSpec("pan", 0.0, -1.0, 1.0), 127 / 2, 0.0),
        (ParamSpec("volume", 0.0, -60.0, 12.0, "db"), 0, -60.0),
    ],
)
def test_cc_values_cover_the_range_on_the_parameters_curve(
    spec: ParamSpec, value: float, expected: float
) -> None:
    assert cc_value(spec, value) == pytest.approx(expected)  # type: ignore[arg-type]


def test_a_mapped_cc_sets_the_parameter_and_others_do_nothing() -> None:
    patch, routes = _patch(("bass", "saw")), MidiRoutes()
    routes.map(74, "bass", "cutoff", patch)
    assert routes.translate(validate("/midi/cc", (1, 64)), patch) == []
    [message] = routes.translate(validate("/midi/cc", (74, 0)), patch)
    assert message.to_list() == ["/mod/bass/cutoff", 20.0]
    [message] = routes.translate(validate("/midi/cc", (74, 100)), patch)
    value = message.args[0]
    assert value == float(np.float32(value)), "what the log holds is what the slots get"
    with pytest.raises(MidiError, match="no parameter 'cutof'"):
        routes.map(74, "bass", "cutof", patch)
    assert routes.maps == {74: ("bass", "cutoff")}, "a refused map changes nothing"


def test_learn_maps_the_next_cc_and_tells_who_asked_once() -> None:
    patch, routes = _patch(("bass", "saw")), MidiRoutes()
    routes.learn("asker", "bass", "res", patch)
    assert routes.take_learned() is None
    [message] = routes.translate(validate("/midi/cc", (21, 127)), patch)
    assert message.to_list() == ["/mod/bass/res", 1.0]
    learned = routes.take_learned()
    assert learned is not None and (learned.addr, learned.cc, learned.param) == ("asker", 21, "res")
    assert routes.take_learned() is None
    routes.translate(validate("/midi/cc", (22, 127)), patch)
    assert routes.maps == {21: ("bass", "res")}, "only the next CC is learned"


def test_pitch_bend_moves_bend_or_says_once_there_is_none() -> None:
    patch, routes = _patch(("bass", "saw"), ("drum", "kick")), MidiRoutes()
    routes.play("bass", patch)
    bends = [validate("/midi/bend", (v,)) for v in (-8192, 0, 8191)]
    cents = [routes.translate(b, patch)[0].args[0] for b in bends]
    assert cents == pytest.approx([-200.0, 0.0, 8191 / 8192 * 200.0])
    routes.play("drum", patch)
    with pytest.raises(MidiError, match="kick 'drum' has no bend"):
        routes.translate(bends[0], patch)
    assert routes.translate(bends[1], patch) == []


class _Told:
    def __init__(self) -> None:
        self.replies: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.told: list[tuple[Any, ...]] = []

    def requests(self, patch: Patch) -> MidiRequests:
        return MidiRequests(
            ("127.0.0.1", 9), lambda: patch, lambda: 12.0,
            lambda *a: self.replies.append(a), lambda *a: self.errors.append(a),
            lambda *a: self.told.append(a),
        )  # fmt: skip


def test_requests_answer_and_refuse_with_nothing_changed() -> None:
    told, patch = _Told(), _patch(("bass", "saw"))
    midi = told.requests(patch)
    midi.request(validate("/midi/map", (74, "bass", "cutoff")), "a")
    midi.request(validate("/midi/map", (75, "lead", "cutoff")), "a")
    midi.request(validate("/midi/in", ("keys",)), "a")
    midi.request(validate("/midi/in", ("off",)), "a")
    assert told.replies == [
        ("a", "/midi/mapped", 74, "bass", "cutoff"),
        ("a", "/midi/in", "off", 0.0),
    ]
    assert [e[2] for e in told.errors] == [
        "no module named 'lead' (one of: bass); nothing changed",
        "MIDI notes need a module to play: `/midi/in <port> <module>`; nothing changed",
    ]
    assert midi.status["maps"] == {"74": "bass.cutoff"}


def test_a_problem_with_events_is_told_once_not_per_event() -> None:
    told, patch = _Told(), _patch(("bass", "saw"))
    midi = told.requests(patch)
    for _ in range(3):
        assert midi.translate(_note(60, 100)) == []
    assert len(told.told) == 1 and "no module yet" in told.told[0][1]
    assert told.told[0][0] in KINDS, "an engine event of a kind the news takes"


def test_bridge_reports_not_asked_for_are_ignored() -> None:
    told, patch = _Told(), _patch(("bass", "saw"))
    midi = told.requests(patch)
    for kind, text in (("ready", "{not json"), ("ready", '{"port": "x"}'), ("failed", "x")):
        midi.request(validate("/midi/bridge", (kind, text)), "b")
    assert told.replies == told.errors == [] and midi.status["port"] is None


def test_the_least_latency_covers_device_lead_the_block_rendered_and_margin() -> None:
    assert least_latency_ms(2, 128, 48000, 2667) == pytest.approx(2.667 + 3 * 128 / 48 + 0.5)
    assert least_latency_ms(1, 96, 48000, 0) == pytest.approx(2 * 96 / 48 + 0.5)


def test_short_periods_date_an_event_far_enough_for_the_hop_to_the_supervisor() -> None:
    """Dated `HOP_MS` or more past the block a slot renders as it comes (whole blocks)."""
    for block in (16, 32, 64, 96, 128, 256):
        period_ms = block / 48
        beyond = least_latency_ms(2, block, 48000, 0) - MARGIN_MS - 2 * period_ms
        assert beyond >= HOP_MS - 1e-9 and beyond - period_ms < max(HOP_MS, period_ms), block
    assert least_latency_ms(2, 64, 48000, 0) == pytest.approx(4 * 64 / 48 + 0.5)


def test_a_new_supervisor_routes_as_the_one_that_died() -> None:
    """The setup a manifest carries (pickled, as the parent holds it) gives a new
    supervisor's routes: where notes go, the CC maps, a learn still waiting and who asked."""
    told, patch = _Told(), _patch(("bass", "saw"), ("lead", "saw"))
    old = told.requests(patch)
    old.request(validate("/midi/to", ("lead",)), ("127.0.0.1", 5000))
    old.request(validate("/midi/map", (74, "bass", "cutoff")), ("127.0.0.1", 5000))
    old.request(validate("/midi/learn", ("bass", "res")), ("127.0.0.1", 5001))
    setup = pickle.loads(pickle.dumps(old.setup()))
    assert setup.port is None and setup.reader == 0, "no port read: none to read again"
    new_told = _Told()
    new = new_told.requests(patch)
    new.resume(setup)
    assert new.status["to"] == "lead" and new.status["maps"] == {"74": "bass.cutoff"}
    assert _lists(new.translate(_note(48, 90))) == [["/note/lead", 48.0, 90.0]]
    [moved] = new.translate(validate("/midi/cc", (71, 127)))
    assert moved.to_list() == ["/mod/bass/res", 1.0]
    assert new_told.replies == [(("127.0.0.1", 5001), "/midi/mapped", 71, "bass", "res")]
    assert new.setup().learning is None, "the learn is done"


def test_a_learn_asked_over_tcp_is_kept_without_its_asker() -> None:
    told, patch = _Told(), _patch(("bass", "saw"))
    midi = told.requests(patch)
    midi.request(validate("/midi/learn", ("bass", "res")), object())  # a TCP peer
    setup = midi.setup()
    assert setup.learning == ("bass", "res") and setup.learner is None
    pickle.dumps(setup)
