"""The engine's sample clock read against the system clock, for OSC time tags.

A time tag names a moment on the sender's wall clock (NTP: seconds since 1900, 32 bits of
fraction). The engine counts samples: the audio I/O hands block *k* (samples `k * block`
onwards) to the device at the start of its *k*-th callback, and writes that moment
(`IoField.LAST_BLOCK_NS`, monotonic) after the count of blocks (`IoField.CONSUMED`). The
supervisor reads the pair as it goes (`observe`), and each reading gives the clock's offset:
when sample 0 would have been handed over, had every block come on time.

Callbacks are never early, only late (the host's scheduling, a stalled CPU, a burst that
catches up), and a reading can, rarely, pair a count with the previous block's start (the
I/O writes one just before the other), which looks a period early (a later reading of the
same count mends it; the next block's does not). So the offset is not the
latest reading, nor a mean, but a low quantile (`QUANTILE`) of the readings of the last
`WINDOW_S`: the on-time callbacks, with the early misreadings and the late ones left out, as
NTP keeps the samples of least delay. The window lets it follow a clock that drifts (a
device whose crystal is not the system clock's); after an xrun, which may have moved the
clock, it starts afresh from the blocks handed over after it.

>>> clock = SampleClock(rate=48000, block=128)
>>> for k in range(1, 100):  # block k-1 handed over 2.667 ms after block k-2, 20 µs late
...     clock.observe(k, 5_000_000_000 + (k - 1) * 2_666_667 + 20_000)
>>> clock.sample_at(5_000_000_000 + 1_000_000_000)  # 1 s after sample 0: 48,000 less 1
47999
"""

from __future__ import annotations

import time
from collections import deque
from typing import Final

import numpy as np

from chronus.protocol import NTP_UNIX_OFFSET_S, ntp_of_unix, unix_ns_of_ntp

__all__ = [
    "NTP_UNIX_OFFSET_S",
    "QUANTILE",
    "WINDOW_S",
    "SampleClock",
    "monotonic_ns_of",
    "ntp_of_unix",
    "unix_ns_of_ntp",
    "wall_offset_ns",
]

WINDOW_S: Final = 1.0
"""How far back readings count: the clock follows a slip within this, and a drift of the
device's crystal from the system clock of d ppm costs at most d µs of error."""
QUANTILE: Final = 0.1
"""The share of readings at or below the chosen offset."""
_MIN_READINGS: Final = 8
"""Below this many readings the quantile is the least of them."""


def wall_offset_ns(tries: int = 3) -> int:
    """Unix time less monotonic time (ns), as this machine's clocks stand now.

    Each try reads the wall clock between two reads of the monotonic one, and the tightest
    pair wins: a process descheduled between two reads would be off by as long as it
    waited (milliseconds on a loaded host).
    """
    best_span, best = -1, 0
    for _ in range(tries):
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        if best_span < 0 or after - before < best_span:
            best_span, best = after - before, wall - (before + after) // 2
    return best


def monotonic_ns_of(unix_ns: int) -> int:
    """The monotonic time (ns) of a Unix time, as this machine's clocks stand now."""
    return unix_ns - wall_offset_ns()


class SampleClock:
    """Maps monotonic time to the sample the audio I/O hands the device then (the nearest)."""

    def __init__(
        self, rate: int, block: int, window_s: float = WINDOW_S, quantile: float = QUANTILE
    ) -> None:
        self.rate = rate
        self.block = block
        self._window_ns = int(window_s * 1e9)
        self._quantile = quantile
        self._readings: deque[tuple[int, float]] = deque()
        """(monotonic ns of a block's start, the offset it gives, ns)."""
        self._last_block = -1
        self._xruns = 0
        self._fresh_from = 0
        """The first block read after the last xrun seen."""
        self._offset: float | None = None
        """The offset the readings give, once asked for (None: to be worked out again)."""

    def observe(self, consumed: int, started_ns: int, xruns: int = 0) -> None:
        """One reading of the I/O's counters: `consumed` blocks handed over, the last of
        them at `started_ns` (monotonic), `xruns` so far; none yet is ignored, and so is a
        block read again unless its start is later.

        A new xrun may have moved the clock (the device lost time, or the null backend
        started its schedule again): from the next block on, the readings start afresh.
        """
        block = consumed - 1
        if xruns != self._xruns:
            self._xruns = xruns
            self._fresh_from = consumed  # pumped after the xrun was counted
        if block < 0 or started_ns <= 0 or block < self._fresh_from:
            return
        offset = started_ns - block * self.block * 1e9 / self.rate
        readings = self._readings
        if block == self._last_block:
            # The I/O writes the count, then the start: a later start read with the same
            # count is the right one, and the first was the block before's.
            if started_ns > readings[-1][0]:
                readings[-1] = (started_ns, offset)
                self._offset = None
            return
        if self._fresh_from > self._last_block:
            readings.clear()
        self._last_block = block
        readings.append((started_ns, offset))
        while readings[0][0] < started_ns - self._window_ns:
            readings.popleft()
        self._offset = None

    @property
    def readings(self) -> int:
        """How many readings the offset is taken from now."""
        return len(self._readings)

    def offset_ns(self) -> float | None:
        """When sample 0 was handed over, had every block come on time (monotonic ns, as a
        float); None before the first reading."""
        if self._offset is None and self._readings:
            offsets = np.fromiter((offset for _, offset in self._readings), dtype=np.float64)
            if len(offsets) < _MIN_READINGS:
                self._offset = float(offsets.min())
            else:
                nth = int(self._quantile * (len(offsets) - 1))
                self._offset = float(np.partition(offsets, nth)[nth])
        return self._offset

    def sample_at(self, monotonic_ns: int) -> int | None:
        """The sample handed to the device at `monotonic_ns`; None before the first reading."""
        offset = self.offset_ns()
        if offset is None:
            return None
        return round((monotonic_ns - offset) * self.rate / 1e9)
