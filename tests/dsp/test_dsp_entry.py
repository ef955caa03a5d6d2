"""The hot kernels are called past numba's dispatch (`kernels.entry`): the entry point of
their one compiled signature, the kernel itself until there is exactly one; and a patch
rendered that way gives the very samples it gives through the dispatcher."""

from __future__ import annotations

import subprocess
import sys

import numba
import numpy as np
import pytest

from chronus.dsp import effects, filters, idle, kernels, strips
from chronus.dsp.effects import Delay, Distortion, Reverb
from chronus.dsp.filters import Acid, Lowpass
from chronus.dsp.render import Renderer
from chronus.dsp.synth import SawSynth
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate


def test_entry_is_the_kernel_until_it_has_exactly_one_signature() -> None:
    @numba.njit
    def twice(x: float) -> float:
        return 2 * x

    assert kernels.entry(twice) is twice  # nothing compiled yet: the dispatcher compiles
    assert twice(3) == 6
    direct = kernels.entry(twice)
    assert direct is not twice and direct(4) == 8
    assert twice(1.5) == 3.0
    assert kernels.entry(twice) is twice  # two signatures: the dispatcher chooses


def test_the_processors_take_entry_points_once_warm() -> None:
    assert Renderer(48000, 128).warm_up() == []
    saw, acid, dist = SawSynth(48000, 128), Acid(48000, 128), Distortion(48000, 128)
    assert saw._block is not kernels.synth_block
    assert acid._mono is not filters.fk.acid_mono
    assert acid._stereo is not filters.fk.acid_block
    assert dist._mono is not effects.ek.distortion_mono
    assert Lowpass(48000, 128)._mono is not filters.fk.svf_mono
    assert Delay(48000, 128)._stereo is not effects.ek.delay_block
    assert Reverb(48000, 128)._stereo is not effects.ek.reverb_block
    assert saw._voices_quiet is not idle.voices_quiet  # asked every few blocks
    assert acid._run_quiet is not idle.run_quiet
    assert dist._run_quiet is not idle.run_quiet


def test_the_graph_takes_its_strip_kernels_once_not_at_every_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Renderer(48000, 128).warm_up() == []
    renderer = Renderer(48000, 128)
    for address, args in (
        ("/patch/create", ("v", "saw")),
        ("/patch/create", ("a", "acid")),
        ("/patch/connect", ("v", "a")),
        ("/patch/connect", ("a", "master")),
        ("/note/v", (40, 100, 0.5)),
    ):
        renderer.schedule(0, validate(address, args))
    out = np.zeros((128, 2), dtype=np.float32)
    renderer.render(out, 128)
    graph = renderer.graph
    assert graph._to_mono is not strips.strip_to_mono
    assert graph._to_both is not strips.strip_mono
    asked: list[object] = []
    monkeypatch.setattr(kernels, "entry", lambda kernel: asked.append(kernel) or kernel)
    for _ in range(20):
        renderer.render(out, 128)
    assert asked == []  # numba's table of signatures is not read per block (~10 µs a call)
    assert np.abs(out).max() > 0.001


COLD = """
import numpy as np
from chronus.dsp.render import Renderer
from chronus.protocol import validate

renderer = Renderer(48000, 128)  # no warm-up: as `chronus render` starts
for address, args in (("/patch/create", ("v", "saw")), ("/patch/create", ("a", "acid")),
                      ("/patch/connect", ("v", "a")), ("/patch/connect", ("a", "master"))):
    renderer.schedule(0, validate(address, args))
renderer.schedule(0, validate("/note/v", (40, 100, 0.1)))
out = np.zeros((128, 2), dtype=np.float32)
renderer.render(out, 128)  # makes the modules, compiles (or loads) their kernels
saw, acid = renderer.graph.modules["v"], renderer.graph.modules["a"]
print(type(saw._block).__name__, type(acid._mono).__name__)
"""


def test_a_module_made_before_its_kernels_compiled_takes_them_after_its_first_block() -> None:
    result = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["builtin_function_or_method"] * 2, result.stdout


def _song(block: int) -> bytes:
    """Four chains as a player types them, playing 16ths (notes fired ahead in a block),
    one of them also given a note of its own (a block split at it)."""
    renderer = Renderer(48000, block)
    interpreter = Interpreter()
    for v, notes in enumerate(("c2 eb2 g2 c3", "f2 ab2", "g1 g2 bb2", "d2")):
        lines = (
            f"add a saw called v{v} through an acid filter",
            f"v{v} through distortion",
            f"play {notes} every 16th on v{v}",
        )
        for line in lines:
            result = interpreter.interpret(line)
            assert result.ok, result.error
            for message in result.messages:
                renderer.schedule(0, message)
    renderer.schedule(5003, validate("/note/v1", (50, 90, 0.03)))
    for address, args in (  # the stereo and mono kernels of the other processors too
        ("/patch/create", ("lp", "lowpass")),
        ("/patch/create", ("echo", "delay")),
        ("/patch/create", ("room", "reverb")),
        ("/patch/connect", ("v2", "lp")),
        ("/patch/connect", ("lp", "echo")),
        ("/patch/connect", ("echo", "room")),
        ("/patch/connect", ("room", "master")),
        ("/mod/v3/pan", (0.5,)),
    ):
        renderer.schedule(300, validate(address, args))
    out = np.zeros((block, 2), dtype=np.float32)
    rendered = bytearray()
    while renderer.position < 24000:
        renderer.render(out, block)
        rendered += out.tobytes()
    return bytes(rendered)


@pytest.mark.parametrize("block", [7, 128])
def test_entry_points_render_the_same_samples(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Renderer(48000, 128).warm_up() == []
    direct = _song(block)
    with monkeypatch.context() as patched:
        for module in (kernels, filters, effects):
            patched.setattr(module, "entry", lambda kernel: kernel)
        dispatched = _song(block)
    assert direct == dispatched
    assert np.abs(np.frombuffer(direct, dtype=np.float32)).max() > 0.01  # it sounded
