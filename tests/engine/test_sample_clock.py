"""The sample clock read against the system clock: NTP tags to samples, under jitter."""

from __future__ import annotations

import numpy as np
import pytest

from chronus.engine.sample_clock import (
    NTP_UNIX_OFFSET_S,
    WINDOW_S,
    SampleClock,
    monotonic_ns_of,
    ntp_of_unix,
    unix_ns_of_ntp,
)

RATE = 48000
BLOCK = 128
PERIOD_NS = BLOCK * 1e9 / RATE
ZERO_NS = 1_000_000_000_000
"""When the simulated device was handed sample 0 (monotonic ns)."""


def _feed(
    clock: SampleClock, lateness_ns: np.ndarray, first: int = 0, zero_ns: float = ZERO_NS,
    period_ns: float = PERIOD_NS, every: int = 4,
) -> int:  # fmt: skip
    """Read block starts as the supervisor does: every few blocks (its loop's pace)."""
    for k in range(first, first + len(lateness_ns), every):
        clock.observe(k + 1, int(zero_ns + k * period_ns + lateness_ns[k - first]))
    return first + len(lateness_ns)


def _error(clock: SampleClock, at_ns: float, zero_ns: float = ZERO_NS) -> int:
    sample = clock.sample_at(int(at_ns))
    assert sample is not None
    return sample - round((at_ns - zero_ns) * RATE / 1e9)


def test_ntp_tags_and_unix_time_convert_both_ways() -> None:
    assert unix_ns_of_ntp(NTP_UNIX_OFFSET_S << 32) == 0
    assert unix_ns_of_ntp((NTP_UNIX_OFFSET_S + 10) << 32 | 1 << 30) == 10_250_000_000
    for seconds in (0.0, 1.5, 1_764_000_000.123456):
        assert abs(unix_ns_of_ntp(ntp_of_unix(seconds)) - seconds * 1e9) < 1_000
    # an NTP tag from python-osc, the way a client writes it
    from pythonosc.parsing import ntp

    tag = int.from_bytes(ntp.system_time_to_ntp(1_764_000_000.5), "big")
    assert abs(unix_ns_of_ntp(tag) - 1_764_000_000_500_000_000) < 1_000


def test_wall_time_maps_to_this_machine_s_monotonic_time() -> None:
    import time

    before = time.monotonic_ns()
    mapped = monotonic_ns_of(time.time_ns())
    assert before <= mapped <= time.monotonic_ns() + 1_000_000


def test_the_wall_clock_offset_is_taken_from_the_tightest_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read descheduled between the clocks would be off by as long as it waited."""
    from chronus.engine import sample_clock

    monotonic = iter([0, 5_000_000, 10_000_000, 10_001_000, 20_000_000, 20_100_000])
    wall = iter([1_000_000_000 + 0, 1_000_000_000 + 10_000_500, 1_000_000_000 + 20_050_000])

    class FakeTime:
        @staticmethod
        def monotonic_ns() -> int:
            return next(monotonic)

        @staticmethod
        def time_ns() -> int:
            return next(wall)

    monkeypatch.setattr(sample_clock, "time", FakeTime)
    assert sample_clock.wall_offset_ns() == 1_000_000_000  # the second, 1 µs wide


def test_no_reading_no_sample_and_a_block_read_twice_counts_once() -> None:
    clock = SampleClock(RATE, BLOCK)
    assert clock.sample_at(ZERO_NS) is None
    clock.observe(0, ZERO_NS)  # no block handed over yet
    assert clock.readings == 0
    clock.observe(5, int(ZERO_NS + 4 * PERIOD_NS))
    clock.observe(5, int(ZERO_NS + 4 * PERIOD_NS))
    assert clock.readings == 1
    assert clock.sample_at(ZERO_NS + 1_000_000_000) == RATE


def test_a_count_read_with_the_block_before_s_start_is_mended_by_a_later_reading() -> None:
    clock = SampleClock(RATE, BLOCK)
    clock.observe(5, int(ZERO_NS + 3 * PERIOD_NS))  # the count of block 4, block 3's start
    assert clock.sample_at(ZERO_NS + 1_000_000_000) == RATE + BLOCK  # a period off
    clock.observe(5, int(ZERO_NS + 4 * PERIOD_NS))  # block 4's start, written after
    assert clock.readings == 1
    assert clock.sample_at(ZERO_NS + 1_000_000_000) == RATE
    clock.observe(5, int(ZERO_NS + 3 * PERIOD_NS))  # never back to an earlier start
    assert clock.sample_at(ZERO_NS + 1_000_000_000) == RATE


def test_jitter_stalls_and_misreadings_leave_the_mapping_within_two_samples() -> None:
    """Callbacks 20–300 µs late (the host's scheduling), 2 % of them stalled 5–40 ms, and
    1 % of the readings paired with the block before (a period early)."""
    rng = np.random.default_rng(7)
    n = 20 * RATE // BLOCK  # 20 s
    late = 20_000 + rng.exponential(40_000, n).clip(0, 280_000)
    stalled = rng.random(n) < 0.02
    late[stalled] += rng.uniform(5e6, 40e6, stalled.sum())
    misread = rng.random(n) < 0.01
    late[misread] -= PERIOD_NS
    clock = SampleClock(RATE, BLOCK)
    errors = []
    for second in range(20):
        span = slice(second * n // 20, (second + 1) * n // 20)
        _feed(clock, late[span], first=span.start)
        now = ZERO_NS + span.stop * PERIOD_NS
        errors += [_error(clock, now + ahead) for ahead in (1e8, 2e8, 5e8)]
    assert max(abs(e) for e in errors) <= 2, errors


def _feed_with_xruns(clock: SampleClock, late: np.ndarray, first: int, xruns: int) -> int:
    for k in range(first, first + len(late), 4):
        clock.observe(k + 1, int(ZERO_NS + k * PERIOD_NS + late[k - first]), xruns)
    return first + len(late)


def test_after_an_xrun_the_clock_starts_afresh_from_the_next_block() -> None:
    """The device lost 10 ms in an xrun: every sample after it comes 10 ms later."""
    clock = SampleClock(RATE, BLOCK)
    late = np.full(2 * RATE // BLOCK, 30_000.0)
    end = _feed_with_xruns(clock, late, 0, xruns=0)
    assert _error(clock, ZERO_NS + end * PERIOD_NS) == -1  # 30 µs late: 1.44 samples
    clock.observe(end, int(ZERO_NS + (end - 1) * PERIOD_NS + 30_000), xruns=1)  # a stale read
    assert clock.readings > 1 and _error(clock, ZERO_NS + end * PERIOD_NS) == -1
    lost = late + 10_000_000.0
    end = _feed_with_xruns(clock, lost[:8], first=end, xruns=1)
    assert clock.readings == 2  # the readings after the xrun only
    assert _error(clock, ZERO_NS + end * PERIOD_NS) == -1 - 480


def test_a_clock_that_slips_unseen_is_followed_within_the_window() -> None:
    """A slip with no xrun counted (a device opened again, say) takes a window to follow."""
    clock = SampleClock(RATE, BLOCK)
    late = np.full(2 * RATE // BLOCK, 30_000.0)
    end = _feed(clock, late)
    slipped = ZERO_NS + 10_000_000
    end = _feed(clock, late[: int(1.2 * WINDOW_S * RATE / BLOCK)], first=end, zero_ns=slipped)
    assert abs(_error(clock, slipped + end * PERIOD_NS, zero_ns=slipped)) <= 2


@pytest.mark.parametrize("ppm", [-100.0, 100.0])
def test_a_device_clock_that_drifts_costs_at_most_its_drift_over_the_window(ppm: float) -> None:
    clock = SampleClock(RATE, BLOCK)
    period = PERIOD_NS * (1 + ppm * 1e-6)
    late = np.full(10 * RATE // BLOCK, 30_000.0)
    end = _feed(clock, late, period_ns=period)
    at = ZERO_NS + end * period + 2e8  # 200 ms ahead, as clients schedule
    truth = (at - ZERO_NS) / period * BLOCK  # the device's own samples
    sample = clock.sample_at(int(at))
    assert sample is not None
    drift_samples = abs(ppm) * 1e-6 * (WINDOW_S + 0.2) * RATE
    assert abs(sample - truth) <= drift_samples + 2
