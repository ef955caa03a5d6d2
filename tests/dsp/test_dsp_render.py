"""The render path: sample accuracy, block-size invariance, determinism, guards, allocation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp import catalog, kernels
from chronus.dsp.crumbs import crumb_of
from chronus.dsp.graph import LIMITER_THRESHOLD, SUSPEND_AFTER_ERRORS
from chronus.dsp.module import Module, Processor
from chronus.dsp.params import ParamSpec
from chronus.dsp.render import Renderer, render_offline
from chronus.dsp.specs import TYPE_SPECS, mix_specs
from chronus.protocol import Message, validate
from tests.dsp.allocation import assert_allocates_nothing
from tests.dsp.chunks import (
    assert_block_size_invariant,
    assert_hand_over_bit_identical,
    rendered,
)

SR = 48000
TYPES = ("saw", "sine", "square", "triangle", "kick", "snare", "hat", "noise", "pink")


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def setup(module_id: str, module_type: str, at: int = 0) -> list[tuple[int, Message]]:
    return [
        (at, m("/patch/create", module_id, module_type)),
        (at, m("/patch/connect", module_id, "master")),
    ]


def song() -> list[tuple[int, Message]]:
    """Every module type, notes and parameter changes at awkward (mid-block) samples."""
    cmds: list[tuple[int, Message]] = []
    for i, module_type in enumerate(TYPES):
        mid = f"m{i}"
        cmds += setup(mid, module_type, at=3 * i)
        cmds += [
            (101 + 997 * j + 13 * i, m(f"/note/{mid}", 40 + 5 * j + i, 90, 0.05)) for j in range(10)
        ]
        cmds.append((5003 + i, m(f"/mod/{mid}/pan", -0.7 + 0.2 * i)))
    cmds += [
        (2222, m("/mod/m0/cutoff", 300)),
        (3001, m("/mod/m0/glide", 0.05)),
        (3002, m("/note/m0", 70, 120)),
        (3331, m("/mod/m1/detune", 30)),
        (4444, m("/mod/m2/volume", 6)),
        (6001, m("/gate/m0", 0)),
        (7777, m("/seq/stop")),
        (8000, m("/patch/disconnect", "m3", "master")),
        (9300, m("/patch/remove", "m5")),
        (9500, m("/panic")),
        (9600, m("/note/m4", 60, 127)),
    ]  # fmt: skip
    return cmds


FRAMES = 12000


def test_block_size_invariance() -> None:
    cmds = song()
    assert_block_size_invariant(cmds, FRAMES, SR)


def test_renders_are_bit_identical() -> None:
    a = render_offline(song(), FRAMES, block=128)
    b = render_offline(song(), FRAMES, block=128)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("module_type", TYPES)
def test_note_starts_on_its_exact_sample(module_type: str) -> None:
    for start in (1000, 1023, 1024, 1025):
        cmds = [*setup("x", module_type), (start, m("/note/x", 60, 100, 0.1))]
        out = render_offline(cmds, 2000, block=128)
        first = int(np.flatnonzero(np.any(out != 0.0, axis=1))[0])
        assert first == start, (module_type, start, first)


def test_equal_stamps_keep_arrival_order() -> None:
    renderer = Renderer(SR, 128)
    renderer.schedule(50, m("/patch/connect", "a", "master"))
    renderer.schedule(50, m("/patch/create", "a", "saw"))
    renderer.schedule(60, m("/patch/create", "b", "saw"))
    renderer.schedule(60, m("/patch/connect", "b", "master"))
    renderer.render(np.zeros((128, 2), dtype=np.float32), 128)
    assert renderer.error_count == 1
    assert "no module named 'a'" in renderer.errors[0]
    assert renderer.graph.patch.audible() == ["b"]


def test_late_commands_apply_now_and_are_counted() -> None:
    renderer = Renderer(SR, 128)
    out = np.zeros((128, 2), dtype=np.float32)
    for sample, msg in setup("x", "sine"):
        renderer.schedule(sample, msg)
    renderer.render(out, 128)
    renderer.schedule(10, m("/note/x", 60, 100))
    assert renderer.late_count == 1
    renderer.render(out, 128)
    assert out[0, 0] != 0.0
    assert renderer.position == 256


def test_bad_commands_never_raise() -> None:
    renderer = Renderer(SR, 64)
    renderer.schedule(5, m("/mod/ghost/cutoff", 100))
    renderer.schedule(6, Message("/engine/status", (), {}))
    renderer.render(np.zeros((64, 2), dtype=np.float32), 64)
    assert renderer.error_count == 2
    assert "ghost" in renderer.errors[0]


def test_state_hand_over_is_bit_identical() -> None:
    a = rendered(song(), 30, 128)
    assert a.pending > 0, "the hand-over must carry commands not yet applied"
    assert_hand_over_bit_identical(a, a.state())


class NaNModule(Module):
    """Outputs garbage, to exercise the guards."""

    TYPE = "nan_test"
    PARAMS = (ParamSpec("amp", 1.0, 0.0, 1.0), *mix_specs(0.0))

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self.calls = 0

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        self.calls += 1
        out[:n] = np.nan if self.calls % 2 else 0.25
        if self.calls == 4:
            raise RuntimeError("boom")


@pytest.fixture
def nan_module() -> Iterator[None]:
    catalog.register(NaNModule)
    yield
    del catalog.MODULE_TYPES["nan_test"]
    del TYPE_SPECS["nan_test"]


@pytest.mark.usefixtures("nan_module")
def test_nonfinite_and_failing_modules_are_contained() -> None:
    renderer = Renderer(SR, 64)
    for sample, msg in [*setup("bad", "nan_test"), *setup("ok", "sine")]:
        renderer.schedule(sample, msg)
    renderer.schedule(0, m("/note/ok", 60, 100))
    out = np.zeros((64, 2), dtype=np.float32)
    for _ in range(6):
        renderer.render(out, 64)
        assert np.all(np.isfinite(out))
    graph = renderer.graph
    assert graph.nonfinite_count == 3 * 64
    # Three blocks of NaN and one exception, each a module error; none in a row long enough
    # to suspend the module.
    assert graph.module_error_count == 4 and "non-finite" in graph.last_module_error
    assert graph.quarantined == [] and graph.suspended == []
    assert np.abs(out).max() > 0.0


class RaisingFilter(Processor):
    """A processor that always raises: the guard must bypass it for good, in state too."""

    TYPE = "raise_test"
    PARAMS = mix_specs(0.0)

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        raise RuntimeError("always")


def test_a_module_failing_block_after_block_is_suspended_and_passes_through() -> None:
    catalog.register(RaisingFilter)
    try:
        renderer = Renderer(SR, 64)
        for sample, msg in [*setup("src", "sine"), *setup("fx", "raise_test")]:
            renderer.schedule(sample, msg)
        renderer.schedule(0, m("/patch/disconnect", "src", "master"))
        renderer.schedule(0, m("/patch/connect", "src", "fx"))
        renderer.schedule(0, m("/note/src", 69, 100))
        out = np.zeros((64, 2), dtype=np.float32)
        for _ in range(SUSPEND_AFTER_ERRORS):
            renderer.render(out, 64)
        assert renderer.graph.suspended == ["fx"] and renderer.graph.quarantined == []
        for _ in range(20):
            renderer.render(out, 64)
        assert np.abs(out).max() > 0.05, "a suspended processor passes its input through"
        clone = Renderer(SR, 64)
        clone.load_state(renderer.state())
        assert clone.graph.suspended == ["fx"] and clone.graph.quarantined == []
    finally:
        del catalog.MODULE_TYPES["raise_test"]
        del TYPE_SPECS["raise_test"]
        catalog.PROCESSOR_TYPES.discard("raise_test")


def test_a_module_quarantined_before_it_is_made_is_bypassed_from_its_creation() -> None:
    """The peer slot died in a module made in the same block: the survivor is told before
    the block's commands have made it, and must still never run it."""
    catalog.register(RaisingFilter)
    try:
        renderer = Renderer(SR, 64)
        for sample, msg in setup("src", "sine"):
            renderer.schedule(sample, msg)
        renderer.schedule(0, m("/note/src", 69, 100))
        out = np.zeros((64, 2), dtype=np.float32)
        renderer.render(out, 64)
        assert renderer.graph.quarantine(crumb_of("fx")) is None  # not made yet
        renderer.schedule(64, m("/patch/create", "fx", "raise_test"))
        renderer.schedule(64, m("/patch/disconnect", "src", "master"))
        renderer.schedule(64, m("/patch/connect", "src", "fx"))
        renderer.schedule(64, m("/patch/connect", "fx", "master"))
        for _ in range(8):
            renderer.render(out, 64)
        assert renderer.graph.quarantined == ["fx"]
        assert renderer.graph.module_error_count == 0, "it never ran"
        assert np.abs(out).max() > 0.05, "it passes its input through"
    finally:
        del catalog.MODULE_TYPES["raise_test"]
        del TYPE_SPECS["raise_test"]
        catalog.PROCESSOR_TYPES.discard("raise_test")


def test_master_guard_and_limiter_kernel() -> None:
    acc = np.array([[np.nan, 0.5], [np.inf, -np.inf], [4.0, -8.0], [0.1, 0.1]])
    out = np.zeros((4, 2), dtype=np.float32)
    limiter = np.ones(1)
    bad = kernels.master_block(acc, out, 0, 4, limiter, LIMITER_THRESHOLD, 0.01)
    assert bad == 3
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= LIMITER_THRESHOLD + 1e-7
    assert not acc.any()  # the bus is cleared for the next block


def test_limiter_never_exceeds_full_scale() -> None:
    cmds: list[tuple[int, Message]] = []
    for i in range(12):
        cmds += setup(f"s{i}", ("saw", "square", "kick")[i % 3])
        cmds += [(0, m(f"/mod/s{i}/volume", 12)), (0, m(f"/mod/s{i}/amp", 1))]
        cmds += [(0, m(f"/mod/s{i}/res", 1)), (17 * i, m(f"/note/s{i}", 30 + 3 * i, 127))]
        cmds += [(7000 + 100 * i, m(f"/note/s{i}", 40 + i, 127))]
    out = render_offline(cmds, 24000, block=256)
    peak = float(np.abs(out).max())
    assert LIMITER_THRESHOLD - 0.01 < peak <= 1.0


def test_render_allocates_nothing_after_warm_up() -> None:
    renderer = Renderer(SR, 128)
    renderer.warm_up()
    for i, module_type in enumerate(TYPES):
        for sample, msg in setup(f"m{i}", module_type):
            renderer.schedule(sample, msg)
        renderer.schedule(0, m(f"/note/m{i}", 48 + i, 100))
    out = np.zeros((128, 2), dtype=np.float32)
    assert_allocates_nothing(lambda: renderer.render(out, 128), times=500)


def test_a_long_batch_of_commands_reports_progress() -> None:
    """A slot beats its heart from `Renderer.progress`: a batch applied in one block must
    call it as it goes, so that the watchdog sees progress, not a hang."""
    from chronus.dsp.render import PROGRESS_EVERY

    renderer = Renderer(SR, 128)
    beats: list[int] = []
    renderer.progress = lambda: beats.append(renderer.pending)
    for i in range(10 * PROGRESS_EVERY):
        renderer.schedule(0, m("/patch/create", f"m{i}", "lowpass"))
    out = np.zeros((128, 2), dtype=np.float32)
    renderer.render(out, 128)
    assert len(beats) == 10
    assert beats == sorted(beats, reverse=True) and beats[-1] == 0  # during the batch
    assert renderer.max_apply_ns > 0 and renderer.slowest_command == "/patch/create"


class QuitsWhenMade(Processor):
    TYPE = "quits_test"
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        raise SystemExit("bye")


def test_module_code_calling_sys_exit_is_an_error_not_the_end_of_the_renderer() -> None:
    catalog.register(QuitsWhenMade)  # the conftest takes it out of the catalogue afterwards
    renderer = Renderer(SR, 64)
    for sample, msg in [*setup("src", "sine"), *setup("fx", "quits_test")]:
        renderer.schedule(sample, msg)
    renderer.schedule(0, m("/note/src", 69, 100))
    out = np.zeros((64, 2), dtype=np.float32)
    for _ in range(4):
        renderer.render(out, 64)
    assert renderer.error_count == 2  # its create and the commands that name it
    assert any("bye" in error for error in renderer.errors)
    assert np.abs(out).max() > 0.05, "the rest plays on"
