"""The supervisor's copy of what the slots measured of each user plugin, into the registry.

A few times a second it reads the guard's table (`chronus.dsp.plugin_table`) in each
running slot's shared counters: the active slot's counts become the plugin's metrics, and a
suspension or quarantine that any slot counted since it was last read moves the plugin to
`suspended` (reason `errors`, or `timeout` for a call stopped at the guard's CPU limit) or
`quarantined` (reason `crash`). Both slots render the same
blocks, so both count the same events, a few blocks apart at most: the first sighting moves
the plugin and the other finds it moved already; a slot that takes over after a crash
(which quarantines the module in the standby alone) is heard too. Were a plugin reloaded
between the two sightings of one event (within a read, 0.25 s), the second would move the
new version. A slot that becomes active counted only what it rendered itself (a worker that
joined late, little): the counts go on from where the last active left them. A new worker
puts its own (empty) table in its seat before its pid, so that no count of its
predecessor's is read as its own. Reading never runs plugin code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp.plugin_table import plugin_rows, read_rows
from chronus.engine.stats import SlotField
from chronus.plugins.registry import PluginRegistry, PluginState

__all__ = ["EVERY_S", "PluginWatch"]

EVERY_S = 0.25
"""How often the registry is brought up to date."""

_METRICS = ("last_error", "cpu_us_p50", "cpu_us_p99")
_COUNTS = ("success_count", "error_count")


class PluginWatch:
    """Brings the registry up to date with the slots' plugin tables (call `tick` often)."""

    def __init__(
        self,
        registry: PluginRegistry,
        every_s: float = EVERY_S,
        on_move: Callable[[str, str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.every_s = every_s
        self.on_move = on_move
        """Told `("plugin", one line)` when a plugin is suspended or quarantined."""
        self._due = 0.0
        self._seen: dict[tuple[int, str], tuple[int, int, int]] = {}
        """(slot pid, plugin) → the (suspended, quarantined) counts last read from it."""
        self._active_pid = 0
        self._reported: dict[str, tuple[int, int]] = {}
        """Per plugin, the counts (`_COUNTS`) last put in the registry."""
        self._base: dict[str, tuple[int, int]] = {}
        """Per plugin, what to add to the active slot's counts (see the module's doc)."""

    def tick(
        self, slots: Iterable[npt.NDArray[np.int64]], active: npt.NDArray[np.int64] | None
    ) -> None:
        """Read the slots' tables if it is time: `slots` are the running slots' counters,
        `active` the active one's (or None)."""
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.every_s
        self.update(slots, active)

    def update(
        self, slots: Iterable[npt.NDArray[np.int64]], active: npt.NDArray[np.int64] | None
    ) -> None:
        """Read the slots' tables now (see `tick`)."""
        known = set(self.registry.names())
        for values in slots:
            pid = int(values[SlotField.PID])
            rows = read_rows(plugin_rows(values[SlotField.PLUGINS :]))
            for name, row in rows.items():
                if name in known:
                    self._events(pid, name, row)
            if values is active:
                self._copy(pid, {name: row for name, row in rows.items() if name in known})

    def settle(self, slots: Iterable[npt.NDArray[np.int64]]) -> None:
        """Take the suspensions and quarantines the slots counted so far as seen, moving
        nothing: a supervisor that took the slots over goes on from a registry its dead
        predecessor had moved for them already."""
        for values in slots:
            pid = int(values[SlotField.PID])
            for name, row in read_rows(plugin_rows(values[SlotField.PLUGINS :])).items():
                self._seen[(pid, name)] = (row["suspended"], row["quarantined"], row["overruns"])

    def _copy(self, pid: int, rows: dict[str, dict[str, Any]]) -> None:
        """Put the active slot's figures in the registry; its counts go on from the last."""
        switched, self._active_pid = pid != self._active_pid, pid
        for name, row in rows.items():
            counts = (row["success_count"], row["error_count"])
            if switched:
                before = self._reported.get(name, (0, 0))
                self._base[name] = (max(0, before[0] - counts[0]), max(0, before[1] - counts[1]))
            base = self._base.get(name, (0, 0))
            total = (base[0] + counts[0], base[1] + counts[1])
            self._reported[name] = total
            figures = {key: row[key] for key in _METRICS}
            self.registry.update_metrics(
                name, success_count=total[0], error_count=total[1], **figures
            )

    def _events(self, pid: int, name: str, row: dict[str, Any]) -> None:
        counts = (row["suspended"], row["quarantined"], row["overruns"])
        suspended, quarantined, overruns = self._seen.get((pid, name), (0, 0, 0))
        self._seen[(pid, name)] = counts
        if counts[1] > quarantined:
            self._move(
                name, PluginState.QUARANTINED, "crash", "a module of it crashed or hung a slot"
            )
        elif counts[2] > overruns:
            self._move(
                name,
                PluginState.SUSPENDED,
                "timeout",
                f"a module of it ran past its CPU limit in one block: {row['last_error']}",
            )
        elif counts[0] > suspended:
            self._move(
                name,
                PluginState.SUSPENDED,
                "errors",
                f"a module of it failed block after block: {row['last_error']}",
            )

    def _move(self, name: str, state: PluginState, reason: str, detail: str) -> None:
        """Only an active plugin moves: one already suspended or quarantined stays so, and
        a version loaded since does not pay for the old one's events."""
        if self.registry.state(name) is PluginState.ACTIVE:
            self.registry.transition(name, state, reason, detail)
            if self.on_move is not None:
                self.on_move("plugin", f"plugin {name} {state.value}: {detail}")
