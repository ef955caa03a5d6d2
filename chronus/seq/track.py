"""One sequencer track: its settings, and where it is in its pattern on the sample clock.

The position is a cursor into the pattern's tables (`Pattern`): the cycle, its next event, and,
with lanes, its next lane step and lane. The sample of the next action (`head`) follows from
the cursor in O(1) integer arithmetic, so starting a pattern, starting a cycle and playing an
action each cost the same for any pattern, however busy: nothing is built per cycle.

An action is a lane's value set at a step (before the notes of that step) or one event's
notes. Inside each pair of steps, swing delays the off-beat step by `swing` of a step; the
pair's edges (every other step: beats, bars) never move.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from chronus.seq.pattern import Pattern
from chronus.seq.transport import Transport

__all__ = ["HIT_NOTE", "NEVER", "Config", "Performer", "Track"]

HIT_NOTE = 60
"""The MIDI note a hit (`x`) plays: drums ignore it, a synth plays middle C (plus transpose)."""
NEVER = 1 << 62
"""`next_sample` when nothing is due."""

Lane = tuple[float | None, ...]


class Performer(Protocol):
    """What the sequencer plays on: the graph."""

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        """Start a note of `length` samples on a module."""

    def release(self, module_id: str) -> None:
        """Let the module's sounding notes go."""

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Set one parameter (as `/mod/<id>/<param>` would)."""

    def set_tempo(self, bpm: float) -> None:
        """Tell the modules the tempo changed (tempo-synced times follow)."""


@dataclass
class Config:
    """What changes only on a bar line (or at once with `now`)."""

    pattern: Pattern | None = None
    division: int = 16
    swing: Fraction = Fraction(0)

    def step_beats(self) -> Fraction:
        """The length of one step in beats."""
        return Fraction(4, self.division)


class Track:
    """A track's settings, its waiting change, and its place in the pattern it plays."""

    __slots__ = (
        "_base", "_count", "_den", "_first", "_first_step", "_lanes", "_len_num", "_len_over",
        "_origin", "_parity", "_slope", "_swing", "_to_lane", "_unit", "anchor", "config",
        "cycle", "event", "gate", "head", "lane", "lanes", "module_id", "pending", "pending_at",
        "pending_run", "pending_sample", "running", "step", "transpose",
    )  # fmt: skip

    def __init__(self, module_id: str, config: Config | None = None) -> None:
        self.module_id = module_id
        self.config = config or Config()
        self.gate = Fraction(1, 2)
        self.transpose = 0
        self.lanes: dict[str, Lane] = {}
        self.running = True
        self.anchor: Fraction | None = None
        """The beat where cycle 0 of the current pattern starts; None while silent."""
        self.pending: Config | None = None
        self.pending_run: bool | None = None
        self.pending_at: Fraction | None = None
        self.pending_sample = NEVER
        self.cycle = 0
        self.event = 0
        """The cycle's next event, counted from its first."""
        self.step = 0
        """The cycle's next lane step."""
        self.lane = 0
        """That step's next lane, in the order of `lanes`."""
        self.head = NEVER
        """The sample of the next action; NEVER while there is none."""
        self._to_lane = False
        self._lanes: list[tuple[str, Lane]] = []  # the lanes with a value somewhere
        self._first = self._count = self._first_step = self._parity = 0
        self._origin = self._base = self._slope = self._len_num = 0
        self._den = self._len_over = self._unit = 1
        self._swing = (0, 1)

    def next_sample(self) -> int:
        """The sample of whatever the track does next: its action or its waiting change."""
        return min(self.pending_sample, self.head)

    @property
    def placed(self) -> bool:
        """Whether the track is playing a pattern on the clock."""
        return self.anchor is not None and self.config.pattern is not None

    def set_lane(self, name: str, values: Lane, transport: Transport, sample: int) -> None:
        """Set a lane from `sample` on: steps not played yet take it; nothing is replayed."""
        self.lanes[name] = values
        self._lanes = [(n, v) for n, v in self.lanes.items() if any(x is not None for x in v)]
        if self.placed:
            assert self.anchor is not None
            self.begin(transport, self.anchor, transport.beat_at(sample))

    def silence(self) -> None:
        """Stop playing (the transport stopped, or the track has nothing to play)."""
        self.anchor = None
        self.head = NEVER

    def begin(self, transport: Transport, anchor: Fraction, from_beat: Fraction) -> None:
        """Play the pattern with cycle 0 at `anchor`, from the first action at ≥ from_beat."""
        pattern = self.config.pattern
        assert pattern is not None
        self.anchor = anchor
        cycle_beats = pattern.steps * self.config.step_beats()
        self._enter(transport, math.floor((from_beat - anchor) / cycle_beats))
        first = transport.sample_of(from_beat)
        self.event = bisect_left(range(self._count), first, key=self._event_sample)
        if self._lanes:
            self.step = bisect_left(range(pattern.steps), first, key=self._step_sample)
        self._aim(transport)

    def retime(self, transport: Transport) -> None:
        """The tempo or the gate changed: the same place in the pattern, timed anew."""
        if self.placed:
            self._clock(transport)
            self._aim(transport)

    def restore(self, transport: Transport, at: tuple[int, int, int, int]) -> None:
        """Go back to a place that `place` gave (a hand-over)."""
        self.cycle, self.event, self.step, self.lane = at
        if not self.placed:
            self.head = NEVER
            return
        event, step, lane = self.event, self.step, self.lane
        self._enter(transport, self.cycle)
        self.event, self.step, self.lane = event, step, lane
        self._aim(transport)

    def place(self) -> tuple[int, int, int, int]:
        """Where the track is: (cycle, event, step, lane)."""
        return self.cycle, self.event, self.step, self.lane

    def play(self, transport: Transport, performer: Performer) -> int:
        """Do the action at `head` and aim at the next one; 1 if it was a note event."""
        pattern = self.config.pattern
        assert pattern is not None
        if self._to_lane:
            name, values = self._lanes[self.lane]
            value = values[(self._first_step + self.step) % len(values)]
            self.lane += 1
            self._aim(transport)
            assert value is not None
            performer.set_param(self.module_id, name, value)
            return 0
        i = self._first + self.event
        self.event += 1
        starts = pattern.note_starts
        chord = pattern.notes[starts[i] : starts[i + 1]] if starts[i + 1] > starts[i] else None
        velocity = float(pattern.velocities[i])
        length = max(1, pattern.lengths[i] * self._len_num // self._len_over)
        self._aim(transport)  # before playing: a module that raises must not stop the track
        for note in chord if chord is not None else (HIT_NOTE,):
            midi = min(127, max(0, note + self.transpose))
            performer.note(self.module_id, midi, velocity, length)
        return 1

    # -- the cursor ---------------------------------------------------------------------------

    def _enter(self, transport: Transport, cycle: int) -> None:
        """Put the cursor at the start of `cycle` and time it."""
        pattern = self.config.pattern
        assert pattern is not None
        self.cycle = cycle
        self.event = self.step = self.lane = 0
        index = cycle % pattern.period
        self._first = pattern.starts[index]
        self._count = pattern.starts[index + 1] - self._first
        self._first_step = cycle * pattern.steps
        self._parity = self._first_step % 2
        self._clock(transport)

    def _aim(self, transport: Transport) -> None:
        """Set `head` to the next action at or after the cursor, moving on to later cycles
        when this one is done (straight past cycles with nothing to play)."""
        pattern = self.config.pattern
        assert pattern is not None
        while True:
            lane_at = self._next_lane_step(pattern)
            event_at = -1
            if self.event < self._count:
                event_at = self._parity * pattern.unit + pattern.onsets[self._first + self.event]
            if lane_at >= 0 and (event_at < 0 or lane_at <= event_at):
                self._to_lane = True
                self.head = self._sample(lane_at)
                return
            if event_at >= 0:
                self._to_lane = False
                self.head = self._sample(event_at)
                return
            if not self._next_cycle(transport, pattern):
                self.head = NEVER
                return

    def _next_lane_step(self, pattern: Pattern) -> int:
        """The position of the next lane step with a value, moving the lane cursor to it;
        -1 when the cycle has no more."""
        lanes = self._lanes
        if not lanes:
            return -1
        while self.step < pattern.steps:
            at = self._first_step + self.step
            while self.lane < len(lanes):
                values = lanes[self.lane][1]
                if values[at % len(values)] is not None:
                    return (self._parity + self.step) * pattern.unit
                self.lane += 1
            self.step += 1
            self.lane = 0
        return -1

    def _next_cycle(self, transport: Transport, pattern: Pattern) -> bool:
        cycle = self.cycle + 1
        if not self._lanes:
            skip = pattern.ahead[cycle % pattern.period]
            if skip < 0:
                return False
            cycle += skip
        self._enter(transport, cycle)
        return True

    # -- timing ---------------------------------------------------------------------------

    def _clock(self, transport: Transport) -> None:
        """Time the current cycle: a position p (in 1/unit steps from the start of the pair of
        steps the cycle starts in) sounds at origin + ⌊offset + swung(p) × grain + ½⌋, kept
        as integers over a common denominator so that `_sample` needs no fraction."""
        pattern = self.config.pattern
        assert pattern is not None and self.anchor is not None
        step = self.config.step_beats()
        per_beat = transport.samples_per_beat
        per_step = step * per_beat
        offset = self.anchor + (self._first_step - self._parity) * step - transport.beat
        offset *= per_beat
        swing = self.config.swing
        self._swing = (swing.numerator, swing.denominator)
        self._unit = pattern.unit
        grain = per_step / (pattern.unit * swing.denominator)
        den = math.lcm(offset.denominator, grain.denominator)
        self._base = 2 * offset.numerator * (den // offset.denominator) + den
        self._slope = 2 * grain.numerator * (den // grain.denominator)
        self._den = 2 * den
        self._origin = transport.sample
        scale = per_step * self.gate
        self._len_num = scale.numerator
        self._len_over = scale.denominator * pattern.unit

    def _sample(self, position: int) -> int:
        late, over = self._swing
        if late:
            unit = self._unit
            pair, within = divmod(position, 2 * unit)
            position = 2 * unit * pair * over
            if within < unit:
                position += within * (over + late)
            else:
                position += unit * (over + late) + (within - unit) * (over - late)
        return self._origin + (self._base + position * self._slope) // self._den

    def _event_sample(self, event: int) -> int:
        pattern = self.config.pattern
        assert pattern is not None
        return self._sample(self._parity * pattern.unit + pattern.onsets[self._first + event])

    def _step_sample(self, step: int) -> int:
        pattern = self.config.pattern
        assert pattern is not None
        return self._sample((self._parity + step) * pattern.unit)
