"""A slot that joins takes the active's state at a block boundary and renders on: wherever
that boundary falls in a song of patterns, it must render what the active renders."""

from __future__ import annotations

import pickle

import numpy as np
import numpy.typing as npt

from chronus.dsp.render import Renderer
from chronus.protocol import Message, validate

BLOCK = 128
CAPTURES = range(0, 420, 11)
AFTER = 48


def m(address: str, *args: object) -> Message:
    return validate(address, args)


SONG = [
    (0, m("/patch/create", "bass", "saw")), (0, m("/patch/connect", "bass", "master")),
    (0, m("/seq/bass/pattern", "c2 eb2 [g2 c3] ~")), (0, m("/seq/bass/swing", 0.2)),
    (0, m("/seq/start")),
    (3000, m("/mod/bass/cutoff", 3000.0)), (3000, m("/patch/create", "kick", "kick")),
    (3000, m("/patch/connect", "kick", "master")), (3000, m("/seq/kick/pattern", "x . x(3,8)")),
    (9000, m("/tempo", 133.0)),
    (20000, m("/patch/create", "acid", "acid")), (20000, m("/patch/disconnect", "bass", "master")),
    (20000, m("/patch/connect", "bass", "acid")), (20000, m("/patch/connect", "acid", "master")),
    (25000, m("/seq/bass/lane", "cutoff", "300 900 2000")),
    (30011, m("/patch/create", "wob", "lfo")),
    (30011, m("/patch/modulate", "wob", "acid", "cutoff")),
    (40000, m("/patch/remove", "kick")), (41000, m("/seq/bass/pattern", "<c2 f2> [eb2 g2]*2")),
    (50000, m("/seq/stop")), (52000, m("/seq/start")),
]  # fmt: skip


def fresh() -> Renderer:
    renderer = Renderer(48000, BLOCK)
    for sample, message in SONG:
        renderer.schedule(sample, message)
    return renderer


def test_a_state_taken_at_any_block_renders_on_as_the_original() -> None:
    reference = fresh()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    expected: list[npt.NDArray[np.float32]] = []
    for _ in range(CAPTURES[-1] + AFTER):
        reference.render(out, BLOCK)
        expected.append(out.copy())
    assert reference.error_count == 0, list(reference.errors)
    assert np.abs(np.concatenate(expected)).max() > 0.05, "the song must sound"
    original = fresh()
    for k in range(CAPTURES[-1] + 1):
        if k in CAPTURES:
            joiner = Renderer(48000, BLOCK)
            joiner.load_state(pickle.loads(pickle.dumps(original.state())))
            for j in range(AFTER):
                joiner.render(out, BLOCK)
                np.testing.assert_array_equal(out, expected[k + j], err_msg=f"from {k}, +{j}")
        original.render(out, BLOCK)
