"""Notes fired ahead into the modules' kernels (`chronus.dsp.ahead`): the samples of the
block split at them, with the patch rendered once a block instead of once a piece."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chronus.dsp.graph import Graph
from chronus.dsp.render import Renderer
from chronus.dsp.synth import NOTES_AHEAD
from chronus.protocol import Message, validate
from tests.dsp.allocation import assert_allocates_nothing
from tests.dsp.chunks import render_in_chunks

SR = 48000
CHORD = "[" + ",".join(f"{n}2" for n in ("c", "c#", "d", "eb", "e", "f", "f#", "g", "ab")) + ","
CHORD += ",".join(f"{n}3" for n in ("c", "c#", "d", "eb", "e", "f", "f#", "g", "ab")) + "]"


def at(sample: int, address: str, *args: Any) -> tuple[int, Message]:
    return sample, validate(address, args)


def chain(name: str) -> list[tuple[int, Message]]:
    """A saw → distortion → acid chain, as a player builds it."""
    return [
        at(0, "/patch/create", name, "saw"),
        at(0, "/patch/create", f"{name}d", "distortion"),
        at(0, "/patch/create", f"{name}a", "acid"),
        at(0, "/patch/connect", name, f"{name}d"),
        at(0, "/patch/connect", f"{name}d", f"{name}a"),
        at(0, "/patch/connect", f"{name}a", "master"),
        at(0, f"/mod/{name}/volume", -12.0),
    ]


def song() -> list[tuple[int, Message]]:
    """Everything a fire can do inside a block: notes on chains (accented, a chord of more
    notes than a synth takes ahead), tracks on different samples (swing, triplets), a lane
    (held: the block splits), a drum (no `note_at`: held), a tempo change and a pattern
    switch on a bar line, a track that stops and lets its chain fall asleep, an lfo that
    makes the graph tick inside blocks for a while."""
    assert len(CHORD.split(",")) > NOTES_AHEAD
    return [
        *chain("a"),
        *chain("b"),
        *chain("c"),
        at(0, "/patch/create", "k", "kick"),
        at(0, "/patch/connect", "k", "master"),
        at(0, "/seq/a/pattern", "c2 C3 [eb2 g2] <c2 bb1>"),
        at(0, "/seq/b/pattern", f"{CHORD} . c2*2 ."),
        at(0, "/seq/b/swing", 0.3),
        at(0, "/seq/c/step", 12),
        at(0, "/seq/c/pattern", "g1 . g2 g1"),
        at(0, "/seq/c/lane", "cutoff", "300 . 2000 ."),
        at(0, "/seq/k/pattern", "x . x(3,8)"),
        at(30_000, "/tempo", 133),
        at(40_000, "/seq/a/pattern", "c2*4 eb2"),
        at(50_000, "/seq/b/stop"),
        at(60_000, "/patch/create", "wob", "lfo"),
        at(60_000, "/patch/modulate", "wob", "c", "cutoff"),
        at(110_000, "/patch/remove", "wob"),
    ]


@pytest.mark.parametrize("block", [7, 128, 512])
def test_notes_fired_ahead_give_the_samples_of_the_split_blocks(block: int) -> None:
    frames = 3 * SR
    split = render_in_chunks(song(), frames, block, 512, SR, fire_ahead=False)
    ahead = render_in_chunks(song(), frames, block, 512, SR, fire_ahead=True)
    assert np.abs(split).max() > 0.1
    assert split.tobytes() == ahead.tobytes()  # bit for bit, the sign of a zero included


def _pieces(
    monkeypatch: pytest.MonkeyPatch, commands: list[tuple[int, Message]], ahead: bool
) -> int:
    """How many pieces the graph rendered 100 blocks of 128 in."""
    pieces = 0
    original = Graph.render

    def counted(graph: Graph, *args: Any) -> None:
        nonlocal pieces
        pieces += 1
        original(graph, *args)

    monkeypatch.setattr(Graph, "render", counted)
    render_in_chunks(commands, 100 * 128, 128, 128, SR, fire_ahead=ahead)
    monkeypatch.setattr(Graph, "render", original)
    return pieces


def test_a_block_with_notes_inside_renders_the_patch_once(monkeypatch: pytest.MonkeyPatch) -> None:
    notes = [
        *chain("a"),
        *chain("b"),
        at(0, "/seq/a/pattern", "c2*4"),
        at(0, "/seq/b/pattern", "g2*3"),
    ]
    assert _pieces(monkeypatch, notes, ahead=False) > 110  # 16ths and triplets inside blocks
    assert _pieces(monkeypatch, notes, ahead=True) == 100


def test_what_cannot_wait_in_a_kernel_still_splits_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notes = [*chain("a"), at(0, "/seq/a/pattern", "c2 c2 g2 c2")]
    assert _pieces(monkeypatch, notes, ahead=True) == 100
    lane = [*notes, at(0, "/seq/a/lane", "cutoff", "300 900 500 700")]
    assert _pieces(monkeypatch, lane, ahead=True) > 100
    drum = [at(0, "/patch/create", "k", "kick"), at(0, "/seq/k/pattern", "x x x x")]
    assert _pieces(monkeypatch, drum, ahead=True) > 100


def test_playing_notes_fired_ahead_allocates_nothing() -> None:
    renderer = Renderer(SR, 128)
    for sample, message in [*chain("a"), *chain("b"), at(0, "/seq/a/pattern", "c2*16"),
                            at(0, "/seq/b/pattern", "[c2,g2]*12")]:  # fmt: skip
        renderer.schedule(sample, message)
    out = np.zeros((128, 2), dtype=np.float32)
    assert_allocates_nothing(lambda: renderer.render(out, 128), times=600)
    assert renderer.error_count == 0
    assert np.abs(out).max() > 0.0
