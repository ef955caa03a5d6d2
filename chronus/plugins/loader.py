"""User modules: Python modules named in `CHRONUS_MODULES`, imported in every engine process.

Each named module (an importable dotted name, e.g. `mystudio.filters`) registers its classes
with `chronus.dsp.catalog.register` when imported. The supervisor imports them to validate
commands and the process template (or a spawned slot worker) before it warms up, so all
processes know the same module types. A user module runs inline in the slots, under the same
guards as the built-in ones: an exception bypasses it for the block, repeated exceptions and
crashes quarantine it.
"""

from __future__ import annotations

import importlib
import os

__all__ = ["MODULES_ENV", "load_user_modules"]

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
