"""The sequencer in the render path: real modules, real samples."""

from __future__ import annotations

import numpy as np
import pytest

from chronus.dsp.render import Renderer, render_offline
from chronus.protocol import Message, validate
from tests.dsp.chunks import assert_block_size_invariant, assert_hand_over_bit_identical, rendered
from tests.onsets import onsets

SR = 48000


def at(sample: int, address: str, *args: object) -> tuple[int, Message]:
    return sample, validate(address, args)


def kick_patch() -> list[tuple[int, Message]]:
    return [at(0, "/patch/create", "kick", "kick"), at(0, "/patch/connect", "kick", "master")]


def test_a_sequenced_pattern_is_bit_identical_to_hand_stamped_notes() -> None:
    minutes = 2
    frames = minutes * 60 * SR
    sequenced = [*kick_patch(), at(0, "/seq/kick/pattern", "x . X x")]
    by_hand = kick_patch()
    for k in range(frames // 6000):
        if k % 4 != 1:
            velocity = 127 if k % 4 == 2 else 100
            by_hand.append(at(6000 * k, "/note/kick", 60, velocity, 0.0625))
    a = render_offline(sequenced, frames, block=128)
    b = render_offline(by_hand, frames, block=128)
    assert np.abs(a).max() > 0.1
    np.testing.assert_array_equal(a, b)


def test_onsets_detected_in_ten_minutes_at_120_bpm_are_on_their_exact_sample() -> None:
    frames = 10 * 60 * SR
    commands = [
        *kick_patch(),
        at(0, "/mod/kick/decay", 0.02),
        at(SR, "/seq/kick/pattern", "x . . . x . . ."),  # after the new route faded in
    ]
    audio = render_offline(commands, frames, block=512)
    found = onsets(audio)
    expected = list(range(SR, frames, 24000))
    assert found == expected


def test_block_size_does_not_move_a_single_onset() -> None:
    commands = [
        at(0, "/patch/create", "bass", "saw"),
        at(0, "/patch/connect", "bass", "master"),
        at(0, "/seq/bass/swing", 0.2),
        at(0, "/seq/bass/lane", "cutoff", "300 . 2000 ."),
        at(0, "/seq/bass/pattern", "c2 [eb2 g2] <c3 [c3,g3]> x(3,8)"),
        at(30_000, "/tempo", 133),
    ]
    assert_block_size_invariant(commands, 4 * SR)


def test_a_hand_over_mid_pattern_continues_on_the_same_sample() -> None:
    commands = [
        at(0, "/patch/create", "bass", "saw"),
        at(0, "/patch/connect", "bass", "master"),
        at(0, "/seq/bass/pattern", "c2 eb2 <g2 c3> x(3,8,2)"),
        at(700, "/tempo", 90),  # waits for the bar line at sample 96000
        at(800, "/seq/bass/pattern", "c3*2 ."),  # so does this
    ]
    a = rendered(commands, 700, 128)  # sample 89600: both changes are still waiting
    played = assert_hand_over_bit_identical(a, a.state(), blocks=200)
    assert np.abs(played).max() > 0.05


def test_a_pattern_on_an_unknown_module_or_a_bad_pattern_changes_nothing() -> None:
    renderer = Renderer(SR, 128)
    renderer.schedule(0, validate("/seq/ghost/pattern", ("x",)))
    renderer.schedule(0, validate("/patch/create", ("bass", "saw")))
    renderer.schedule(0, validate("/seq/bass/pattern", ("c2 [eb2",)))
    out = np.zeros((128, 2), dtype=np.float32)
    renderer.render(out, 128)
    assert renderer.error_count == 2
    assert "ghost" in renderer.errors[0]
    assert renderer.sequencer.tracks == {} and not renderer.graph.patch.tracks
    assert not renderer.sequencer.transport.running


def test_removing_a_module_drops_its_track() -> None:
    commands = [
        *kick_patch(),
        at(0, "/seq/kick/pattern", "x x"),
        at(10_000, "/patch/remove", "kick"),
    ]
    renderer = rendered(commands, 200, 128)
    assert renderer.error_count == 0, list(renderer.errors)
    assert "kick" not in renderer.sequencer.tracks
    assert "kick" not in renderer.graph.patch.to_dict()["tracks"]


@pytest.mark.parametrize("tracks", [16])
def test_patterns_are_in_the_dump_and_rebuild_from_it(tracks: int) -> None:
    commands = []
    for i in range(tracks):
        commands += [
            at(0, "/patch/create", f"v{i}", "sine"),
            at(0, "/patch/connect", f"v{i}", "master"),
        ]
        commands.append(at(0, f"/seq/v{i}/pattern", "c4 . e4 g4"))
    commands.append(at(0, "/seq/v3/step", 8))
    renderer = rendered(commands, 10, 128)
    dump = renderer.graph.patch.to_dict()
    assert dump["transport"] is True
    assert dump["tracks"]["v3"]["division"] == 8
    assert dump["tracks"]["v0"]["pattern"] == "c4 . e4 g4"
    from chronus.dsp.patch import Patch

    assert Patch.from_dict(dump).to_dict() == dump


FORMS = [
    "c2 eb2 g2 c3",
    "x . X . x:40 ~ x .",
    "[c3 e3] g3 [c4 [b3 a3]] .",
    "c3*2 [e3 g3]*3 . c4",
    "<c3 e3 g3> <c2 [c2 c3]>",
    "x(3,8)",
    "x(3,8,2) c3(5,8)",
    "[c3,eb3,g3] . [c3,f3,ab3]:70 .",
    "36 48:90 . 60",
]


@pytest.mark.parametrize("pattern_text", FORMS)
def test_every_form_sounds_exactly_as_its_events_stamped_by_hand(pattern_text: str) -> None:
    from chronus.seq.notation import parse

    pattern = parse(pattern_text)
    frames = 3 * SR
    setup = [
        at(0, "/patch/create", "bass", "saw"),
        at(0, "/mod/bass/voices", 4),
        at(0, "/patch/connect", "bass", "master"),
    ]
    by_hand = list(setup)
    step = 6000  # a 16th at 120 bpm
    cycle = 0
    while cycle * pattern.steps * step < frames:
        for event in pattern.events(cycle):
            sample = (cycle * pattern.steps + event.onset) * step
            length = int(event.length * step / 2)
            for note in event.notes or (60,):
                seconds = length / SR
                by_hand.append(at(int(sample), "/note/bass", note, event.velocity, seconds))
        cycle += 1
    sequenced = [*setup, at(0, "/seq/bass/pattern", pattern_text)]
    a = render_offline(sequenced, frames, block=128)
    b = render_offline(by_hand, frames, block=128)
    assert np.abs(a).max() > 0.05
    np.testing.assert_array_equal(a, b)
