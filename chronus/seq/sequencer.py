"""The sequencer: tracks of patterns played on the engine's sample clock.

It lives inside the `Renderer` of every slot and of offline renders. Its position is a pure
function of the sample clock and the stamped commands it was given: the transport maps beats
to samples with exact fractions (`sample_of`), so both slots fire every note on the same
sample, forever, with no drift. Changes of pattern, step, swing, tempo and per-track
start/stop wait for the next bar line unless sent with `now`; gate, transpose and lanes act
at once. Everything it knows is in `state()`, so a hand-over continues on the same beat.

The renderer asks `next_sample` (a plain int: no work when nothing is due in a block) and
calls `fire(sample)` exactly there; `fire` plays notes and sets parameters through a
`Performer`, the graph's narrow interface for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

from chronus.seq.lanes import parse_lane
from chronus.seq.notation import Pattern
from chronus.seq.notation import parse_cached as parse_pattern

__all__ = ["BEATS_PER_BAR", "HIT_NOTE", "NEVER", "Performer", "Sequencer", "exact"]

BEATS_PER_BAR = 4
HIT_NOTE = 60
"""The MIDI note a hit (`x`) plays: drums ignore it, a synth plays middle C (plus transpose)."""
NEVER = 1 << 62
"""`next_sample` when nothing is due."""
HALF = Fraction(1, 2)


def exact(value: float) -> Fraction:
    """The decimal a float was written as (0.1 → 1/10), so typed tempi and swings are exact."""
    return Fraction(repr(float(value)))


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
class _Config:
    """What changes only on a bar line (or at once with `now`)."""

    pattern: Pattern | None = None
    division: int = 16
    swing: Fraction = Fraction(0)

    def step_beats(self) -> Fraction:
        return Fraction(4, self.division)


@dataclass
class _Track:
    module_id: str
    config: _Config = field(default_factory=_Config)
    gate: Fraction = Fraction(1, 2)
    transpose: int = 0
    lanes: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    running: bool = True
    anchor: Fraction | None = None
    """The beat where cycle 0 of the current pattern starts; None while silent."""
    pending: _Config | None = None
    pending_run: bool | None = None
    pending_at: Fraction | None = None
    pending_sample: int = NEVER
    cycle: int = 0
    index: int = 0
    actions: list[tuple[int, int, Any]] = field(default_factory=list)
    """The current cycle's actions in playing order: (sample, 0 lane | 1 note, payload); a
    note's payload is (notes, velocity, length in samples), a lane's (param, value)."""
    cycles: dict[tuple[int, int], _Cycle] = field(default_factory=dict)
    """The cycles of the pattern met so far, by (cycle % period, parity of its first step)."""

    def next_sample(self) -> int:
        if self.index < len(self.actions):
            return min(self.pending_sample, self.actions[self.index][0])
        return self.pending_sample


@dataclass
class _Cycle:
    """One cycle of a track, timed in units of 1/`grain` step from its (pair-aligned) start.

    Made once per distinct cycle with exact fractions; after that, placing it on the sample
    clock is integer arithmetic (`Sequencer._rebuild_actions`).
    """

    grain: int
    items: list[tuple[int, int, Any]]
    """(position in 1/grain steps, 0 lane | 1 note, step index | (notes, velocity, length)),
    the length in 1/`length_unit` steps."""
    length_unit: int
    lengths: dict[Fraction, list[int]] = field(default_factory=dict)
    """Note lengths in samples, by samples per step × gate."""


class _Transport:
    """Beats ↔ samples: one tempo segment starting at (`sample`, `beat`)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.running = False
        self.sample = 0
        self.beat = Fraction(0)
        self.samples_per_beat = Fraction(sample_rate * 60, 120)

    def set_tempo(self, bpm: float) -> None:
        self.samples_per_beat = Fraction(self.sample_rate * 60) / exact(bpm)

    def sample_of(self, beat: Fraction) -> int:
        """Rounded half up, as a script rounds its times: `wait 4 bars` meets the bar line."""
        return self.sample + math.floor((beat - self.beat) * self.samples_per_beat + HALF)

    def beat_at(self, sample: int) -> Fraction:
        return self.beat + (sample - self.sample) / self.samples_per_beat

    def next_bar(self, sample: int) -> Fraction:
        """The first bar line whose sample is `sample` or later."""
        bar = Fraction(math.ceil(self.beat_at(sample) / BEATS_PER_BAR) * BEATS_PER_BAR)
        if self.sample_of(bar - BEATS_PER_BAR) >= sample:  # rounding put it one bar late
            bar -= BEATS_PER_BAR
        return bar

    def rebase(self, sample: int, beat: Fraction) -> None:
        self.sample, self.beat = sample, beat


class Sequencer:
    """Every track, the transport and a tempo change waiting for its bar line."""

    def __init__(self, sample_rate: int) -> None:
        self.transport = _Transport(int(sample_rate))
        self.tracks: dict[str, _Track] = {}
        self.tempo_at: Fraction | None = None
        self.tempo_bpm = 120.0
        self.tempo_sample = NEVER
        self.next_sample = NEVER
        self.events_fired = 0

    # -- commands ----------------------------------------------------------------------

    def tempo(self, bpm: float, now: bool, sample: int, performer: Performer) -> None:
        """A tempo change stamped at `sample`: on the next bar line while the transport runs."""
        self.tempo_bpm = float(bpm)
        transport = self.transport
        if transport.running and not now:
            self.tempo_at = transport.next_bar(sample)
            self.tempo_sample = transport.sample_of(self.tempo_at)
        else:
            transport.rebase(sample, transport.beat_at(sample))
            self._set_tempo(self.tempo_bpm, performer)
        self._plan()

    def start(self, sample: int) -> None:
        """Start the transport at `sample` (beat 0) with every running track; no-op if running."""
        transport = self.transport
        if transport.running:
            return
        transport.running = True
        transport.rebase(sample, Fraction(0))
        for track in self.tracks.values():
            self._settle(track)
            if track.running and track.config.pattern is not None:
                self._begin(track, Fraction(0), Fraction(0))
        self._plan()

    def stop(self, performer: Performer) -> None:
        """Stop the transport; every track falls silent (the graph releases the notes)."""
        transport = self.transport
        transport.running = False
        for track in self.tracks.values():
            self._settle(track)
            track.anchor = None
            track.actions = []
        if self.tempo_at is not None:
            self._set_tempo(self.tempo_bpm, performer)
        self._plan()

    def track_message(
        self, module_id: str, action: str, args: tuple[Any, ...], sample: int,
        performer: Performer,
    ) -> None:  # fmt: skip
        """Apply `/seq/<module_id>/<action> args` (already validated by the patch)."""
        track = self.tracks.get(module_id)
        if action == "clear":
            if track is not None:
                del self.tracks[module_id]
                performer.release(module_id)
            self._plan()
            return
        if track is None:
            track = self.tracks[module_id] = _Track(module_id)
        if action == "gate":
            track.gate = exact(args[0])
            self._rebuild_actions(track, keep_index=True)
        elif action == "transpose":
            track.transpose = int(args[0])
        elif action == "lane":
            track.lanes[str(args[0])] = parse_lane(str(args[1]))
            track.cycles.clear()
            self._rebuild_actions(track, keep_index=True)
        elif action in ("start", "stop"):
            self._run(track, action == "start", sample, performer)
        else:
            now = action == "pattern" and len(args) > 1 and int(args[1]) == 1
            config = _Config(**vars(track.pending or track.config))
            if action == "pattern":
                config.pattern = parse_pattern(str(args[0]))
            elif action == "step":
                config.division = int(args[0])
            elif action == "swing":
                config.swing = exact(args[0])
            self._change(track, config, action == "pattern", now, sample)
        self._plan()

    def forget(self, module_id: str) -> None:
        """The module was removed: drop its track."""
        if self.tracks.pop(module_id, None) is not None:
            self._plan()

    # -- playing -----------------------------------------------------------------------

    def fire(self, sample: int, performer: Performer) -> None:
        """Play everything due at `sample` (the renderer calls this at `next_sample`)."""
        transport = self.transport
        while self.next_sample <= sample:
            if self.tempo_sample <= sample and self.tempo_at is not None:
                transport.rebase(self.tempo_sample, self.tempo_at)
                self._set_tempo(self.tempo_bpm, performer)
            for track in self.tracks.values():
                if track.next_sample() <= sample:
                    self._fire_track(track, sample, performer)
            self._plan()

    def _fire_track(self, track: _Track, sample: int, performer: Performer) -> None:
        while track.next_sample() <= sample:
            if track.pending_sample <= sample:
                self._switch(track, performer)
                continue
            _, kind, payload = track.actions[track.index]
            track.index += 1
            if kind == 0:
                performer.set_param(track.module_id, payload[0], payload[1])
            else:
                notes, velocity, length = payload
                for note in notes:
                    midi = min(127, max(0, note + track.transpose))
                    performer.note(track.module_id, midi, velocity, length)
                self.events_fired += 1
            if track.index >= len(track.actions):
                track.cycle += 1
                self._rebuild_actions(track)

    # -- internals ---------------------------------------------------------------------

    def _set_tempo(self, bpm: float, performer: Performer) -> None:
        """The transport has been rebased where the tempo changes: retime everything after."""
        self.transport.set_tempo(bpm)
        performer.set_tempo(bpm)
        self.tempo_at, self.tempo_sample = None, NEVER
        for track in self.tracks.values():
            self._pend(track, track.pending_at)
            self._rebuild_actions(track, keep_index=True)

    def _settle(self, track: _Track) -> None:
        """Take the track's waiting change now (the transport starts or stops)."""
        if track.pending is not None:
            self._configure(track, track.pending)
        if track.pending_run is not None:
            track.running = track.pending_run
        self._pend(track, None)

    def _pend(self, track: _Track, beat: Fraction | None) -> None:
        """Set (or with None clear) the beat of the track's waiting change."""
        track.pending_at = beat
        track.pending_sample = NEVER if beat is None else self.transport.sample_of(beat)
        if beat is None:
            track.pending = track.pending_run = None

    def replan(self) -> None:
        """Recompute `next_sample` (after a `fire` that a module interrupted)."""
        self._plan()

    def _plan(self) -> None:
        transport = self.transport
        if not transport.running:
            self.next_sample = NEVER
            return
        due = min((t.next_sample() for t in self.tracks.values()), default=NEVER)
        self.next_sample = min(due, self.tempo_sample)

    def _change(self, track: _Track, config: _Config, plays: bool, now: bool, sample: int) -> None:
        """A new pattern, step or swing; `plays`: it is a pattern, so the track starts."""
        transport = self.transport
        if not transport.running or now:
            self._configure(track, config)
            self._pend(track, None)
            track.running = track.running or plays
            if not transport.running:
                if plays:
                    self.start(sample)
            elif track.running and config.pattern is not None:
                beat = transport.beat_at(sample)
                bar = Fraction(math.floor(beat / BEATS_PER_BAR) * BEATS_PER_BAR)
                self._begin(track, bar, beat)
            return
        if track.anchor is None and track.pending_at is None and not plays:
            self._configure(track, config)
            return
        self._pend(track, transport.next_bar(sample))
        track.pending = config
        if plays:
            track.pending_run = True

    def _configure(self, track: _Track, config: _Config) -> None:
        track.config = config
        track.cycles.clear()

    def _run(self, track: _Track, running: bool, sample: int, performer: Performer) -> None:
        transport = self.transport
        if not transport.running:
            track.running = running
            if running:
                self.start(sample)
            return
        pending = track.pending
        self._pend(track, transport.next_bar(sample))
        track.pending, track.pending_run = pending, running

    def _switch(self, track: _Track, performer: Performer) -> None:
        at = track.pending_at
        assert at is not None
        if track.pending is not None:
            self._configure(track, track.pending)
        if track.pending_run is not None:
            if track.running and not track.pending_run:
                performer.release(track.module_id)
            track.running = track.pending_run
        self._pend(track, None)
        if track.running and track.config.pattern is not None:
            self._begin(track, at, at)
        else:
            track.anchor = None
            track.actions = []

    def _begin(self, track: _Track, anchor: Fraction, from_beat: Fraction) -> None:
        """Play the track's pattern with cycle 0 at `anchor`, from the first action ≥ from_beat."""
        pattern = track.config.pattern
        assert pattern is not None
        track.anchor = anchor
        cycle_beats = pattern.steps * track.config.step_beats()
        track.cycle = math.floor((from_beat - anchor) / cycle_beats)
        self._rebuild_actions(track)
        first = self.transport.sample_of(from_beat)
        while track.index < len(track.actions) and track.actions[track.index][0] < first:
            track.index += 1
        if track.index >= len(track.actions):
            track.cycle += 1
            self._rebuild_actions(track)

    def _rebuild_actions(self, track: _Track, keep_index: bool = False) -> None:
        """Place the track's current cycle on the sample clock (from its first action, or
        from where it was when only the timing changed)."""
        index = track.index if keep_index else 0
        track.index = 0
        pattern = track.config.pattern
        if pattern is None or track.anchor is None:
            track.actions = []
            return
        first_step = track.cycle * pattern.steps
        parity = first_step % 2
        cycle = self._cycle(track, track.cycle, parity)
        transport = self.transport
        step = track.config.step_beats()
        per_step = step * transport.samples_per_beat
        offset = track.anchor + (first_step - parity) * step - transport.beat
        offset *= transport.samples_per_beat
        grain = per_step / cycle.grain
        den = (
            offset.denominator
            * grain.denominator
            // math.gcd(offset.denominator, grain.denominator)
        )
        # sample = origin + ⌊offset + position × grain + ½⌋, all in integers over 2·den
        base = 2 * offset.numerator * (den // offset.denominator) + den
        unit = 2 * grain.numerator * (den // grain.denominator)
        den *= 2
        origin = transport.sample
        scale = per_step * track.gate
        lengths = cycle.lengths.get(scale)
        if lengths is None:
            over = scale.denominator * cycle.length_unit
            lengths = [
                max(1, item[2][2] * scale.numerator // over) if item[1] else 0
                for item in cycle.items
            ]
            cycle.lengths[scale] = lengths
        actions: list[tuple[int, int, Any]] = []
        for (position, kind, payload), length in zip(cycle.items, lengths, strict=True):
            sample = origin + (base + position * unit) // den
            if kind:
                actions.append((sample, 1, (payload[0], payload[1], length)))
                continue
            for name, values in track.lanes.items():
                value = values[(first_step + payload) % len(values)]
                if value is not None:
                    actions.append((sample, 0, (name, value)))
        track.actions = actions
        track.index = index

    def _cycle(self, track: _Track, cycle: int, parity: int) -> _Cycle:
        pattern = track.config.pattern
        assert pattern is not None
        key = (cycle % pattern.period, parity)
        found = track.cycles.get(key)
        if found is not None:
            return found
        swing = track.config.swing
        unit = pattern.unit
        items: list[tuple[Any, int, Any]] = []
        if track.lanes:
            items += [((parity + i) * unit, 0, i) for i in range(pattern.steps)]
        for onset, length, notes, velocity in pattern.timed(cycle):
            payload = (notes or (HIT_NOTE,), float(velocity), length)
            items.append((parity * unit + onset, 1, payload))
        if swing:
            # positions in steps from the start of the pair, swung, then on a common grain
            for i, (position, kind, payload) in enumerate(items):
                items[i] = (_swung(Fraction(position, unit), swing), kind, payload)
            unit = math.lcm(*(item[0].denominator for item in items)) if items else 1
            items = [(int(pos * unit), kind, payload) for pos, kind, payload in items]
        items.sort(key=lambda item: (item[0], item[1]))
        found = track.cycles[key] = _Cycle(unit, items, pattern.unit)
        return found

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to go on, bit-identically, in another sequencer (picklable)."""
        transport = self.transport
        return {
            "transport": [transport.running, transport.sample, transport.beat,
                          transport.samples_per_beat],
            "tempo": [self.tempo_at, self.tempo_bpm],
            "tracks": {
                mid: {
                    "config": _config_state(t.config),
                    "pending": None if t.pending is None else _config_state(t.pending),
                    "gate": t.gate, "transpose": t.transpose, "lanes": dict(t.lanes),
                    "running": t.running, "anchor": t.anchor, "pending_run": t.pending_run,
                    "pending_at": t.pending_at, "cycle": t.cycle, "index": t.index,
                }
                for mid, t in self.tracks.items()
            },
            "fired": self.events_fired,
        }  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from another sequencer's `state()`."""
        transport = self.transport
        running, sample, beat, samples_per_beat = state["transport"]
        transport.running, transport.sample = bool(running), int(sample)
        transport.beat, transport.samples_per_beat = Fraction(beat), Fraction(samples_per_beat)
        self.tempo_at, self.tempo_bpm = state["tempo"][0], float(state["tempo"][1])
        self.tempo_sample = NEVER if self.tempo_at is None else transport.sample_of(self.tempo_at)
        self.tracks = {}
        for mid, entry in state["tracks"].items():
            track = _Track(mid, _load_config(entry["config"]))
            track.pending = None if entry["pending"] is None else _load_config(entry["pending"])
            track.gate, track.transpose = Fraction(entry["gate"]), int(entry["transpose"])
            track.lanes = dict(entry["lanes"])
            track.running, track.anchor = bool(entry["running"]), entry["anchor"]
            track.pending_run, track.pending_at = entry["pending_run"], entry["pending_at"]
            if track.pending_at is not None:
                track.pending_sample = transport.sample_of(track.pending_at)
            track.cycle = int(entry["cycle"])
            track.index = int(entry["index"])
            self._rebuild_actions(track, keep_index=True)
            self.tracks[mid] = track
        self.events_fired = int(state.get("fired", 0))
        self._plan()


def _swung(position: Fraction, swing: Fraction) -> Fraction:
    """Swing: inside each pair of steps the off-beat step starts `swing` of a step later.

    Piecewise linear, so the pair's edges (every other step: beats, bars) never move.
    """
    if not swing:
        return position
    pair = math.floor(position / 2)
    within = position - 2 * pair
    if within < 1:
        return 2 * pair + within * (1 + swing)
    return 2 * pair + (1 + swing) + (within - 1) * (1 - swing)


def _config_state(config: _Config) -> list[Any]:
    text = None if config.pattern is None else config.pattern.text
    return [text, config.division, config.swing]


def _load_config(entry: list[Any]) -> _Config:
    text, division, swing = entry
    pattern = None if text is None else parse_pattern(str(text))
    return _Config(pattern, int(division), Fraction(swing))
