"""The counters' layout: the timing window sits where both field tables say, over no field."""

from __future__ import annotations

import numpy as np

from chronus.engine.stats import (
    TIMING_WINDOW,
    IoField,
    SlotField,
    recent_timings,
    record_timing,
    timing_percentiles,
)


def test_timings_fill_their_window_and_touch_no_other_field() -> None:
    for fields in (SlotField, IoField):
        values = np.zeros(int(fields.SIZE), dtype=np.int64)
        before_window = int(fields.TIMINGS)
        for n in range(TIMING_WINDOW):
            record_timing(values, fields.TIMING_COUNT, 1000 * (n + 1))
        assert values[fields.TIMING_COUNT] == TIMING_WINDOW
        window = values[before_window : before_window + TIMING_WINDOW]
        assert window.tolist() == [1000 * (n + 1) for n in range(TIMING_WINDOW)]
        others = np.delete(
            values, [int(fields.TIMING_COUNT), *range(before_window, before_window + TIMING_WINDOW)]
        )
        assert not others.any()
        assert recent_timings(values, fields.TIMING_COUNT, 2) == [
            1000 * TIMING_WINDOW,
            1000 * (TIMING_WINDOW - 1),
        ]
        assert timing_percentiles(values, fields.TIMING_COUNT)["max_us"] == TIMING_WINDOW


def test_heavy_and_held_renders_survive_timings() -> None:
    values = np.zeros(int(SlotField.SIZE), dtype=np.int64)
    values[SlotField.HEAVY_RENDERS] = 3
    values[SlotField.HELD_RENDERS] = 5
    for n in range(2 * TIMING_WINDOW):
        record_timing(values, SlotField.TIMING_COUNT, 7 + n)
    assert values[SlotField.HEAVY_RENDERS] == 3
    assert values[SlotField.HELD_RENDERS] == 5
