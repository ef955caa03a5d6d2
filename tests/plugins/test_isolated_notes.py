"""Notes reach an isolated module: the same pattern through the same module inline and
isolated, in real graphs (`Renderer`), the isolated one served by a host stepped by hand.

What the graph does to a module between its calls (notes, notes inside a block, gates,
releases, a panic, parameter lanes, the tempo) goes to the host with the next call, so the
isolated output is the inline one one block late, bit for bit — also for a slot that joins
from another's state in the middle of the pattern.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import register, unregister
from chronus.dsp.filters import Acid
from chronus.dsp.module import Module
from chronus.dsp.render import Renderer
from chronus.dsp.synth import SawSynth
from chronus.plugins import isolated
from chronus.plugins.host_events import EVENTS, GATE, NOTE_AT, NOTE_ON, PARAM, hooks_of, replay
from chronus.plugins.host_ring import H
from chronus.plugins.source import import_plugin, version_of
from chronus.protocol import Message, validate
from tests.plugins.hosted_rings import HostedRings

RATE, BLOCK = 48000, 128
BEEP = Path(__file__).resolve().parent / "faulty" / "good_source.py"
START = 200
"""The block the pattern starts in: after the new routes' fades and the mix's smoothing have
settled, which a signal a block late would otherwise meet at another point of their ramps."""


def m(address: str, *args: object) -> Message:
    return validate(address, args)


class _Voice(SawSynth):
    """The built-in saw under a name of its own (it takes notes inside a block)."""

    TYPE = "voice"


class _Filter(Acid):
    """The acid filter under a name of its own (its envelope follows the notes)."""

    TYPE = "envf"


@pytest.fixture
def types() -> Iterator[tuple[dict[str, str], HostedRings]]:
    """Each module class twice: inline as `<type>`, isolated as `iso_<type>`."""
    beep = import_plugin(BEEP, "beep", version_of(BEEP.read_bytes()))
    beep.TYPE = "beep"
    hosted: dict[str, type[Module]] = {}
    names = {}
    for cls in (beep, _Voice, _Filter):
        register(cls)
        twin = type(f"Iso{cls.__name__}", (cls,), {"TYPE": f"iso_{cls.TYPE}"})
        register(isolated.isolated_type(twin))
        hosted[twin.TYPE] = twin
        names[cls.TYPE] = twin.TYPE
    rings = HostedRings(hosted, RATE, BLOCK)
    isolated.set_link_maker(rings.link)
    yield names, rings
    isolated.set_link_maker(None)
    for inline, iso in names.items():
        unregister(inline)
        unregister(iso)


def _play(
    renderer: Renderer, messages: dict[int, list[Message]], blocks: int, rings: HostedRings | None
) -> npt.NDArray[np.float32]:
    for block, sent in messages.items():
        for message in sent:
            renderer.schedule(block * BLOCK + 37, message)  # inside a block
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    played = []
    for _ in range(blocks):
        renderer.render(out, BLOCK)
        played.append(out.copy())
        if rings is not None:
            rings.serve()
    return np.concatenate(played)


def _script(kind: str, effect: str | None = None) -> dict[int, list[Message]]:
    """A voice of `kind` (through `effect`) playing a pattern with a parameter lane, a held
    gate, a tempo change, a stop, a panic, and the pattern again."""
    chain = [m("/patch/create", "v", kind)]
    if effect is None:
        chain.append(m("/patch/connect", "v", "master"))
    else:
        chain += [
            m("/patch/create", "f", effect),
            m("/patch/connect", "v", "f"),
            m("/patch/connect", "f", "master"),
        ]
    lane = "detune" if kind.endswith("beep") else "cutoff"  # the voice's, not the filter's
    values = "-30 . 20 45" if lane == "detune" else "400 900 . 2500"
    return {
        0: chain,
        START: [
            m("/tempo", 137.0, 1),
            m("/seq/v/pattern", "c3 eb3 [g3 c4] . a2 c3", 1),
            m("/seq/v/lane", lane, values),
            m("/seq/v/gate", 0.3),
        ],
        START + 160: [m("/tempo", 171.0, 1)],
        START + 300: [m("/seq/stop")],
        START + 320: [m("/gate/v", 1.0)],
        START + 340: [m("/gate/v", 0.0)],
        START + 360: [m("/seq/v/pattern", "e3*4 g3", 1), m("/seq/start")],
        START + 420: [m("/panic")],
        START + 430: [m("/seq/start")],
    }


@pytest.mark.parametrize(
    ("kind", "effect"),
    [("beep", None), ("voice", None), ("voice", "envf")],
    ids=[
        "a user source (notes between blocks)",
        "a synth (notes inside blocks)",
        "an acid filter after an inline synth (its envelope follows the notes)",
    ],
)
def test_an_isolated_module_plays_the_inline_one_a_block_late(
    types: tuple[dict[str, str], HostedRings], kind: str, effect: str | None
) -> None:
    names, rings = types
    blocks = START + 500
    inline = _play(Renderer(RATE, BLOCK), _script(kind, effect), blocks, None)
    if effect is None:
        script = _script(names[kind])
    else:  # the last module of the chain isolated: the whole chain a block late
        script = _script(kind, names[effect])
    played = _play(Renderer(RATE, BLOCK), script, blocks, rings)
    assert np.abs(inline).max() > 0.05, "the pattern sounds"
    assert not played[:BLOCK].any(), "a block late"
    assert np.array_equal(played[BLOCK:], inline[:-BLOCK])
    for ring, _ in rings.rings.values():
        assert ring.header[H.BYPASSES] == 0 and ring.header[H.DIFFERENT] == 0


def test_a_slot_joining_mid_pattern_offers_the_same_calls_and_events(
    types: tuple[dict[str, str], HostedRings],
) -> None:
    names, rings = types
    a, b = Renderer(RATE, BLOCK), Renderer(RATE, BLOCK)
    for renderer in (a, b):
        for block, sent in _script(names["voice"], names["envf"]).items():
            for message in sent:
                renderer.schedule(block * BLOCK + 37, message)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for _ in range(START + 150):
        a.render(out, BLOCK)
        rings.serve()
        b.render(out, BLOCK)
    joiner = Renderer(RATE, BLOCK)
    joiner.load_state(b.state())
    after_a, after_joiner = [], []
    for _ in range(200):
        a.render(out, BLOCK)
        after_a.append(out.copy())
        rings.serve()
        joiner.render(out, BLOCK)
        after_joiner.append(out.copy())
    assert np.array_equal(np.concatenate(after_a), np.concatenate(after_joiner))
    assert np.abs(np.concatenate(after_a)).max() > 0.05
    for ring, _ in rings.rings.values():
        assert ring.header[H.DIFFERENT] == 0 and ring.header[H.LOST] == 0
        assert ring.event_counts.any(), "events went with the calls"


def test_the_events_sent_are_only_those_the_hosted_type_uses() -> None:
    beep = import_plugin(BEEP, "beep", version_of(BEEP.read_bytes()))
    assert hooks_of(beep) == {NOTE_ON, GATE, PARAM}  # what it defines; parameters always
    stand_in = isolated.isolated_type(beep)(RATE, BLOCK)
    assert not stand_in.ignores_notes and not stand_in.can_note_at()
    stand_in.release_all()
    stand_in.silence()
    stand_in.note_on(60.0, 100.0, 10)
    assert stand_in._events.count == 1
    voice = isolated.isolated_type(_Voice)(RATE, BLOCK)
    assert voice.can_note_at() and NOTE_AT in voice.HOOKS
    for _ in range(EVENTS):
        voice.note_on(60.0, 100.0, 10)
    assert not voice.can_note_at(), "no room: the graph splits the block instead"
    assert voice._counts[isolated.DROPPED] == 0
    voice.note_on(60.0, 100.0, 10)
    assert voice._counts[isolated.DROPPED] == 1
    assert not isolated.isolated_type(_Filter)(RATE, BLOCK).ignores_notes  # its envelope
    assert isolated.isolated_type(beep)(RATE, BLOCK).HOOKS == hooks_of(beep)


class _Recorder(Module):
    """Says what was done to it, in order; takes `room` notes inside a block."""

    def __init__(self, room: int) -> None:
        super().__init__(RATE, BLOCK)
        self.room = room
        self.done: list[tuple[object, ...]] = []

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        self.done.append(("note_on", midi))

    def can_note_at(self) -> bool:
        return self.room > 0

    def note_at(self, at: int, midi: float, velocity: float, length: int) -> None:
        self.room -= 1
        self.done.append(("note_at", at, midi))

    def flush_notes(self) -> None:
        self.done.append(("flush",))


def test_a_note_the_instance_cannot_take_inside_the_block_splits_its_render_there() -> None:
    """As the graph does inline: render up to the note, flush, start it; later notes too."""
    rows = np.zeros((EVENTS, 5))
    rows[0] = (NOTE_AT, 10, 60, 100, 5)
    rows[1] = (NOTE_AT, 40, 62, 100, 5)
    rows[2] = (NOTE_AT, 90, 64, 100, 5)
    rows[3] = (PARAM, 0, 0.5, 0, 0)
    instance = _Recorder(room=1)

    def render(start: int, stop: int) -> None:
        instance.done.append(("render", start, stop))

    def set_param(index: int, value: float) -> None:
        instance.done.append(("param", index, value))

    replay(instance, rows, 4, BLOCK, render, set_param)
    assert instance.done == [
        ("note_at", 10, 60.0),
        ("render", 0, 40),
        ("flush",),
        ("note_on", 62.0),
        ("render", 40, 90),
        ("note_on", 64.0),
        ("param", 0, 0.5),
        ("render", 90, BLOCK),
    ]
