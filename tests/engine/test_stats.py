"""The counters' layout: the timing window sits where both field tables say, over no field;
and the I/O's counters read between two callbacks."""

from __future__ import annotations

import numpy as np

from chronus.engine.stats import (
    HANDING_US_BITS,
    TIMING_WINDOW,
    IoField,
    SlotField,
    io_between_callbacks,
    recent_dsp_timings,
    recent_timings,
    record_render,
    record_timing,
    settled_io,
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


def test_a_slots_render_times_keep_beside_them_what_applying_commands_took() -> None:
    """The create limit and a commit's warm-up judge the patch, not a passing burst: the
    render times less their commands' part, newest first, over the wrapped window; the
    render times themselves (status) stay whole, and no other field is touched."""
    values = np.zeros(int(SlotField.SIZE), dtype=np.int64)
    for n in range(TIMING_WINDOW + 3):
        record_render(values, 1000 + n, 600 if n % 2 else 0)
    newest = TIMING_WINDOW + 2
    assert recent_timings(values, SlotField.TIMING_COUNT, 2) == [1000 + newest, 999 + newest]
    assert recent_dsp_timings(values, 2) == [1000 + newest, 999 + newest - 600]
    assert len(recent_dsp_timings(values, 5 * TIMING_WINDOW)) == TIMING_WINDOW
    window = range(int(SlotField.APPLY_TIMINGS), int(SlotField.APPLY_TIMINGS) + TIMING_WINDOW)
    timings = range(int(SlotField.TIMINGS), int(SlotField.TIMINGS) + TIMING_WINDOW)
    others = np.delete(values, [int(SlotField.TIMING_COUNT), *timings, *window])
    assert not others.any()
    assert int(SlotField.APPLY_TIMINGS) + TIMING_WINDOW <= int(SlotField.SIZE)


def test_heavy_and_held_renders_survive_timings() -> None:
    values = np.zeros(int(SlotField.SIZE), dtype=np.int64)
    values[SlotField.HEAVY_RENDERS] = 3
    values[SlotField.HELD_RENDERS] = 5
    for n in range(2 * TIMING_WINDOW):
        record_timing(values, SlotField.TIMING_COUNT, 7 + n)
    assert values[SlotField.HEAVY_RENDERS] == 3
    assert values[SlotField.HELD_RENDERS] == 5


def test_a_callback_under_way_makes_no_reading_and_one_never_ended_is_not_waited_for() -> None:
    values = np.zeros(int(IoField.SIZE), dtype=np.int64)
    reading = io_between_callbacks(values)
    assert reading is not None and not reading.any()  # no callback has begun yet
    values[IoField.CONSUMED] = 5
    values[IoField.SOUNDING_BLOCKS] = 5
    values[IoField.HANDING] = 4 << HANDING_US_BITS | 123  # block 4 handed over, done
    reading = io_between_callbacks(values)
    assert reading is not None and reading[IoField.SOUNDING_BLOCKS] == 5
    values[IoField.HANDING] = 5 << HANDING_US_BITS | 456  # block 5 begun: its counts move
    values[IoField.SOUNDING_BLOCKS] = 6
    assert io_between_callbacks(values) is None
    # An I/O that died inside that callback never ends it: the counters as they are.
    np.testing.assert_array_equal(settled_io(values), values)
