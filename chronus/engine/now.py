"""What `/engine/now` answers, cheaply: the transport, the output level, the counters.

A client polls it a few times a second for a live toolbar, so nothing here walks the patch
or builds a big reply. The transport comes from the active slot, which publishes it into
its shared counters when it changes (in its spare time, not per block); the level is
measured by the supervisor from the record tap, which holds every block the device played
(so the audio path does no extra work at all).

>>> values = np.zeros(SlotField.SIZE, dtype=np.int64)
>>> feed = TransportFeed(values)
>>> from chronus.seq.transport import Transport
>>> t = Transport(48000)
>>> t.running = True
>>> feed.publish(t)
>>> beat_at(read_transport(values), 36000), tempo_of(read_transport(values), 48000)
(1.5, 120.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from chronus.engine.recorder import RecordTap
from chronus.engine.stats import SlotField
from chronus.seq.transport import Transport

__all__ = [
    "LEVEL_WINDOW_S",
    "SILENT_DB",
    "TransportFeed",
    "TransportView",
    "beat_at",
    "level_blocks",
    "output_level",
    "read_transport",
    "tempo_of",
]

SILENT_DB: Final = -120.0
"""The level of silence (dBFS): a finite floor, so the reply stays plain JSON."""
LEVEL_WINDOW_S: Final = 0.1
"""The output level is the peak and RMS over this much of what was played last."""

_GEN, _RUNNING, _SAMPLE, _BEAT, _SPB = range(5)


@dataclass(frozen=True, slots=True)
class TransportView:
    """One tempo segment of a slot's transport, as floats: at `sample` the beat was `beat`."""

    running: bool
    sample: int
    beat: float
    samples_per_beat: float


class TransportFeed:
    """The slot's side: writes its transport into its counters when it changed.

    A seqlock: the generation is odd while the fields are written, so a reader never takes
    half of an old segment with half of a new one.
    """

    def __init__(self, values: npt.NDArray[np.int64]) -> None:
        self._ints = values[SlotField.TRANSPORT : SlotField.TRANSPORT + 5]
        self._floats = self._ints.view(np.float64)
        self._seen: tuple[object, ...] = ()

    def publish(self, transport: Transport) -> None:
        """Write `transport` if it changed since the last call (a few comparisons if not)."""
        seen = self._seen
        if (
            seen
            and seen[0] == transport.running
            and seen[1] == transport.sample
            and seen[2] is transport.beat
            and seen[3] is transport.samples_per_beat
        ):
            return
        self._seen = (
            transport.running, transport.sample, transport.beat, transport.samples_per_beat
        )  # fmt: skip
        ints, floats = self._ints, self._floats
        generation = int(ints[_GEN]) | 1
        ints[_GEN] = generation
        ints[_RUNNING] = int(transport.running)
        ints[_SAMPLE] = transport.sample
        floats[_BEAT] = float(transport.beat)
        floats[_SPB] = float(transport.samples_per_beat)
        ints[_GEN] = generation + 1


def read_transport(values: npt.NDArray[np.int64], tries: int = 4) -> TransportView | None:
    """A slot's last published transport; None before it published one (or if it was
    being written at every try)."""
    ints = values[SlotField.TRANSPORT : SlotField.TRANSPORT + 5]
    floats = ints.view(np.float64)
    for _ in range(tries):
        before = int(ints[_GEN])
        if before == 0 or before & 1:
            continue
        view = TransportView(
            bool(ints[_RUNNING]), int(ints[_SAMPLE]), float(floats[_BEAT]), float(floats[_SPB])
        )
        if int(ints[_GEN]) == before:
            return view
    return None


def beat_at(view: TransportView | None, sample: int) -> float | None:
    """The beat at `sample` (never before 0), or None when the transport is stopped.

    The slot renders a few blocks ahead of the device, so a tempo change it has just made
    may be published before the device plays it: the beat is then reckoned back in the new
    tempo for those few milliseconds.
    """
    if view is None or not view.running or view.samples_per_beat <= 0:
        return None
    return max(0.0, view.beat + (sample - view.sample) / view.samples_per_beat)


def tempo_of(view: TransportView | None, rate: int) -> float | None:
    """The tempo (bpm) of the segment; None before the slot published one."""
    if view is None or view.samples_per_beat <= 0:
        return None
    return rate * 60.0 / view.samples_per_beat


def level_blocks(rate: int, block: int, window_s: float = LEVEL_WINDOW_S) -> int:
    """How many blocks make the level's window (at least one)."""
    return max(1, round(window_s * rate / block))


def output_level(tap: RecordTap, blocks: int) -> tuple[list[float], list[float]]:
    """Peak and RMS per channel (dBFS, `SILENT_DB` at the least) of the last `blocks` the
    device played, read from the record tap without taking them from the recorder.

    The blocks are read in place (two views where the window wraps); the writer is a
    whole ring (seconds) away from overwriting them.
    """
    w = tap.write_pos
    n = min(blocks, w, tap.capacity)
    if n == 0:
        silent = [SILENT_DB] * tap.channels
        return silent, list(silent)
    first = (w - n) % tap.capacity
    parts = [tap.data[first : first + n]]
    if first + n > tap.capacity:
        parts = [tap.data[first:], tap.data[: first + n - tap.capacity]]
    peaks, rmss = [], []
    for channel in range(tap.channels):
        peak = energy = 0.0
        for part in parts:
            # One channel of interleaved frames, strided: whole-array numpy calls with no
            # temporary array (an `abs` of the window costs ten times more).
            samples = part.reshape(-1)[channel :: tap.channels]
            peak = max(peak, float(samples.max()), -float(samples.min()))
            energy += float(np.dot(samples, samples))
        peaks.append(_db(peak))
        rmss.append(_db(math.sqrt(energy / (n * tap.block))))
    return peaks, rmss


def _db(amplitude: float) -> float:
    if amplitude <= 0.0 or not math.isfinite(amplitude):
        return SILENT_DB
    return max(SILENT_DB, round(20.0 * math.log10(amplitude), 2))
