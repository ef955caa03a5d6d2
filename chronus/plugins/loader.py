"""User modules: Python modules named in `CHRONUS_MODULES`, imported in every engine process.

Each named module (an importable dotted name, e.g. `mystudio.filters`) registers its classes
with `chronus.dsp.catalog.register` when imported. The supervisor imports them to validate
commands and the process template (or a spawned slot worker) before it warms up, so all
processes know the same module types. A user module runs inline in the slots, under the same
guard as the built-in ones (`chronus.dsp.guard`): an exception bypasses it for the block,
repeated errors suspend it, a crash or a hang quarantines it.
"""

from __future__ import annotations

import importlib
import inspect
import os

from chronus.plugins.registry import PluginRegistry, PluginState

__all__ = ["MODULES_ENV", "adopt_user_modules", "load_user_modules"]

MODULES_ENV = "CHRONUS_MODULES"


def load_user_modules() -> list[str]:
    """Import every module named in `CHRONUS_MODULES` (comma-separated); their names.

    Raises `ImportError` naming the module that failed.
    """
    names = [name.strip() for name in os.environ.get(MODULES_ENV, "").split(",") if name.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ImportError(f"{MODULES_ENV}: cannot import {name!r}: {exc}") from exc
    return names


def adopt_user_modules(registry: PluginRegistry, names: list[str]) -> None:
    """Enter in `registry`, as active, the module types that `load_user_modules` registered.

    They were imported as they are, not validated: their transitions say so (reason
    `chronus_modules`). Without names, nothing is imported.
    """
    if not names:
        return
    from chronus.dsp.catalog import MODULE_TYPES
    from chronus.dsp.specs import BUILT_IN_TYPES  # imported by them already

    detail = f"named in {MODULES_ENV}: imported at start, not validated"
    for name, cls in MODULE_TYPES.items():
        if name in BUILT_IN_TYPES or registry.state(name) is not None:
            continue
        registry.discover(name, inspect.getsourcefile(cls) or cls.__module__, "chronus_modules")
        for state in (PluginState.VALIDATING, PluginState.READY, PluginState.ACTIVE):
            registry.transition(name, state, "chronus_modules", detail)
