"""A new worker's claim on a seat's shared counters: its predecessor's plugin counts are gone
before its pid is there, so that the supervisor's plugin watch never reads them as its own."""

from __future__ import annotations

import os

import numpy as np

from chronus.dsp.guard import Guard
from chronus.dsp.plugin_table import PluginField, plugin_rows, put_text, read_rows
from chronus.engine.slot import claim_seat
from chronus.engine.stats import ProcessState, SlotField


class _Watching(Guard):
    """A guard that notes the pid the seat showed when its table was put in place."""

    def attach(self, table: np.ndarray) -> None:  # type: ignore[type-arg]
        self.pid_seen = int(self.seat[SlotField.PID])
        super().attach(table)


def test_the_predecessors_plugin_counts_are_gone_before_the_new_pid_shows() -> None:
    seat = np.zeros(SlotField.SIZE, dtype=np.int64)
    old_pid = os.getpid() + 1
    seat[SlotField.PID] = old_pid
    stale = plugin_rows(seat[SlotField.PLUGINS :])[0]
    put_text(stale, PluginField.NAME, 64, "warm")
    stale[PluginField.SUSPENDED] = 1  # the predecessor suspended the broken version
    stale[PluginField.ERRORS] = 16
    guard = _Watching()
    guard.seat = seat  # type: ignore[attr-defined]
    claim_seat(seat, guard)
    assert guard.pid_seen == old_pid  # the table went in while the seat still named the old
    assert int(seat[SlotField.PID]) == os.getpid()
    assert int(seat[SlotField.STATE]) == ProcessState.JOINING
    assert read_rows(plugin_rows(seat[SlotField.PLUGINS :])) == {}
    guard.row_of("warm")  # the new worker's own rows are written into the seat from now on
    assert list(read_rows(plugin_rows(seat[SlotField.PLUGINS :]))) == ["warm"]
