"""How far the first compile of the DSP kernels has gone.

Numba compiles a kernel on its first call, or loads it from its on-disk cache (`cache=True`).
On a first run (or after a kernel's source changed) nothing is cached and every kernel
compiles, which takes seconds. `watch_compiles` counts those compiles as numba starts them
(loads from the cache are not counted) and reports each, so the process warming up can tell
the musician why the engine is not ready yet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from numba.core import event
from numba.core.registry import CPUDispatcher

__all__ = ["CompileWatch", "kernel_count", "watch_compiles"]

Report = Callable[[int, int, str], None]
"""(kernels compiled so far, kernels in all, the name of the one starting)."""


def kernel_count(prefix: str = "chronus.") -> int:
    """The numba kernels defined in the imported modules whose names start with `prefix`."""
    count = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix):
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name:
                count += 1
    return count


class CompileWatch(event.Listener):
    """Calls `report` as each compile starts; `compiled` counts them."""

    def __init__(self, report: Report, total: int) -> None:
        self.report = report
        self.total = total
        self.compiled = 0

    def on_start(self, ev: event.Event) -> None:
        """A compile begins."""
        self.compiled += 1
        dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        name = getattr(getattr(dispatcher, "py_func", None), "__name__", "?")
        self.report(self.compiled, max(self.total, self.compiled), name)

    def on_end(self, ev: event.Event) -> None:
        """A compile ended (nothing to do)."""


@contextmanager
def watch_compiles(report: Report) -> Iterator[CompileWatch]:
    """Report every kernel compile (not cache load) made inside the `with` block."""
    watch = CompileWatch(report, kernel_count())
    with event.install_listener("numba:compile", watch):
        yield watch
