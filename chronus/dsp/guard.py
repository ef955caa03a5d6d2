"""The one door through which every module's `process` is called.

A module that raises, or whose output is not finite, is bypassed for that block and the
error is counted; `SUSPEND_AFTER_ERRORS` blocks in a row with an error suspend it. A module
the keeper blames for a crash or a hang is quarantined (`Graph.quarantine`). Either way it
stays bypassed (a source silent, a processor passing its input through) until it is
reloaded. Both slots render the same samples, so they make the same decisions.

Calls into plugin code may also be held to a time limit (`limit_time`): a CPU timer, started
by a render's first plugin call and stopped when the render ends (`settle`), raises
`ModuleOverran` inside the plugin call that runs when the render has used that much CPU, and
that module is suspended at once. An endless loop in a module's Python then costs a
few blocks instead of a slot killed as hung and restarted. CPU time, not wall time: a slot
preempted or stalled by the host uses none, so both slots decide alike. A loop inside compiled
code (numba, C) never sees the signal; the keeper's watchdog remains for those.

For modules of a user plugin type (not one of `specs.BUILT_IN_TYPES`), the guard also
counts, per type, the blocks processed without error, the errors, the suspensions and
quarantines, and the CPU time of each call, in a fixed table of int64 (`plugin_table`) that
a slot maps onto shared memory for the supervisor. Built-in modules pay nothing for it. The
last error's text is written into the table by `publish`, after the block, not while
rendering.

The raw `call_*` functions are for code that wants the exception (a warm-up, a validation
in the sandbox): no other code in `chronus/` calls a module's `process` (a contract test
holds it to that).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Module, Processor
from chronus.dsp.plugin_table import (
    CPU_WINDOW,
    ERROR_TEXT_BYTES,
    NAME_BYTES,
    PLUGIN_ROWS,
    PluginField,
    put_text,
)
from chronus.dsp.specs import BUILT_IN_TYPES
from chronus.dsp.strips import pass_through, zero_mono

if TYPE_CHECKING:
    from chronus.dsp.routing import Node

__all__ = [
    "MODULE_ERRORS",
    "SUSPEND_AFTER_ERRORS",
    "Guard",
    "ModuleOverran",
    "call_mono",
    "call_source",
    "call_stereo",
    "time_limit_s",
]

SUSPEND_AFTER_ERRORS: Final = 16
"""A module with an error in this many blocks in a row is suspended."""

FloatArray = npt.NDArray[np.float64]
perf_counter_ns = time.perf_counter_ns
setitimer = signal.setitimer
_CPU_TIMER = signal.ITIMER_PROF
"""Counts the process's CPU time (user and system), not the wall clock."""


class ModuleOverran(BaseException):
    """A module's call used more CPU than the guard's time limit (an endless loop, most
    likely). Not an `Exception`, so that a module's own `except Exception` cannot swallow it."""


MODULE_ERRORS = (Exception, SystemExit, ModuleOverran)
"""What module code may raise and the sound go on: `sys.exit` in plugin code included."""
MIN_TIME_LIMIT_S: Final = 0.02
"""The least CPU a plugin call may take before it is stopped: far beyond any honest block
(validation holds a module to a fraction of one), far below the keeper's hang timeout."""


def time_limit_s(rate: int, block: int) -> float:
    """The time limit for one call at `block` frames: four periods, at least
    `MIN_TIME_LIMIT_S`."""
    return max(MIN_TIME_LIMIT_S, 4.0 * block / rate)


_ROW = int(PluginField.SIZE)
_SUCCESS = int(PluginField.SUCCESS)
_ERRORS = int(PluginField.ERRORS)
_SUSPENDED = int(PluginField.SUSPENDED)
_QUARANTINED = int(PluginField.QUARANTINED)
_CPU_COUNT = int(PluginField.CPU_COUNT)
_CPU = int(PluginField.CPU)
_OVERRUNS = int(PluginField.OVERRUNS)


def call_source(module: Module, out: FloatArray, n: int) -> None:
    """Run a source's `process`, unguarded: exceptions propagate."""
    module.process(out, n)


def call_stereo(module: Processor, inp: FloatArray, out: FloatArray, n: int) -> None:
    """Run a processor's `process_stereo`, unguarded: exceptions propagate."""
    module.process_stereo(inp, out, n)


def call_mono(module: Processor, inp: FloatArray, out: FloatArray, n: int) -> None:
    """Run a dual-mono processor's `process_mono`, unguarded: exceptions propagate."""
    module.process_mono(inp, out, n)


class Guard:
    """The guard of one graph: its error counts, its suspended modules, its plugin table."""

    def __init__(self) -> None:
        self.error_count = 0
        self.last_error = ""
        self.suspended: list[str] = []
        """Ids of the modules suspended, in the order it happened."""
        self.table: npt.NDArray[np.int64] = np.zeros((PLUGIN_ROWS, PluginField.SIZE), np.int64)
        self._cells = self.table.reshape(-1).data
        """The table, flat, as Python ints: an item costs a tenth of a numpy scalar's."""
        self._rows: dict[str, int] = {}
        self._unpublished: list[BaseException | None] = [None] * PLUGIN_ROWS
        """Per row, the error not yet written into the table (`publish` does it)."""
        self.dirty = False
        self.limit_s = 0.0
        """The CPU a plugin call may take (0: no limit; see `limit_time`)."""

    def limit_time(self, seconds: float) -> bool:
        """Stop any plugin module's call that uses more than `seconds` of CPU, from now on.

        Installs the process's SIGPROF handler, so only from the main thread (where the
        render runs and where Python delivers signals); False (and no limit) elsewhere.
        """
        if threading.current_thread() is not threading.main_thread():
            return False
        signal.signal(signal.SIGPROF, _overran)
        self.limit_s = seconds
        return True

    def _enter(self) -> None:
        """A plugin call begins: the timer runs from the first of a render (one `setitimer`
        per render, not two per call) until `settle`."""
        if not _TIMER.armed:
            setitimer(_CPU_TIMER, self.limit_s)
            _TIMER.armed = True
        _TIMER.inside = True

    def settle(self) -> None:
        """The render is over: stop the timer if a plugin call started it."""
        if _TIMER.armed:
            setitimer(_CPU_TIMER, 0.0)
            _TIMER.armed = False

    def attach(self, table: npt.NDArray[np.int64]) -> None:
        """Keep the plugin table in `table` (shared memory) from now on, with what it holds."""
        table[:] = self.table
        self.table = table
        self._cells = table.reshape(-1).data

    def row_of(self, module_type: str) -> int:
        """Where a plugin type's row starts in the flat table (`node.plugin`; taken now if
        new); -1 for a built-in type, or when the table is full. Not for the render path (a
        new type allocates)."""
        row = self._rows.get(module_type)
        if row is None:
            if module_type in BUILT_IN_TYPES or len(self._rows) >= PLUGIN_ROWS:
                return -1
            row = len(self._rows)
            self._rows[module_type] = row
            put_text(self.table[row], PluginField.NAME, NAME_BYTES, module_type)
        return row * _ROW

    # -- the door ---------------------------------------------------------------------------

    def source(self, node: Node, module: Module, out: FloatArray, n: int) -> bool:
        """Render a source into `out[:n]`; False if it raised (the block is then skipped)."""
        if node.bypassed:
            zero_mono(out, n)
            return True
        at = node.plugin
        try:
            if at < 0:
                module.process(out, n)
                return True
            start = perf_counter_ns()
            if self.limit_s:
                self._enter()
            module.process(out, n)
            _TIMER.inside = False
            self._timed(at, perf_counter_ns() - start)
        except MODULE_ERRORS as exc:  # one bad module must not stop the sound
            _TIMER.inside = False
            self.failed(node, exc)
            return False
        return True

    def stereo(
        self, node: Node, module: Processor, inp: FloatArray, out: FloatArray, n: int
    ) -> bool:
        """Run a processor on stereo `inp`; a bypassed one, or one that raises, passes it
        through. False if it raised (the error is counted; its output is its input)."""
        if node.bypassed:
            pass_through(inp, out, n)
            return True
        at = node.plugin
        try:
            if at < 0:
                module.process_stereo(inp, out, n)
                return True
            start = perf_counter_ns()
            if self.limit_s:
                self._enter()
            module.process_stereo(inp, out, n)
            _TIMER.inside = False
            self._timed(at, perf_counter_ns() - start)
        except MODULE_ERRORS as exc:  # one bad module must not stop the sound
            _TIMER.inside = False
            self.failed(node, exc)
            pass_through(inp, out, n)  # bypassed for the block: what it was given goes on
            return False
        return True

    def mono(self, node: Node, module: Processor, inp: FloatArray, out: FloatArray, n: int) -> bool:
        """Run a dual-mono processor on mono `inp` (never a bypassed one: the graph sends
        those the stereo way); one that raises passes it through. False if it raised."""
        at = node.plugin
        try:
            if at < 0:
                module.process_mono(inp, out, n)
                return True
            start = perf_counter_ns()
            if self.limit_s:
                self._enter()
            module.process_mono(inp, out, n)
            _TIMER.inside = False
            self._timed(at, perf_counter_ns() - start)
        except MODULE_ERRORS as exc:  # one bad module must not stop the sound
            _TIMER.inside = False
            self.failed(node, exc)
            np.copyto(out[:n], inp[:n])  # bypassed for the block: what it was given goes on
            return False
        return True

    def _timed(self, at: int, ns: int) -> None:
        cells = self._cells
        count = cells[at + _CPU_COUNT]
        cells[at + _CPU + count % CPU_WINDOW] = ns
        cells[at + _CPU_COUNT] = count + 1

    # -- what the graph tells it ------------------------------------------------------------

    def passed(self, node: Node) -> None:
        """A plugin module's block went through without an error (its strip found its output
        finite): counted. The graph calls it for plugin modules only (`node.plugin >= 0`)."""
        if not node.bypassed:
            self._cells[node.plugin + _SUCCESS] += 1

    def failed(self, node: Node, exc: BaseException) -> None:
        """A module raised, or output non-finite samples: count it; suspend it after
        `SUSPEND_AFTER_ERRORS` blocks in a row, or at once if it overran its time."""
        self.error_count += 1
        self.last_error = f"{node.module_id} ({node.module.TYPE}): {exc!r}"
        node.errors += 1  # reset by a block that succeeds
        at = node.plugin
        overran = isinstance(exc, ModuleOverran)
        if at >= 0:
            self._cells[at + _ERRORS] += 1
            self._unpublished[at // _ROW] = exc
            self.dirty = True
            if overran and not node.suspended:
                self._cells[at + _OVERRUNS] += 1
        if overran:
            node.errors = max(node.errors, SUSPEND_AFTER_ERRORS)  # another call costs as much
        if node.errors >= SUSPEND_AFTER_ERRORS and not node.suspended:
            node.suspended = True
            node.bypassed = True
            self.suspended.append(node.module_id)
            if at >= 0:
                self._cells[at + _SUSPENDED] += 1

    def quarantined(self, node: Node) -> None:
        """The keeper blamed this module for a crash or a hang: bypass it for good."""
        node.quarantined = True
        node.bypassed = True
        if node.plugin >= 0:
            self._cells[node.plugin + _QUARANTINED] += 1

    def reinstate(self, node: Node) -> None:
        """Bypass a module no more, its errors in a row forgotten (see `Graph.reinstate`)."""
        node.errors = 0
        node.suspended = node.quarantined = node.bypassed = False
        if node.module_id in self.suspended:
            self.suspended.remove(node.module_id)

    def publish(self) -> None:
        """Write the plugin errors of the last blocks into the table (after the render: the
        text allocates)."""
        if not self.dirty:
            return
        self.dirty = False
        for row, exc in enumerate(self._unpublished):
            if exc is not None:
                self._unpublished[row] = None
                put_text(self.table[row], PluginField.LAST_ERROR, ERROR_TEXT_BYTES, repr(exc))
                self.table[row, PluginField.ERROR_SEQ] += 1


class _CpuTimer:
    """The process's one CPU timer: whether it runs, and whether a plugin call runs now."""

    armed = False
    inside = False


_TIMER = _CpuTimer()
_GUARD_CODES = frozenset(method.__code__ for method in (Guard.source, Guard.stereo, Guard.mono))


def _overran(signum: int, frame: FrameType | None) -> None:
    """SIGPROF: the render used up its time. Raised only inside a plugin call, the one that
    runs now: the guard's own frame (a call just returning) or the rest of the render (many
    honest modules, together too slow) let it go."""
    _TIMER.armed = False
    if not _TIMER.inside or (frame is not None and frame.f_code in _GUARD_CODES):
        return
    _TIMER.inside = False
    raise ModuleOverran(f"used more than its CPU limit in one call (signal {signum})")
