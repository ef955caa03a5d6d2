"""The transport: beats ↔ samples with exact fractions, one tempo segment at a time.

>>> t = Transport(48000)
>>> t.running = True
>>> t.sample_of(Fraction(1)), t.beat_at(36000), t.next_bar(1)
(24000, Fraction(3, 2), Fraction(4, 1))
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["BEATS_PER_BAR", "Transport", "exact"]

BEATS_PER_BAR = 4
HALF = Fraction(1, 2)


def exact(value: float) -> Fraction:
    """The decimal a float was written as (0.1 → 1/10), so typed tempi and swings are exact."""
    return Fraction(repr(float(value)))


class Transport:
    """Beats ↔ samples: one tempo segment starting at (`sample`, `beat`)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.running = False
        self.sample = 0
        self.beat = Fraction(0)
        self.samples_per_beat = Fraction(sample_rate * 60, 120)

    def set_tempo(self, bpm: float) -> None:
        """Beats go at `bpm` from the segment's start (rebase first, where it changes)."""
        self.samples_per_beat = Fraction(self.sample_rate * 60) / exact(bpm)

    def sample_of(self, beat: Fraction) -> int:
        """Rounded half up, as a script rounds its times: `wait 4 bars` meets the bar line."""
        return self.sample + math.floor((beat - self.beat) * self.samples_per_beat + HALF)

    def beat_at(self, sample: int) -> Fraction:
        """The exact beat at `sample`."""
        return self.beat + (sample - self.sample) / self.samples_per_beat

    def next_bar(self, sample: int) -> Fraction:
        """The first bar line whose sample is `sample` or later."""
        bar = Fraction(math.ceil(self.beat_at(sample) / BEATS_PER_BAR) * BEATS_PER_BAR)
        if self.sample_of(bar - BEATS_PER_BAR) >= sample:  # rounding put it one bar late
            bar -= BEATS_PER_BAR
        return bar

    def rebase(self, sample: int, beat: Fraction) -> None:
        """Start a new segment at (`sample`, `beat`)."""
        self.sample, self.beat = sample, beat
