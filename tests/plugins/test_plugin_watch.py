"""The supervisor's copy of the slots' plugin tables into the registry (fake slot counters)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.plugin_table import PLUGIN_ROWS, PluginField, plugin_rows, put_text
from chronus.engine.plugin_watch import PluginWatch
from chronus.engine.stats import SlotField
from chronus.plugins.loader import adopt_user_modules
from chronus.plugins.registry import PluginRegistry, PluginState


def slot(pid: int) -> npt.NDArray[np.int64]:
    values = np.zeros(SlotField.SIZE, dtype=np.int64)
    values[SlotField.PID] = pid
    return values


def table(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return plugin_rows(values[SlotField.PLUGINS :])


def named(values: npt.NDArray[np.int64], row: int, name: str) -> npt.NDArray[np.int64]:
    r = table(values)[row]
    put_text(r, PluginField.NAME, 64, name)
    return r


def active_registry(*names: str) -> PluginRegistry:
    registry = PluginRegistry()
    for name in names:
        registry.discover(name, f"/x/{name}.py")
        for state in (PluginState.VALIDATING, PluginState.READY, PluginState.ACTIVE):
            registry.transition(name, state, "test")
    return registry


def test_the_table_fits_in_the_slot_counters() -> None:
    assert SlotField.PLUGINS + PLUGIN_ROWS * PluginField.SIZE == SlotField.TRANSPORT


def test_the_active_slots_counts_become_the_metrics() -> None:
    registry = active_registry("fold")
    a, b = slot(11), slot(12)
    ra, rb = named(a, 0, "fold"), named(b, 0, "fold")
    ra[PluginField.SUCCESS], ra[PluginField.ERRORS] = 500, 3
    rb[PluginField.SUCCESS] = 498
    ra[PluginField.CPU : PluginField.CPU + 4] = [10_000, 20_000, 30_000, 40_000]
    ra[PluginField.CPU_COUNT] = 4
    put_text(ra, PluginField.LAST_ERROR, 256, "RuntimeError('x')")
    named(a, 1, "stranger")[PluginField.SUCCESS] = 7  # not in the registry: ignored
    PluginWatch(registry).update([a, b], a)
    health = registry.health("fold")
    assert health["success_count"] == 500 and health["error_count"] == 3
    assert health["last_error"] == "RuntimeError('x')"
    assert health["cpu_us_p50"] == 25.0 and 39.0 < health["cpu_us_p99"] <= 40.0
    assert health["state"] == "active"
    assert registry.names() == ["fold"]


def test_a_suspension_in_any_slot_suspends_the_plugin_once() -> None:
    registry = active_registry("fold")
    a, b = slot(11), slot(12)
    ra, rb = named(a, 0, "fold"), named(b, 0, "fold")
    watch = PluginWatch(registry)
    watch.update([a, b], a)
    rb[PluginField.SUSPENDED] = 1  # the standby got there first
    put_text(rb, PluginField.LAST_ERROR, 256, "ValueError('bad')")
    watch.update([a, b], a)
    health = registry.health("fold")
    assert health["state"] == "suspended"
    last = health["transitions"][-1]
    assert last["reason"] == "errors" and "ValueError('bad')" in last["detail"]
    ra[PluginField.SUSPENDED] = 1  # the same event in the active slot: no second move
    watch.update([a, b], a)
    assert len(registry.health("fold")["transitions"]) == len(health["transitions"])
    registry.transition("fold", PluginState.ACTIVE, "reloaded")
    watch.update([a, b], a)  # nothing new since: it stays active
    assert registry.state("fold") is PluginState.ACTIVE
    ra[PluginField.SUSPENDED] = 2  # the new version fails too
    watch.update([a, b], a)
    assert registry.state("fold") is PluginState.SUSPENDED


def test_each_move_is_told_once_as_an_engine_event() -> None:
    registry = active_registry("fold")
    a, b = slot(11), slot(12)
    ra, rb = named(a, 0, "fold"), named(b, 0, "fold")
    told: list[tuple[str, str]] = []
    watch = PluginWatch(registry, on_move=lambda kind, text: told.append((kind, text)))
    watch.update([a, b], a)
    assert told == []
    put_text(ra, PluginField.LAST_ERROR, 256, "ValueError('bad')")
    ra[PluginField.SUSPENDED] = rb[PluginField.SUSPENDED] = 1  # both slots count the event
    watch.update([a, b], a)
    watch.update([a, b], a)
    assert len(told) == 1 and told[0][0] == "plugin"
    assert told[0][1].startswith("plugin fold suspended: ") and "ValueError('bad')" in told[0][1]


def test_a_quarantine_by_the_slot_that_took_over_quarantines_the_plugin() -> None:
    registry = active_registry("fold", "other")
    standby = slot(12)
    watch = PluginWatch(registry)
    named(standby, 1, "other")
    watch.update([standby], None)
    named(standby, 0, "fold")[PluginField.QUARANTINED] = 1
    watch.update([standby], standby)
    health = registry.health("fold")
    assert health["state"] == "quarantined"
    assert health["transitions"][-1]["reason"] == "crash"
    assert registry.state("other") is PluginState.ACTIVE


def test_a_new_slot_is_read_from_zero() -> None:
    """A slot that joins later counts only what it did itself: any event it counts is new."""
    registry = active_registry("fold")
    watch = PluginWatch(registry)
    a = slot(11)
    named(a, 0, "fold")
    watch.update([a], a)
    joiner = slot(13)
    named(joiner, 0, "fold")[PluginField.SUSPENDED] = 1
    watch.update([a, joiner], a)
    assert registry.state("fold") is PluginState.SUSPENDED


def test_tick_reads_a_few_times_a_second_not_every_call() -> None:
    registry = active_registry("fold")
    a = slot(11)
    r = named(a, 0, "fold")
    watch = PluginWatch(registry, every_s=60.0)
    r[PluginField.SUCCESS] = 1
    watch.tick([a], a)
    r[PluginField.SUCCESS] = 2
    watch.tick([a], a)
    assert registry.health("fold")["success_count"] == 1


@pytest.fixture
def faults_registered() -> Iterator[None]:
    """tests/faults.py imported afresh, so that it registers its types for this test (the
    conftest takes them out of the catalogue afterwards)."""
    sys.modules.pop("tests.faults", None)
    import tests.faults  # noqa: F401  (registers the fault_* types)

    yield
    sys.modules.pop("tests.faults", None)


@pytest.mark.usefixtures("faults_registered")
def test_user_modules_are_adopted_as_active_plugins() -> None:

    registry = PluginRegistry()
    adopt_user_modules(registry, ["tests.faults"])
    names = registry.names()
    assert "fault_raise" in names and "saw" not in names
    health = registry.health("fault_raise")
    assert health["state"] == "active" and health["path"].endswith("faults.py")
    assert {t["reason"] for t in health["transitions"]} == {"chronus_modules"}
    adopt_user_modules(registry, ["tests.faults"])  # again: nothing changes
    assert len(registry.health("fault_raise")["transitions"]) == 4
    empty = PluginRegistry()
    adopt_user_modules(empty, [])
    assert empty.names() == []


def test_the_counts_go_on_when_another_slot_becomes_active() -> None:
    """A worker that joined late counted little; the counts never go back."""
    registry = active_registry("fold")
    watch = PluginWatch(registry)
    first, joiner = slot(11), slot(13)
    named(first, 0, "fold")[PluginField.SUCCESS] = 500
    r = named(joiner, 0, "fold")
    r[PluginField.SUCCESS], r[PluginField.ERRORS] = 10, 1
    watch.update([first, joiner], first)
    assert registry.health("fold")["success_count"] == 500
    watch.update([joiner], joiner)  # the first died: the joiner plays
    health = registry.health("fold")
    assert health["success_count"] == 500 and health["error_count"] == 1
    r[PluginField.SUCCESS] = 30
    watch.update([joiner], joiner)
    assert registry.health("fold")["success_count"] == 520


def test_a_new_supervisor_moves_a_plugin_only_for_what_the_slots_count_after_it_took_over() -> None:
    registry = active_registry("fold")  # suspended, reloaded and active again before
    a = slot(11)
    ra = named(a, 0, "fold")
    ra[PluginField.SUSPENDED] = 1
    watch = PluginWatch(registry)
    watch.settle([a])
    watch.update([a], a)
    assert registry.state("fold") is PluginState.ACTIVE, "its old suspension was seen before"
    ra[PluginField.SUSPENDED] = 2
    watch.update([a], a)
    assert registry.state("fold") is PluginState.SUSPENDED
