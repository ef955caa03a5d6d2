"""Idle is free: a module with nothing to do is skipped, and skipping it changes no sample.

A quiet module (no sounding voice, a silent input and state, smoothing arrived) is not
rendered until something reaches it. The same song rendered with skipping and with every
module rendered every block must give the same samples, in any block size, and across a
hand-over.
"""

from __future__ import annotations

import numpy as np
import pytest

from chronus.dsp.graph import QUIET_EVERY
from chronus.dsp.module import Module
from chronus.dsp.render import Renderer
from chronus.protocol import Message, validate
from tests.dsp.chunks import assert_block_size_invariant, render_in_chunks, rendered

SR = 48000


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def sparse_song() -> list[tuple[int, Message]]:
    """Sounds with long silences between them, so that modules fall asleep and are woken by
    notes, parameter changes while asleep, routes, mute and solo, and fed inputs."""
    cmds = [
        (0, m("/patch/create", "bass", "saw")),
        (0, m("/patch/create", "d", "distortion")),
        (0, m("/patch/create", "f", "acid")),
        (0, m("/patch/create", "lp", "lowpass")),
        (0, m("/patch/create", "k", "kick")),
        (0, m("/patch/create", "h", "hat")),
        (0, m("/patch/create", "s", "snare")),
        (0, m("/patch/create", "pad", "sine")),
        (0, m("/patch/connect", "bass", "d")),
        (0, m("/patch/connect", "d", "f")),
        (0, m("/patch/connect", "f", "master")),
        (0, m("/patch/connect", "k", "master")),
        (0, m("/patch/connect", "h", "lp")),
        (0, m("/patch/connect", "s", "lp")),
        (0, m("/patch/connect", "lp", "master")),
        (0, m("/patch/connect", "pad", "master")),
        (0, m("/mod/bass/release", 0.01)),
        (0, m("/mod/pad/release", 0.02)),
    ]
    t = 100
    for j in range(6):
        cmds += [
            (t + 7, m("/note/bass", 36 + 5 * j, 100, 0.01)),
            (t + 501, m("/note/k", 60, 110)),
            (t + 900, m("/note/h", 60, 90)),
            (t + 1333, m("/note/s", 60, 100)),
            (t + 1700, m("/note/pad", 60 + j, 80, 0.005)),
            (t + 9000, m("/mod/f/cutoff", 300 + 200 * j)),  # while asleep: smooths later
            (t + 9100, m("/mod/bass/cutoff", 800 + 100 * j)),
        ]
        t += 24000
    cmds += [
        (30000, m("/mod/pad/volume", -12)),
        (55000, m("/mod/k/mute", 1)),
        (70000, m("/mod/k/mute", 0)),
        (80000, m("/mod/pad/solo", 1)),
        (100000, m("/mod/pad/solo", 0)),
        (110000, m("/patch/disconnect", "h", "lp")),
        (110001, m("/patch/connect", "h", "master")),
        (130000, m("/tempo", 140)),
    ]
    return cmds


FRAMES = 150000


def _never_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every module renders every block from now on, as before idle modules were skipped."""
    for cls in [Module, *_subclasses(Module)]:
        if "quiet" in vars(cls):
            monkeypatch.setattr(cls, "quiet", lambda self: False)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_skipping_quiet_modules_changes_no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    skipping = render_in_chunks(sparse_song(), FRAMES, 128, 128)
    assert np.abs(skipping).max() > 0.05
    _never_quiet(monkeypatch)
    everything = render_in_chunks(sparse_song(), FRAMES, 128, 128)
    np.testing.assert_array_equal(skipping, everything)


def test_skipping_is_block_size_invariant() -> None:
    assert_block_size_invariant(sparse_song()[:40], 60000)


def _count_renders(renderer: Renderer) -> dict[str, int]:
    """Wrap every module's render methods (stereo, or dual-mono) to count their calls."""
    calls: dict[str, int] = {}
    for module_id, module in renderer.graph.modules.items():
        calls[module_id] = 0
        names = ("process_stereo", "process_mono") if hasattr(module, "DUAL_MONO") else ()
        for name in names or ("process",):
            real = getattr(module, name)

            def spy(*args: object, _real: object = real, _id: str = module_id) -> None:
                calls[_id] += 1
                _real(*args)  # type: ignore[operator]

            setattr(module, name, spy)
    return calls


def test_quiet_modules_are_not_rendered() -> None:
    cmds = [
        (0, m("/patch/create", "bass", "saw")),
        (0, m("/patch/create", "d", "distortion")),
        (0, m("/patch/create", "f", "acid")),
        (0, m("/patch/create", "k", "kick")),
        (0, m("/patch/create", "idle", "square")),
        (0, m("/patch/connect", "bass", "d")),
        (0, m("/patch/connect", "d", "f")),
        (0, m("/patch/connect", "f", "master")),
        (0, m("/patch/connect", "k", "master")),
        (0, m("/mod/bass/release", 0.01)),
        (300, m("/note/bass", 40, 100, 0.01)),
        (300, m("/note/k", 60, 100)),
    ]
    renderer = rendered(cmds, 1, 128)
    calls = _count_renders(renderer)
    out = np.zeros((128, 2), dtype=np.float32)
    nodes = renderer.graph._routing.order
    for _ in range(2000):
        renderer.render(out, 128)
        if all(node.asleep for node in nodes):
            break
    assert all(node.asleep for node in nodes), [n.module_id for n in nodes if not n.asleep]
    assert calls["idle"] <= 1  # never played: asleep after its first block
    assert calls["bass"] > 10 and calls["f"] > 10
    asleep = dict(calls)
    for _ in range(50):
        renderer.render(out, 128)
    assert not out.any()
    assert calls == asleep, "quiet modules were rendered"
    renderer.schedule(renderer.position + 5, m("/note/bass", 40, 100, 0.01))
    renderer.render(out, 128)
    # The block splits at the note: before it all sleep; after it the saw plays, the note
    # wakes the filter (its envelope) and the distortion wakes because it is fed.
    assert calls["bass"] == asleep["bass"] + 1
    assert calls["d"] == asleep["d"] + 1
    assert calls["f"] == asleep["f"] + 1
    assert calls["k"] == asleep["k"] and calls["idle"] == asleep["idle"]
    assert out.any()


def test_delay_and_reverb_sleep_once_their_lines_are_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cmds = [
        (0, m("/patch/create", "pluck", "square")),
        (0, m("/patch/create", "echo", "delay")),
        (0, m("/patch/create", "room", "reverb")),
        (0, m("/patch/connect", "pluck", "echo")),
        (0, m("/patch/connect", "echo", "room")),
        (0, m("/patch/connect", "room", "master")),
        (0, m("/mod/echo/time", 40)),
        (0, m("/mod/echo/feedback", 0.3)),
        (0, m("/mod/pluck/release", 0.01)),
        (100, m("/note/pluck", 64, 110, 0.02)),
        (300000, m("/note/pluck", 67, 110, 0.02)),  # after the sleep: wakes them again
    ]
    frames = 2580 * 128
    renderer = Renderer(SR, 128)
    for sample, message in cmds:
        renderer.schedule(sample, message)
    slept = np.zeros((frames, 2), dtype=np.float32)
    asleep_at: dict[str, int] = {}
    for start in range(0, frames, 128):
        renderer.render(slept[start : start + 128], 128)
        for node in renderer.graph._routing.order:
            if node.asleep and node.module_id not in asleep_at:
                asleep_at[node.module_id] = start
    assert asleep_at.keys() == {"pluck", "echo", "room"}
    assert max(asleep_at.values()) < 300000
    assert np.abs(slept[300000:]).max() > 0.01  # and they wake for the next note
    _never_quiet(monkeypatch)
    everything = render_in_chunks(cmds, frames, 128, 128)
    np.testing.assert_array_equal(slept, everything)


def test_a_new_delay_or_reverb_sleeps_at_its_first_ask() -> None:
    """A patch built of many delays and reverbs costs nothing once built: their lines are
    silent when made, looked at on the first ask, not after `LINE_CHECK_BLOCKS` asks."""
    renderer = Renderer(SR, 128)
    for i in range(8):
        renderer.schedule(0, m("/patch/create", f"d{i}", "delay"))
        renderer.schedule(0, m("/patch/create", f"r{i}", "reverb"))
    out = np.zeros((128, 2), dtype=np.float32)
    for _ in range(2 * QUIET_EVERY):
        renderer.render(out, 128)
    awake = [node.module_id for node in renderer.graph._routing.order if not node.asleep]
    assert awake == []
