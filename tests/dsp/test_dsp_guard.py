"""The one door around every module's `process`: errors bypass a block, repeated errors
suspend, a crash quarantines, and plugin types (only they) are measured."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp import catalog
from chronus.dsp.crumbs import crumb_of
from chronus.dsp.guard import SUSPEND_AFTER_ERRORS, time_limit_s
from chronus.dsp.module import Module, Processor
from chronus.dsp.params import ParamSpec
from chronus.dsp.plugin_table import (
    CPU_WINDOW,
    PluginField,
    plugin_rows,
    row_cpu_us,
    row_error,
    row_name,
)
from chronus.dsp.render import Renderer
from chronus.dsp.specs import BUILT_IN_TYPES, TYPE_SPECS, mix_specs
from chronus.protocol import Message, validate
from tests.dsp.allocation import assert_allocates_nothing

SR, BLOCK = 48000, 64
MODES = {
    "pass": 0.0, "raise": 1.0, "nan": 2.0, "inf": 3.0, "exit": 4.0,
    "loop": 5.0, "swallow": 6.0, "slow": 7.0,
}  # fmt: skip
SLOW_S = 0.004
"""What the `slow` mode spins for, in CPU time: far above a block's budget, under the limit."""


def m(address: str, *args: object) -> Message:
    return validate(address, args)


class Glitch(Processor):
    """Passes its input through, or misbehaves as its `mode` says."""

    TYPE = "glitch_test"
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        *mix_specs(0.0),
        ParamSpec("mode", 0.0, 0.0, 7.0, "", 0.0, "0 pass … 7 slow: see `MODES`"),
    )

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        out[:n] = inp[:n]
        mode = self.param("mode")
        if mode == MODES["raise"]:
            raise RuntimeError("glitch raises as asked")
        if mode == MODES["exit"]:
            raise SystemExit(3)
        if mode == MODES["loop"]:
            while True:
                pass
        if mode == MODES["swallow"]:
            while True:
                try:
                    time.sleep(0)
                except Exception:  # a module that means well and catches everything
                    pass
        if mode == MODES["slow"]:
            until = time.process_time() + SLOW_S
            while time.process_time() < until:
                pass
        if mode == MODES["nan"]:
            out[:n] = np.nan
        elif mode == MODES["inf"]:
            out[n // 2, 0] = np.inf


class Hum(Module):
    """A plugin source: a constant, or an exception when `mode` is 1."""

    TYPE = "hum_test"
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        *mix_specs(0.0),
        ParamSpec("mode", 0.0, 0.0, 1.0, "", 0.0, "1: raise"),
    )

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        if self.param("mode") >= 0.5:
            raise ValueError("hum raises as asked")
        out[:n] = 0.25

    def quiet(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    for cls in (Glitch, Hum):
        catalog.register(cls)
    yield
    for name in ("glitch_test", "hum_test"):
        del catalog.MODULE_TYPES[name]
        del TYPE_SPECS[name]
    catalog.PROCESSOR_TYPES.discard("glitch_test")


def chain(renderer: Renderer, fx_mode: str = "pass") -> None:
    """A held sine through the glitch module into the master."""
    for msg in [
        m("/patch/create", "src", "sine"),
        m("/patch/create", "fx", "glitch_test"),
        m("/patch/connect", "src", "fx"),
        m("/patch/connect", "fx", "master"),
        m("/note/src", 69, 100),
        m("/mod/fx/mode", MODES[fx_mode]),
    ]:
        renderer.schedule(0, msg)


def blocks(renderer: Renderer, count: int) -> npt.NDArray[np.float32]:
    out = np.zeros((count * BLOCK, 2), dtype=np.float32)
    block = np.zeros((BLOCK, 2), dtype=np.float32)
    for i in range(count):
        renderer.render(block, BLOCK)
        out[i * BLOCK : (i + 1) * BLOCK] = block
    return out


def row(renderer: Renderer, name: str) -> npt.NDArray[np.int64]:
    table = renderer.graph.guard.table
    names = [row_name(table[i]) for i in range(len(table))]
    return table[names.index(name)]


def test_the_builtin_types_are_those_before_any_register() -> None:
    assert "saw" in BUILT_IN_TYPES and "lfo" in BUILT_IN_TYPES
    assert "glitch_test" not in BUILT_IN_TYPES and "glitch_test" in catalog.MODULE_TYPES


@pytest.mark.parametrize("mode", ["raise", "nan", "inf", "exit"])
def test_a_failing_block_is_bypassed_and_counted(mode: str) -> None:
    renderer = Renderer(SR, BLOCK)
    chain(renderer, mode)
    out = blocks(renderer, 3)
    graph = renderer.graph
    assert np.all(np.isfinite(out))
    assert graph.module_error_count == 3
    assert "fx (glitch_test)" in graph.last_module_error
    assert graph.suspended == [] and graph.quarantined == []
    fx = row(renderer, "glitch_test")
    assert fx[PluginField.ERRORS] == 3 and fx[PluginField.SUCCESS] == 0
    if mode in ("raise", "exit"):  # its input passed on: the block is the sine's, not silence
        clean = Renderer(SR, BLOCK)
        chain(clean, "pass")
        assert np.array_equal(out, blocks(clean, 3))


def test_suspended_after_errors_in_a_row_and_not_before() -> None:
    renderer = Renderer(SR, BLOCK)
    chain(renderer, "raise")
    blocks(renderer, SUSPEND_AFTER_ERRORS - 1)
    assert renderer.graph.suspended == []
    renderer.schedule(renderer.position, m("/mod/fx/mode", 0.0))  # one good block resets
    blocks(renderer, 1)
    renderer.schedule(renderer.position, m("/mod/fx/mode", 1.0))
    blocks(renderer, SUSPEND_AFTER_ERRORS - 1)
    assert renderer.graph.suspended == []
    blocks(renderer, 1)
    assert renderer.graph.suspended == ["fx"] and renderer.graph.quarantined == []
    assert renderer.graph.module_error_count == 2 * SUSPEND_AFTER_ERRORS - 1
    fx = row(renderer, "glitch_test")
    assert fx[PluginField.SUSPENDED] == 1 and fx[PluginField.QUARANTINED] == 0
    errors = int(fx[PluginField.ERRORS])
    blocks(renderer, 5)  # bypassed: no more errors, no successes counted
    assert fx[PluginField.ERRORS] == errors and renderer.graph.module_error_count == errors


def test_a_suspended_processor_passes_its_input_through_as_a_quarantined_one() -> None:
    """The bypass sounds the same whichever reason put it there."""
    suspended, quarantined = Renderer(SR, BLOCK), Renderer(SR, BLOCK)
    chain(suspended, "raise")
    chain(quarantined, "raise")
    blocks(quarantined, 1)
    quarantined.graph.quarantine(crumb_of("fx"))
    blocks(quarantined, SUSPEND_AFTER_ERRORS - 1)
    blocks(suspended, SUSPEND_AFTER_ERRORS)
    assert suspended.graph.suspended == ["fx"] and quarantined.graph.quarantined == ["fx"]
    a, b = blocks(suspended, 200), blocks(quarantined, 200)
    assert np.abs(a).max() > 0.05, "the sine goes on through the bypassed module"
    # The strip of a module that raised did not move meanwhile: once both have faded in,
    # the two bypasses give the same samples.
    np.testing.assert_array_equal(a[-10 * BLOCK :], b[-10 * BLOCK :])
    assert row(quarantined, "glitch_test")[PluginField.QUARANTINED] == 1


def test_a_failing_source_is_skipped_then_silent_once_suspended() -> None:
    renderer = Renderer(SR, BLOCK)
    for msg in [
        m("/patch/create", "hum", "hum_test"),
        m("/patch/connect", "hum", "master"),
    ]:
        renderer.schedule(0, msg)
    assert np.abs(blocks(renderer, 4)).max() > 0.1
    renderer.schedule(renderer.position, m("/mod/hum/mode", 1.0))
    blocks(renderer, SUSPEND_AFTER_ERRORS)
    assert renderer.graph.suspended == ["hum"]
    renderer.schedule(renderer.position, m("/mod/hum/mode", 0.0))
    assert np.abs(blocks(renderer, 40)[-BLOCK:]).max() == 0.0, "suspended until reloaded"
    hum = row(renderer, "hum_test")
    assert hum[PluginField.SUCCESS] == 4 and hum[PluginField.ERRORS] == SUSPEND_AFTER_ERRORS


def test_plugins_are_measured_and_builtins_are_not() -> None:
    renderer = Renderer(SR, BLOCK)
    chain(renderer)
    blocks(renderer, 10)
    graph = renderer.graph
    nodes = graph._nodes
    assert nodes["src"].plugin == -1 and nodes["fx"].plugin >= 0
    table = graph.guard.table
    assert [row_name(r) for r in table if row_name(r)] == ["glitch_test"]
    fx = row(renderer, "glitch_test")
    assert fx[PluginField.SUCCESS] == 10 and fx[PluginField.ERRORS] == 0
    assert fx[PluginField.CPU_COUNT] == 10
    p50, p99 = row_cpu_us(fx)
    assert 0.0 < p50 <= p99
    blocks(renderer, CPU_WINDOW)  # the window wraps: still percentiles of the last calls
    assert fx[PluginField.CPU_COUNT] == 10 + CPU_WINDOW and row_cpu_us(fx)[0] > 0.0


def test_the_last_error_text_is_published_after_the_block() -> None:
    renderer = Renderer(SR, BLOCK)
    chain(renderer, "raise")
    blocks(renderer, 1)
    guard = renderer.graph.guard
    fx = row(renderer, "glitch_test")
    assert fx[PluginField.ERROR_SEQ] == 0 and row_error(fx) == ""
    guard.publish()
    assert fx[PluginField.ERROR_SEQ] == 1
    assert row_error(fx) == "RuntimeError('glitch raises as asked')"
    guard.publish()  # nothing new: nothing written
    assert fx[PluginField.ERROR_SEQ] == 1


def test_the_table_can_move_into_shared_memory_with_what_it_holds() -> None:
    renderer = Renderer(SR, BLOCK)
    chain(renderer)
    blocks(renderer, 3)
    shared = np.zeros(renderer.graph.guard.table.size + 5, dtype=np.int64)
    renderer.graph.guard.attach(plugin_rows(shared))
    blocks(renderer, 2)
    assert row_name(plugin_rows(shared)[0]) == "glitch_test"
    assert plugin_rows(shared)[0][PluginField.SUCCESS] == 5


def test_a_hand_over_mid_streak_suspends_at_the_same_block() -> None:
    """Determinism: the errors in a row go with the state, so a slot that loads it decides
    as the one that saved it."""
    a = Renderer(SR, BLOCK)
    chain(a, "raise")
    blocks(a, SUSPEND_AFTER_ERRORS // 2)
    b = Renderer(SR, BLOCK)
    b.load_state(a.state())
    rest = SUSPEND_AFTER_ERRORS - SUSPEND_AFTER_ERRORS // 2
    blocks(a, rest - 1)
    blocks(b, rest - 1)
    assert a.graph.suspended == b.graph.suspended == []
    out_a, out_b = blocks(a, 8), blocks(b, 8)
    assert a.graph.suspended == b.graph.suspended == ["fx"]
    np.testing.assert_array_equal(out_a, out_b)


def test_the_guarded_render_of_a_plugin_allocates_nothing() -> None:
    """Timing, counting and time-limiting a plugin's calls costs no memory per block."""
    renderer = Renderer(SR, BLOCK)
    renderer.graph.guard.limit_time(time_limit_s(SR, BLOCK))
    chain(renderer)
    for msg in [m("/patch/create", "hum", "hum_test"), m("/patch/connect", "hum", "fx")]:
        renderer.schedule(0, msg)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    assert_allocates_nothing(lambda: renderer.render(out, BLOCK))
    assert row(renderer, "glitch_test")[PluginField.SUCCESS] > 1000
    assert row(renderer, "hum_test")[PluginField.CPU_COUNT] > 1000


def test_a_reinstated_module_plays_again_and_is_suspended_again_if_it_fails() -> None:
    """What a reload does once the new code is in: the bypass ends, the count starts over."""
    renderer = Renderer(SR, BLOCK)
    chain(renderer, "raise")
    blocks(renderer, SUSPEND_AFTER_ERRORS)
    graph = renderer.graph
    assert graph.suspended == ["fx"]
    assert graph.reinstate("src") is False, "not bypassed: nothing to do"
    renderer.schedule(renderer.position, m("/mod/fx/mode", 0.0))  # "fixed"
    blocks(renderer, 1)
    assert graph.reinstate("fx") is True
    assert graph.suspended == [] and not graph._nodes["fx"].bypassed
    before = int(row(renderer, "glitch_test")[PluginField.SUCCESS])
    blocks(renderer, 4)
    assert row(renderer, "glitch_test")[PluginField.SUCCESS] == before + 4
    renderer.schedule(renderer.position, m("/mod/fx/mode", 2.0))
    blocks(renderer, SUSPEND_AFTER_ERRORS)
    assert graph.suspended == ["fx"]
    assert row(renderer, "glitch_test")[PluginField.SUSPENDED] == 2
    blocks(renderer, 1)
    quarantined = Renderer(SR, BLOCK)
    chain(quarantined)
    blocks(quarantined, 1)
    quarantined.graph.quarantine(crumb_of("fx"))
    assert quarantined.graph.reinstate("fx") and quarantined.graph.quarantined == []


@pytest.mark.parametrize("mode", ["loop", "swallow"])
def test_a_module_that_never_returns_is_stopped_at_its_cpu_limit_and_suspended(mode: str) -> None:
    renderer = Renderer(SR, BLOCK)
    assert renderer.graph.guard.limit_time(0.02)
    chain(renderer, mode)
    began = time.process_time()
    out = blocks(renderer, 3)
    took = time.process_time() - began
    # The kernel checks CPU timers at its tick (4 ms at 250 Hz): a tick early at most. Late
    # is looser: a stall of this VM's host is charged to the process as CPU time (0.62 s
    # seen in CI), and the endless loop this guards against never ends at all.
    assert 0.015 <= took < 3.0, f"stopped once, at its limit: {took:.3f} s of CPU"
    assert renderer.graph.suspended == ["fx"], "suspended at its first overrun"
    fx = row(renderer, "glitch_test")
    assert fx[PluginField.OVERRUNS] == 1 and fx[PluginField.SUSPENDED] == 1
    renderer.graph.guard.publish()
    assert "CPU limit" in row_error(fx)
    clean = Renderer(SR, BLOCK)
    chain(clean, "pass")
    assert np.array_equal(out, blocks(clean, 3)), "its input passed on, from the first block"
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0), "no timer left armed"


def test_a_slow_module_under_the_limit_is_not_stopped() -> None:
    renderer = Renderer(SR, BLOCK)
    renderer.graph.guard.limit_time(0.02)
    chain(renderer, "slow")
    blocks(renderer, 4)
    assert renderer.graph.suspended == [] and renderer.graph.module_error_count == 0
    assert row(renderer, "glitch_test")[PluginField.SUCCESS] == 4
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_the_time_limit_is_four_periods_and_never_below_20_ms() -> None:
    assert time_limit_s(48000, 128) == 0.02
    assert time_limit_s(48000, 1024) == pytest.approx(4 * 1024 / 48000)


def test_the_limit_is_refused_off_the_main_thread() -> None:
    import threading

    answers: list[bool] = []
    guard = Renderer(SR, BLOCK).graph.guard
    thread = threading.Thread(target=lambda: answers.append(guard.limit_time(0.02)))
    thread.start()
    thread.join()
    assert answers == [False] and guard.limit_s == 0.0
