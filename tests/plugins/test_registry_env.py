"""Modules named in CHRONUS_MODULES show in the registry as active, reason `env`."""

from __future__ import annotations

from chronus.engine.plugin_loads import load_from_env
from chronus.plugins.registry import PluginRegistry, PluginState


def test_env_modules_are_active_with_reason_env() -> None:
    registry = PluginRegistry()
    load_from_env(registry, ["fold", "crush"], {"fold": "/x/fold.py"})
    assert registry.names() == ["fold", "crush"]
    fold = registry.health("fold")
    assert fold["state"] == "active" and fold["path"] == "/x/fold.py"
    assert {t["reason"] for t in fold["transitions"]} == {"env"}
    assert registry.state("crush") is PluginState.ACTIVE
    assert registry.health("crush")["restarts"] == 0
