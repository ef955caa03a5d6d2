"""Ableton Link's timeline against the engine's sample clock: the arithmetic, no sockets.

Link tells, at a moment of the host's clock, the session's beat and tempo; its peers agree
on the beat's phase within a quantum (4 beats by default). The engine counts samples, and
its `SampleClock` says when each sample is handed to the device; the listener hears it the
device's latency later. So sample *s* sounds at `heard_ns(s)`, and the Link beat then is
`LinkReading.beat_at(heard_ns(s))`: chronus is in phase when its transport's beat at *s* is
that beat, modulo the quantum.

Drift (two clocks, rounding, a tempo change a few milliseconds late) is mended by
`follow_tempo`: the session's tempo, nudged by the phase error spread over `HORIZON_BEATS`
(`e` beats ahead: a tempo `e / HORIZON_BEATS` slower, at each correction), never by
moving the sequencer. The
tempo goes in steps of `BPM_STEP`, so each nudge is a decimal the transport keeps exact.

>>> reading = LinkReading(monotonic_ns=1_000_000_000, beat=8.0, bpm=120.0)
>>> reading.beat_at(1_250_000_000)  # a quarter second on: half a beat
8.5
>>> phase_error(8.51, reading.beat_at(1_250_000_000), quantum=4)  # 10 ms ahead
0.01
>>> follow_tempo(120.0, error_beats=0.01)  # 0.5 % slower, for the next two beats
119.4
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BPM_STEP",
    "DEADBAND_S",
    "HORIZON_BEATS",
    "MAX_NUDGE",
    "LinkReading",
    "follow_tempo",
    "heard_ns",
    "next_downbeat",
    "phase_error",
]

BPM_STEP: Final = 0.001
"""The tempo's resolution while following Link (8 ppm at 120 bpm): each nudge is a decimal
with three places, so the transport's exact beats keep a bounded denominator."""
HORIZON_BEATS: Final = 2.0
"""The phase error's time constant, in beats: each nudge would make the error up over this
many beats, and as it shrinks so do the nudges, so that it is gone (to 2 %) within two bars
of 4/4. A clock that drifts by d (a share) leaves a steady error of d × this many beats."""
DEADBAND_S: Final = 50e-6
"""A phase error below this (seconds) is left alone: the sample clock's reading wanders by
about this much, and a nudge for it would only write tempo changes to the session log."""
MAX_NUDGE: Final = 0.08
"""The most a nudge changes the tempo (a share): a large error (Link turned on while the
transport runs) is caught up over several bars, never jumped."""


@dataclass(frozen=True, slots=True)
class LinkReading:
    """The Link session's timeline at one moment: the beat at `monotonic_ns` (this host's
    monotonic clock) and the tempo."""

    monotonic_ns: int
    beat: float
    bpm: float

    def beat_at(self, monotonic_ns: float) -> float:
        """The session's beat at another moment, at this tempo."""
        return self.beat + (monotonic_ns - self.monotonic_ns) * self.bpm / 60e9

    def time_of(self, beat: float) -> float:
        """The moment (monotonic ns) the session reaches `beat`, at this tempo."""
        return self.monotonic_ns + (beat - self.beat) * 60e9 / self.bpm


def heard_ns(sample: int, offset_ns: float, rate: int, latency_ns: float) -> float:
    """When `sample` is heard: handed to the device (the clock's offset plus its place)
    and then through the device's latency.

    >>> heard_ns(48000, offset_ns=5e9, rate=48000, latency_ns=3e6)
    6003000000.0
    """
    return offset_ns + sample * 1e9 / rate + latency_ns


def phase_error(beat: float, link_beat: float, quantum: float) -> float:
    """How far (beats) chronus's `beat` is ahead of the session's, modulo the quantum, in
    [-quantum/2, quantum/2).

    >>> phase_error(4.0, 7.9, 4), phase_error(0.0, 2.0, 4), phase_error(1.0, 8.5, 8)
    (0.1, -2.0, 0.5)
    """
    error = math.fmod(beat - link_beat, quantum)
    if error >= quantum / 2:
        error -= quantum
    elif error < -quantum / 2:
        error += quantum
    return round(error, 12)


def follow_tempo(
    link_bpm: float, error_beats: float, horizon: float = HORIZON_BEATS,
    max_nudge: float = MAX_NUDGE,
) -> float:  # fmt: skip
    """The tempo for chronus: the session's, nudged to make up `error_beats` (ahead: slower)
    over `horizon` beats, at most `max_nudge` either way, in steps of `BPM_STEP`; an error
    within `DEADBAND_S` is none.

    >>> follow_tempo(133.0, 0.0), follow_tempo(120.0, -2.0), follow_tempo(120.0, 0.00008)
    (133.0, 129.6, 120.0)
    """
    if abs(error_beats) * 60.0 / link_bpm < DEADBAND_S:
        error_beats = 0.0
    nudge = min(max(-error_beats / horizon, -max_nudge), max_nudge)
    return round(round(link_bpm * (1.0 + nudge) / BPM_STEP) * BPM_STEP, 3)


def next_downbeat(reading: LinkReading, after_ns: float, quantum: float) -> float:
    """The first moment at or after `after_ns` when the session's phase is 0 (a bar line
    at the quantum), monotonic ns.

    >>> reading = LinkReading(monotonic_ns=0, beat=5.0, bpm=120.0)
    >>> next_downbeat(reading, 0, 4) / 1e9  # beat 8 is 3 beats away
    1.5
    """
    beat = reading.beat_at(after_ns)
    return reading.time_of(math.ceil(beat / quantum) * quantum)
