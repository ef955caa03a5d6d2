"""The stand-in of an isolated module in real graphs: two renderers as the two slots, a
third joining from one's state, all on one ring served by one host (stepped by hand).

The graph names each module (`reseed` with a stable hash of its id); the stand-in finds its
ring by that name through the process's link maker, and a joining slot, which loads state
instead, finds the same ring through the state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import register
from chronus.dsp.render import Renderer
from chronus.plugins import isolated
from chronus.plugins.host_ring import H
from chronus.plugins.source import import_plugin, version_of
from chronus.protocol import Message, validate
from tests.plugins.hosted_rings import HostedRings

RATE, BLOCK = 48000, 128
FOLD = Path(__file__).resolve().parents[2] / "examples" / "modules" / "fold.py"


def m(address: str, *args: object) -> Message:
    return validate(address, args)


@pytest.fixture
def rings() -> Iterator[HostedRings]:
    fold = import_plugin(FOLD, "fold", version_of(FOLD.read_bytes()))
    register(isolated.isolated_type(fold))
    made = HostedRings({"fold": fold}, RATE, BLOCK)
    isolated.set_link_maker(made.link)
    yield made
    isolated.set_link_maker(None)


def _patch(renderer: Renderer) -> None:
    for message in [
        m("/patch/create", "src", "saw"),
        m("/patch/create", "grit", "fold"),
        m("/patch/connect", "src", "grit"),
        m("/patch/connect", "grit", "master"),
        m("/note/src", 45, 100),
    ]:
        renderer.schedule(0, message)


def _render(renderer: Renderer, out: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    renderer.render(out, BLOCK)
    return out.copy()


def test_two_slots_and_a_joiner_play_an_isolated_module_alike(rings: HostedRings) -> None:
    a, b = Renderer(RATE, BLOCK), Renderer(RATE, BLOCK)
    _patch(a)
    _patch(b)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    played_a, played_b = [], []
    for block in range(40):
        played_a.append(_render(a, out))
        if block % 7:  # the host misses a call now and then: both slots bypass it
            rings.serve()
        played_b.append(_render(b, out))
    assert len(rings.rings) == 1  # both slots' "grit" found the one ring
    ((ring, _),) = rings.rings.values()
    assert ring.header[H.BYPASSES] > 0 and ring.header[H.DIFFERENT] == 0
    assert np.array_equal(np.concatenate(played_a), np.concatenate(played_b))
    assert np.abs(np.concatenate(played_a)[2 * BLOCK :]).max() > 0.01  # it sounds
    joiner = Renderer(RATE, BLOCK)
    joiner.load_state(b.state())  # b's state at a block boundary, as a join hands it over
    after_a, after_joiner = [], []
    for _ in range(20):
        after_a.append(_render(a, out))
        rings.serve()
        after_joiner.append(_render(joiner, out))
    assert len(rings.rings) == 1  # the joiner found the same ring, through the state
    assert ring.header[H.DIFFERENT] == 0 and ring.header[H.LOST] == 0
    assert np.array_equal(np.concatenate(after_a), np.concatenate(after_joiner))
