"""Mono chains stay mono: a centred mono source goes through its processors' mono kernels,
and the samples are those of the stereo path, bit for bit — with pans, a stereo input
joining a mono one, fan-outs, fades and removals."""

from __future__ import annotations

import numpy as np
import pytest

from chronus.dsp.module import Processor
from chronus.dsp.render import Renderer
from chronus.protocol import Message, validate
from tests.dsp.chunks import assert_block_size_invariant, render_in_chunks

SR = 48000


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def chains() -> list[tuple[int, Message]]:
    cmds = [
        (0, m("/patch/create", "bass", "saw")),
        (0, m("/patch/create", "d", "distortion")),
        (0, m("/patch/create", "f", "acid")),
        (0, m("/patch/create", "lead", "square")),
        (0, m("/patch/create", "lp", "lowpass")),
        (0, m("/patch/create", "echo", "delay")),
        (0, m("/patch/create", "room", "reverb")),
        (0, m("/patch/create", "hp", "highpass")),
        (0, m("/patch/connect", "bass", "d")),
        (0, m("/patch/connect", "d", "f")),
        (0, m("/patch/connect", "f", "master")),
        (0, m("/patch/connect", "lead", "lp")),
        (0, m("/patch/connect", "lp", "echo")),
        (0, m("/patch/connect", "echo", "master")),
        (0, m("/patch/connect", "echo", "room")),  # fan-out: a dual-mono delay into a reverb
        (0, m("/patch/connect", "room", "hp")),  # the reverb's stereo into a filter
        (0, m("/patch/connect", "hp", "master")),
        (0, m("/mod/echo/time", 30)),
    ]
    for j in range(24):
        cmds.append((311 + 2003 * j, m("/note/bass", 36 + (j * 5) % 12, 90 + j % 30, 0.03)))
        cmds.append((977 + 2003 * j, m("/note/lead", 60 + (j * 7) % 12, 100, 0.02)))
    cmds += [
        (9001, m("/mod/lead/pan", 0.4)),  # panned: the filter's input turns stereo
        (15003, m("/mod/lead/pan", 0.0)),  # centred again (the strip glides back)
        (20011, m("/patch/create", "pad", "sine")),
        (20011, m("/mod/pad/pan", -0.7)),
        (20011, m("/patch/connect", "pad", "d")),  # a stereo input joins the mono one
        (20500, m("/note/pad", 55, 100, 0.2)),
        (31007, m("/patch/disconnect", "pad", "d")),
        (33003, m("/patch/connect", "bass", "lp")),  # fan-out with a route fading in
        (38005, m("/patch/remove", "d")),
        (38005, m("/patch/connect", "bass", "f")),
    ]
    return cmds


FRAMES = 50000


def test_the_mono_path_gives_the_stereo_path_s_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    mono = render_in_chunks(chains(), FRAMES, 128, 128)
    assert np.abs(mono).max() > 0.05
    monkeypatch.setattr(Processor, "DUAL_MONO", False)
    for cls in Processor.__subclasses__():
        for sub in [cls, *cls.__subclasses__()]:
            if "DUAL_MONO" in vars(sub):
                monkeypatch.setattr(sub, "DUAL_MONO", False)
    stereo = render_in_chunks(chains(), FRAMES, 128, 128)
    np.testing.assert_array_equal(mono, stereo)


def test_the_mono_path_is_block_size_invariant() -> None:
    assert_block_size_invariant(chains(), 24000)


def test_a_centred_chain_runs_its_mono_kernels() -> None:
    renderer = Renderer(SR, 128)
    for sample, message in chains()[:11]:
        renderer.schedule(sample, message)
    renderer.schedule(0, m("/note/bass", 40, 100))
    out = np.zeros((128, 2), dtype=np.float32)
    renderer.render(out, 128)
    calls = {"mono": 0, "stereo": 0}
    for module_id in ("d", "f"):
        module = renderer.graph.modules[module_id]
        for kind, name in (("mono", "process_mono"), ("stereo", "process_stereo")):
            real = getattr(module, name)

            def spy(*args: object, _real: object = real, _kind: str = kind) -> None:
                calls[_kind] += 1
                _real(*args)  # type: ignore[operator]

            setattr(module, name, spy)
    for _ in range(20):
        renderer.render(out, 128)
    assert calls == {"mono": 40, "stereo": 0}
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
