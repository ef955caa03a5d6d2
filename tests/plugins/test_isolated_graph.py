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


_FIRST_BLOCKS = """
import numba, numpy as np
from chronus.dsp.catalog import MODULE_TYPES
from chronus.plugins import host_ring, isolated
isolated.warm_stand_ins(48000, 128)
kernels = [k for m in (host_ring, isolated) for k in vars(m).values()
           if isinstance(k, numba.core.registry.CPUDispatcher)]
before = {k.__name__: len(k.overloads) for k in kernels}
for name in ("lowpass", "sine"):
    cls = MODULE_TYPES[name]
    link = isolated.ReplayLink(cls, 48000, 128, bypassed={2})
    peer = host_ring.SlotLink(link.ring)
    stand_in = isolated.isolated_type(cls)(48000, 128)
    stand_in.attach(link)
    inp, out = np.ones((128, 2)), np.zeros((128, 2))
    for call in range(5):
        if isinstance(stand_in, isolated.Processor):
            stand_in.process_stereo(inp, out, 128)
        else:
            stand_in.process(out[:, 0].copy(), 128)
        peer.submit(call, inp, stand_in._sent, 128)
after = {k.__name__: len(k.overloads) for k in kernels}
print(sorted(name for name in after if after[name] != before[name]))
"""


def test_warm_stand_ins_leaves_no_kernel_for_the_first_blocks_to_load() -> None:
    """A slot warms the stand-ins before it serves: the first calls an isolated module makes
    (rendered by its host, bypassed, checked by the peer) load no numba kernel in a block —
    a kernel loaded there costs tens of ms, and the slot's CPU guard suspends the module."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _FIRST_BLOCKS], capture_output=True,
                          text=True, timeout=300, cwd=root)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
