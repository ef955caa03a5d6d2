"""The registry: allowed transitions only, timestamps and reasons kept, uptime, restarts."""

from __future__ import annotations

import threading

import pytest

from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_plugin_goes_from_discovered_to_active_with_each_step_stamped() -> None:
    clock = Clock()
    reg = PluginRegistry(clock)
    reg.discover("fold", "/x/fold.py")
    for state in (PluginState.VALIDATING, PluginState.READY, PluginState.ACTIVE):
        clock.now += 1
        reg.transition("fold", state, "test")
    clock.now += 5
    health = reg.health("fold")
    assert health["state"] == "active"
    assert [t["state"] for t in health["transitions"]] == [
        "discovered", "validating", "ready", "active",
    ]  # fmt: skip
    assert [t["at"] for t in health["transitions"]] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert health["uptime_seconds"] == 5.0
    assert health["restarts"] == 0


def test_a_transition_not_allowed_raises_and_changes_nothing() -> None:
    reg = PluginRegistry(Clock())
    reg.discover("fold", "/x/fold.py")
    with pytest.raises(ValueError, match="cannot become active"):
        reg.transition("fold", PluginState.ACTIVE, "test")
    assert reg.state("fold") is PluginState.DISCOVERED
    with pytest.raises(KeyError):
        reg.transition("nothing", PluginState.VALIDATING, "test")


def test_coming_back_from_suspension_counts_a_restart_and_resets_uptime() -> None:
    clock = Clock()
    reg = PluginRegistry(clock)
    reg.discover("fold", "/x/fold.py")
    for state in (PluginState.VALIDATING, PluginState.READY, PluginState.ACTIVE):
        reg.transition("fold", state, "test")
    clock.now += 10
    reg.transition("fold", PluginState.SUSPENDED, "errors", "20 blocks in a row")
    assert reg.health("fold")["uptime_seconds"] == 0.0
    for state in (PluginState.VALIDATING, PluginState.READY, PluginState.ACTIVE):
        reg.transition("fold", state, "reload")
    clock.now += 2
    health = reg.health("fold")
    assert health["restarts"] == 1
    assert health["uptime_seconds"] == 2.0
    assert health["transitions"][4]["detail"] == "20 blocks in a row"


def test_a_failed_validation_is_kept_with_its_version() -> None:
    reg = PluginRegistry(Clock())
    reg.discover("fold", "/x/fold.py")
    reg.transition("fold", PluginState.VALIDATING, "load")
    result = ValidationResult(False, "timeout", "no answer in 2 s", 2.0)
    reg.set_validation("fold", result, "abcdef012345")
    reg.transition("fold", PluginState.FAILED, "validation", result.error_message)
    listed = reg.listing()
    assert listed[0]["validation"]["error_type"] == "timeout"
    assert listed[0]["version"] == "abcdef012345"
    assert "transitions" not in listed[0]


def test_an_ok_result_cannot_carry_an_error_and_error_types_are_known() -> None:
    with pytest.raises(ValueError):
        ValidationResult(True, "timeout")
    with pytest.raises(ValueError):
        ValidationResult(False, "it broke")


def test_many_threads_moving_and_reading_leave_a_consistent_history() -> None:
    reg = PluginRegistry()
    for i in range(8):
        reg.discover(f"p{i}", f"/x/p{i}.py")

    def cycle(name: str) -> None:
        for _ in range(200):
            reg.transition(name, PluginState.VALIDATING, "load")
            reg.transition(name, PluginState.FAILED, "validation")
            reg.listing()

    threads = [threading.Thread(target=cycle, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(8):
        history = reg.health(f"p{i}")["transitions"]
        assert len(history) == 401
        assert history[-1]["state"] == "failed"


def test_a_new_supervisor_goes_on_from_the_exported_records() -> None:
    clock = Clock()
    old = PluginRegistry(clock)
    for name in ("fold", "crush", "wobble"):
        old.discover(name, f"/x/{name}.py")
        old.transition(name, PluginState.VALIDATING, "validation")
    for name in ("fold", "crush"):
        old.transition(name, PluginState.READY, "validated")
    old.transition("fold", PluginState.ACTIVE, "loaded")
    old.set_validation("fold", ValidationResult(ok=True, duration=0.5), "abc123")
    old.set_pending("fold", "def456")
    records = old.export()
    records[0].transitions.clear()  # a copy: the exporter's records stay as they were
    assert len(old.health("fold")["transitions"]) == 4
    records = old.export()
    clock.now += 10
    new = PluginRegistry(clock)
    new.adopt(records, "its supervisor died")
    fold = new.health("fold")
    assert fold["state"] == "active" and fold["version"] == "abc123"
    assert fold["transitions"] == old.health("fold")["transitions"]
    assert fold["validation"]["ok"] is True
    assert fold["pending"] == "", "the new version it was validating died with it"
    for name in ("crush", "wobble"):  # a load under way (ready, validating) died with it
        last = new.health(name)["transitions"][-1]
        assert (last["state"], last["reason"], last["detail"]) == (
            "failed", "supervisor_died", "its supervisor died",
        )  # fmt: skip
    assert new.names() == ["fold", "crush", "wobble"]
