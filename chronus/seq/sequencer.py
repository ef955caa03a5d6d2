"""The sequencer: tracks of patterns played on the engine's sample clock.

It lives inside the `Renderer` of every slot and of offline renders. Its position is a pure
function of the sample clock and the stamped commands it was given: the transport maps beats
to samples with exact fractions (`sample_of`), so both slots fire every note on the same
sample, forever, with no drift. Changes of pattern, step, swing, tempo and per-track
start/stop wait for the next bar line unless sent with `now`; gate, transpose and lanes act
at once. Everything it knows is in `state()`, so a hand-over continues on the same beat.

The renderer asks `next_sample` (a plain int: no work when nothing is due in a block) and
calls `fire(sample)` exactly there; `fire` plays notes and sets parameters through a
`Performer`, the graph's narrow interface for it. Each track reads its pattern's tables in
place (`track.Track`), so a new pattern, a new cycle and each note cost the same for any
pattern; a pattern parsed elsewhere (the engine's supervisor) is never parsed here.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from chronus.seq.lanes import parse_lane
from chronus.seq.notation import parse_cached as parse_pattern
from chronus.seq.track import HIT_NOTE, NEVER, Config, Performer, Track
from chronus.seq.transport import BEATS_PER_BAR, Transport, exact

__all__ = ["BEATS_PER_BAR", "HIT_NOTE", "NEVER", "Performer", "Sequencer", "exact"]


class Sequencer:
    """Every track, the transport and a tempo change waiting for its bar line."""

    def __init__(self, sample_rate: int) -> None:
        self.transport = Transport(int(sample_rate))
        self.tracks: dict[str, Track] = {}
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
                track.begin(transport, Fraction(0), Fraction(0))
        self._plan()

    def stop(self, performer: Performer) -> None:
        """Stop the transport; every track falls silent (the graph releases the notes)."""
        transport = self.transport
        transport.running = False
        for track in self.tracks.values():
            self._settle(track)
            track.silence()
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
            track = self.tracks[module_id] = Track(module_id)
        if action == "gate":
            track.gate = exact(args[0])
            track.retime(self.transport)
        elif action == "transpose":
            track.transpose = int(args[0])
        elif action == "lane":
            track.set_lane(str(args[0]), parse_lane(str(args[1])), self.transport, sample)
        elif action in ("start", "stop"):
            self._run(track, action == "start", sample, performer)
        else:
            now = action == "pattern" and len(args) > 1 and int(args[1]) == 1
            config = Config(**vars(track.pending or track.config))
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
            for track in self.tracks.values():  # `next_sample()`, written out: 64 tracks a 16th
                if track.head <= sample or track.pending_sample <= sample:
                    self._fire_track(track, sample, performer)
            self._plan()

    def _fire_track(self, track: Track, sample: int, performer: Performer) -> None:
        while track.next_sample() <= sample:
            if track.pending_sample <= sample:
                self._switch(track, performer)
                continue
            self.events_fired += track.play(self.transport, performer)

    # -- internals ---------------------------------------------------------------------

    def _set_tempo(self, bpm: float, performer: Performer) -> None:
        """The transport has been rebased where the tempo changes: retime everything after."""
        self.transport.set_tempo(bpm)
        performer.set_tempo(bpm)
        self.tempo_at, self.tempo_sample = None, NEVER
        for track in self.tracks.values():
            self._pend(track, track.pending_at)
            track.retime(self.transport)

    def _settle(self, track: Track) -> None:
        """Take the track's waiting change now (the transport starts or stops)."""
        if track.pending is not None:
            self._configure(track, track.pending)
        if track.pending_run is not None:
            track.running = track.pending_run
        self._pend(track, None)

    def _pend(self, track: Track, beat: Fraction | None) -> None:
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
        due = self.tempo_sample
        for track in self.tracks.values():  # the least `next_sample()`, written out
            if track.head < due:
                due = track.head
            if track.pending_sample < due:
                due = track.pending_sample
        self.next_sample = due

    def _change(self, track: Track, config: Config, plays: bool, now: bool, sample: int) -> None:
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
                track.begin(transport, bar, beat)
            return
        if track.anchor is None and track.pending_at is None and not plays:
            self._configure(track, config)
            return
        self._pend(track, transport.next_bar(sample))
        track.pending = config
        if plays:
            track.pending_run = True

    def _configure(self, track: Track, config: Config) -> None:
        track.config = config

    def _run(self, track: Track, running: bool, sample: int, performer: Performer) -> None:
        transport = self.transport
        if not transport.running:
            track.running = running
            if running:
                self.start(sample)
            return
        pending = track.pending
        self._pend(track, transport.next_bar(sample))
        track.pending, track.pending_run = pending, running

    def _switch(self, track: Track, performer: Performer) -> None:
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
            track.begin(self.transport, at, at)
        else:
            track.silence()

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
                    "pending_at": t.pending_at, "place": list(t.place()),
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
            track = Track(mid, _load_config(entry["config"]))
            track.pending = None if entry["pending"] is None else _load_config(entry["pending"])
            track.gate, track.transpose = Fraction(entry["gate"]), int(entry["transpose"])
            for name, values in entry["lanes"].items():
                track.set_lane(name, tuple(values), transport, transport.sample)
            track.running, track.anchor = bool(entry["running"]), entry["anchor"]
            track.pending_run, track.pending_at = entry["pending_run"], entry["pending_at"]
            if track.pending_at is not None:
                track.pending_sample = transport.sample_of(track.pending_at)
            cycle, event, step, lane = (int(n) for n in entry["place"])
            track.restore(transport, (cycle, event, step, lane))
            self.tracks[mid] = track
        self.events_fired = int(state.get("fired", 0))
        self._plan()


def _config_state(config: Config) -> list[Any]:
    text = None if config.pattern is None else config.pattern.text
    return [text, config.division, config.swing]


def _load_config(entry: list[Any]) -> Config:
    text, division, swing = entry
    pattern = None if text is None else parse_pattern(str(text))
    return Config(pattern, int(division), Fraction(swing))
