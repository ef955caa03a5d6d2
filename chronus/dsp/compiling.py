"""How far the first compile of the DSP kernels has gone.

Numba compiles a kernel on its first call, or loads it from its on-disk cache (`cache=True`).
On a first run (or after a kernel's source changed) nothing is cached and every kernel
compiles, which takes seconds. `watch_compiles` counts those compiles as numba starts them
(loads from the cache are not counted) and reports each, so the process warming up can tell
the musician why the engine is not ready yet.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from numba.core import event
from numba.core.registry import CPUDispatcher

__all__ = [
    "SHARES",
    "CompileWatch",
    "cache_is_cold",
    "compile_in_two",
    "kernel_count",
    "watch_compiles",
]

_WAIT_S = 0.1
"""How often the process done with its share looks at its helper's count while it waits."""

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


_HELPER = struct.Struct("q40s")
"""What a forked helper shares with the watching process: its compiles, its last kernel."""


class CompileWatch(event.Listener):
    """Calls `report` as each compile starts; `compiled` counts them.

    A process forked to compile a share (`compile_in_two`) inherits the watch; it reports
    nothing itself (two processes writing one progress line interleave their counts) but
    counts into memory shared with this process, whose reports then add its compiles to
    their own: one display, counting up.
    """

    def __init__(self, report: Report, total: int) -> None:
        self.report = report
        self.total = total
        self.own = 0
        self._helping = False
        self._shared = mmap.mmap(-1, _HELPER.size)
        self._helper_seen = 0

    @property
    def compiled(self) -> int:
        """Compiles so far, a forked helper's included."""
        return self.own + self._helper()[0]

    def _helper(self) -> tuple[int, str]:
        count, name = _HELPER.unpack_from(self._shared)
        return int(count), bytes(name).rstrip(b"\0").decode(errors="replace")

    def become_helper(self) -> None:
        """In a forked process: count into the shared memory from now on, report nothing."""
        self._helping = True
        self.own = 0

    def on_start(self, ev: event.Event) -> None:
        """A compile begins."""
        self.own += 1
        dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        name = getattr(getattr(dispatcher, "py_func", None), "__name__", "?")
        if self._helping:
            _HELPER.pack_into(self._shared, 0, self.own, name.encode()[: _HELPER.size - 8])
            return
        self._tell(name)

    def poll(self) -> None:
        """Report the helper's compiles made since the last report (while this process,
        done with its share, waits for it)."""
        count, name = self._helper()
        if count != self._helper_seen:
            self._tell(name)

    def _tell(self, name: str) -> None:
        self._helper_seen = self._helper()[0]
        done = self.own + self._helper_seen
        self.report(done, max(self.total, done), name)

    def on_end(self, ev: event.Event) -> None:
        """A compile ended (nothing to do)."""


@contextmanager
def watch_compiles(report: Report) -> Iterator[CompileWatch]:
    """Report every kernel compile (not cache load) made inside the `with` block."""
    watch = CompileWatch(report, kernel_count())
    with event.install_listener("numba:compile", watch):
        yield watch


SHARES = (
    ("saw", "sine", "square", "triangle", "noise", "pink", "lowpass", "highpass", "bandpass",
     "acid"),
    ("kick", "snare", "hat", "distortion", "delay", "reverb", "lfo"),
)  # fmt: skip
"""The module types a first run compiles in two processes at once, about half the work each
(the synths' and filters' kernels, the drums' and effects'); each share starts with a source,
which feeds its processors in the warm-up."""


def cache_is_cold() -> bool:
    """Whether the biggest kernel has no on-disk cache younger than its source: a first run,
    or its code changed. (Numba's cache index; on any doubt, False.)"""
    from chronus.dsp import kernels

    biggest: Any = kernels.synth_block
    try:
        index = Path(biggest._cache._cache_file._index_path)
        source = Path(biggest.py_func.__code__.co_filename)
        return not index.exists() or index.stat().st_mtime < source.stat().st_mtime
    except (AttributeError, OSError):
        return False


def compile_in_two(rate: int, block: int, watch: CompileWatch | None = None) -> bool:
    """On a cold cache, compile the kernels in two processes at once: a forked child warms
    up one share of the module types while this process warms up the other, so that the
    cache holds all of them about twice as soon (numba compiles in one thread). True if it
    did; the caller's own full warm-up then loads them from the cache. Call it only from a
    process with no other thread. With the `watch` of this process, the child's compiles
    are reported by this process alone, in its count."""
    from chronus.dsp.render import Renderer

    if not cache_is_cold() or (os.cpu_count() or 1) < 2:
        return False
    child = os.fork()
    if child == 0:
        code = 1
        try:
            if watch is not None:
                watch.become_helper()
            Renderer(rate, block).warm_up(SHARES[1])
            code = 0
        finally:
            os._exit(code)
    try:
        Renderer(rate, block).warm_up(SHARES[0])
        while os.waitpid(child, os.WNOHANG) == (0, 0):
            if watch is not None:
                watch.poll()
            time.sleep(_WAIT_S)
        if watch is not None:
            watch.poll()  # the helper's last compiles, made since the last look
    except BaseException:
        os.waitpid(child, 0)
        raise
    return True
