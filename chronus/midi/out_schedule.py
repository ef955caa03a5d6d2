"""MIDI out's schedule: the note on/off a track's pattern plays, each at its sample, and the
MIDI clock of the transport.

The sequencer is a pure function of the stamped commands (`chronus.seq.sequencer`), so MIDI
out needs no audio to know when each note of a track falls: it runs a sequencer of its own
on the same stamped commands the slots get (`apply`), and asks it for the events up to a
sample (`events_until`), as the slots' renderer fires it, with a `Performer` that writes
MIDI instead of sound. The notes land on exactly the samples the slots play them at;
turning a sample into the port's time is the sender's job (`chronus.midi.frames`).

With `clock` on, the transport's start sends song position 0 and Start (0xF2, 0xFA) at
its sample, a Timing Clock (0xF8) falls on every 24th of a beat while it runs (on the
transport's exact beat grid, so a tempo change, a Link nudge included, moves the ticks
after it), and its stop sends Stop (0xFC).

>>> from chronus.protocol import validate
>>> schedule = MidiSchedule(48000, {"bass": 0})
>>> for message in (validate("/patch/create", ("bass", "saw")),
...                 validate("/seq/bass/pattern", ("c2 . eb2 .",))):
...     schedule.apply(message, 0)
>>> [(e.sample, e.data) for e in schedule.events_until(24000)]
[(0, (144, 36, 100)), (3000, (128, 36, 0)), (12000, (144, 39, 100)), (15000, (128, 39, 0))]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from chronus.dsp.errors import PatchError
from chronus.dsp.patch import Patch
from chronus.protocol import Message
from chronus.seq.sequencer import NEVER, Sequencer

__all__ = ["CLOCK", "PPQN", "MidiEvent", "MidiSchedule"]

_NOTE_ON, _NOTE_OFF = 0x90, 0x80
_TIMING_CLOCK, _START, _STOP, _SONG_POSITION = 0xF8, 0xFA, 0xFC, 0xF2
PPQN: Final = 24
"""MIDI clock ticks per beat."""
CLOCK: Final = ""
"""The `port` of the clock's events (a track's events carry its module id)."""
_TICK: Final = Fraction(1, PPQN)


@dataclass(frozen=True, slots=True, order=True)
class MidiEvent:
    """One MIDI message to send at `sample`, on the port of track `port` (`CLOCK`: the
    clock's)."""

    sample: int
    port: str
    data: tuple[int, ...]


def _order(event: MidiEvent) -> tuple[int, bool]:
    """By sample; at one sample, note offs first (a note played again must sound), the rest
    as they came (Start before the clock's first tick)."""
    return event.sample, event.data[0] & 0xF0 != _NOTE_OFF


class _Writer:
    """A `Performer` that writes the notes of the tracks sent out as MIDI events."""

    def __init__(self, channels: dict[str, int]) -> None:
        self.channels = channels
        self.sample = 0
        self.events: list[MidiEvent] = []
        self.sounding: dict[str, list[MidiEvent]] = {}
        """The note offs still due, by module (a stop or a clear sends them at once)."""

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        channel = self.channels.get(module_id)
        if channel is None:
            return
        note = min(127, max(0, round(midi)))
        on = (_NOTE_ON | channel, note, min(127, max(1, round(velocity))))
        self.events.append(MidiEvent(self.sample, module_id, on))
        off = MidiEvent(self.sample + length, module_id, (_NOTE_OFF | channel, note, 0))
        self.sounding.setdefault(module_id, []).append(off)

    def release(self, module_id: str) -> None:
        for off in self.sounding.pop(module_id, []):
            if off.sample > self.sample:
                self.events.append(MidiEvent(self.sample, off.port, off.data))
            else:
                self.events.append(off)

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Lanes move chronus's own parameters: nothing to send."""

    def set_tempo(self, bpm: float) -> None:
        """The notes and the clock's beat grid carry the tempo: nothing to send."""

    def due(self, until: int) -> list[MidiEvent]:
        """Take the events before `until`, note offs included, in order."""
        for module_id, offs in list(self.sounding.items()):
            self.events += [off for off in offs if off.sample < until]
            kept = [off for off in offs if off.sample >= until]
            if kept:
                self.sounding[module_id] = kept
            else:
                del self.sounding[module_id]
        due = sorted((e for e in self.events if e.sample < until), key=_order)
        self.events = [e for e in self.events if e.sample >= until]
        return due


class MidiSchedule:
    """A sequencer fed the stamped commands, writing the notes of the tracks in `channels`
    (module id → MIDI channel 0–15) as MIDI, and the clock when `clock` is on."""

    def __init__(self, rate: int, channels: Mapping[str, int], clock: bool = False) -> None:
        self.patch = Patch()
        self.sequencer = Sequencer(rate)
        self._writer = _Writer(dict(channels))
        self.clock = clock
        """Whether the MIDI clock is sent (`set_clock` changes it)."""
        self._running = False
        self._tick_beat = Fraction(0)

    @property
    def channels(self) -> dict[str, int]:
        """The tracks sent out, with their channels (change it to send others)."""
        return self._writer.channels

    def apply(self, message: Message, sample: int) -> None:
        """A command stamped at `sample`, as the slots apply it (the patch checks it first:
        a command it refuses changes nothing here either). Stamps must not go back."""
        try:
            self._apply(message, sample)
        except PatchError:
            pass  # the slots refused it too, or this copy missed what made it valid

    def _apply(self, message: Message, sample: int) -> None:
        self._advance(sample)
        writer, sequencer, address = self._writer, self.sequencer, message.address
        writer.sample = sample
        if address in ("/seq/stop", "/panic"):  # every note is let go, as the graph does
            self.patch.apply(message)
            if address == "/seq/stop":
                sequencer.stop(writer)
            for module_id in list(writer.sounding):
                writer.release(module_id)
        elif address.startswith(("/seq/", "/tempo", "/patch/")):
            self.patch.apply(message)
            if address == "/tempo":
                args = message.args
                now = len(args) > 1 and int(args[1]) == 1
                sequencer.tempo(float(args[0]), now, sample, writer)
            elif address == "/seq/start":
                sequencer.start(sample)
            elif address == "/patch/remove":
                writer.release(str(message.args[0]))
                sequencer.forget(str(message.args[0]))
            elif address.startswith("/seq/"):
                _, _, module_id, action = address.split("/")
                sequencer.track_message(module_id, action, message.args, sample, writer)
        self._follow_transport(sample)

    def _follow_transport(self, sample: int) -> None:
        """Start and Stop where the transport started or stopped (at `sample`)."""
        transport = self.sequencer.transport
        if transport.running == self._running:
            return
        self._running = transport.running
        if not self.clock:
            self._tick_beat = Fraction(0)
            return
        if transport.running:
            self._tick_beat = Fraction(0)
            at = transport.sample_of(Fraction(0))
            self._writer.events.append(MidiEvent(at, CLOCK, (_SONG_POSITION, 0, 0)))
            self._writer.events.append(MidiEvent(at, CLOCK, (_START,)))
        else:
            self._writer.events.append(MidiEvent(sample, CLOCK, (_STOP,)))

    def load(self, building: list[Message], sequencer: dict[str, Any] | None, at: int) -> None:
        """Start from a slot's state: its patch (the commands that build it) and its
        sequencer's `state()`, at sample `at` (the notes it had sounding are not known)."""
        for message in building:
            try:
                self.patch.apply(message)
            except PatchError:
                continue  # a module of a plugin type not loaded here: no notes to send
        if sequencer is not None:
            self.sequencer.load_state(sequencer)
        self._running = self.sequencer.transport.running
        self._writer.sample = at

    def route(self, module: str, channel: int | None, sample: int) -> None:
        """Send `module`'s notes on `channel` from `sample` on (None: no more; its sounding
        notes are let go there); in stamp order with `apply`."""
        self._advance(sample)
        writer = self._writer
        if channel is None:
            writer.sample = sample
            writer.release(module)
            writer.channels.pop(module, None)
        else:
            writer.channels[module] = channel

    def set_clock(self, on: bool, sample: int) -> None:
        """Send the clock from `sample` on (its next tick), or stop sending it; in stamp
        order with `apply`."""
        self._advance(sample)
        self.clock = on
        if on and self._running:
            beat = self.sequencer.transport.beat_at(sample)
            self._tick_beat = _TICK * -(-beat // _TICK)

    def _next_tick(self) -> int:
        if not (self.clock and self._running):
            return NEVER
        return self.sequencer.transport.sample_of(self._tick_beat)

    def _advance(self, until: int) -> None:
        """Fire the sequencer at every sample before `until` that it has something at (the
        commands at a sample apply before it fires there, as in the slots), and tick the
        clock between (a tempo change on a tick's sample applies first)."""
        sequencer, writer = self.sequencer, self._writer
        while True:
            fire, tick = sequencer.next_sample, self._next_tick()
            if min(fire, tick) >= until:
                return
            if fire <= tick:
                writer.sample = fire
                sequencer.fire(fire, writer)
            else:
                writer.events.append(MidiEvent(tick, CLOCK, (_TIMING_CLOCK,)))
                self._tick_beat += _TICK

    def events_until(self, until: int) -> list[MidiEvent]:
        """Every event before sample `until` not taken yet, in order."""
        self._advance(until)
        return self._writer.due(until)
