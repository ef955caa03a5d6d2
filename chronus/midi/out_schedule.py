"""MIDI out's schedule: the note on/off a track's pattern plays, each at its sample.

The sequencer is a pure function of the stamped commands (`chronus.seq.sequencer`), so a
MIDI-out process needs no audio to know when each note of a track falls: it runs a
sequencer of its own on the same stamped commands the slots get (`apply`), and asks it for
the events up to a sample (`events_until`), as the slots' renderer fires it, with a
`Performer` that writes MIDI instead of sound. The notes land on exactly the samples the
slots play them at; turning a sample into the port's time is the sender's job.

>>> from chronus.protocol import validate
>>> schedule = MidiSchedule(48000, {"bass"})
>>> for message in (validate("/patch/create", ("bass", "saw")),
...                 validate("/seq/bass/pattern", ("c2 . eb2 .",))):
...     schedule.apply(message, 0)
>>> [(e.sample, e.data) for e in schedule.events_until(24000)]
[(0, (144, 36, 100)), (3000, (128, 36, 0)), (12000, (144, 39, 100)), (15000, (128, 39, 0))]
"""

from __future__ import annotations

from dataclasses import dataclass

from chronus.dsp.patch import Patch
from chronus.protocol import Message
from chronus.seq.sequencer import NEVER, Sequencer

__all__ = ["MidiEvent", "MidiSchedule"]

_NOTE_ON, _NOTE_OFF = 0x90, 0x80


@dataclass(frozen=True, slots=True, order=True)
class MidiEvent:
    """One MIDI message to send at `sample`."""

    sample: int
    data: tuple[int, int, int]


class _Writer:
    """A `Performer` that writes the notes of the tracks sent out as MIDI events."""

    def __init__(self, modules: set[str], channel: int) -> None:
        self.modules = modules
        self.channel = channel
        self.sample = 0
        self.events: list[MidiEvent] = []
        self.sounding: dict[str, list[MidiEvent]] = {}
        """The note offs still due, by module (a stop or a clear sends them at once)."""

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        if module_id not in self.modules:
            return
        note = min(127, max(0, round(midi)))
        on = (_NOTE_ON | self.channel, note, min(127, max(1, round(velocity))))
        self.events.append(MidiEvent(self.sample, on))
        off = MidiEvent(self.sample + length, (_NOTE_OFF | self.channel, note, 0))
        self.sounding.setdefault(module_id, []).append(off)

    def release(self, module_id: str) -> None:
        for off in self.sounding.pop(module_id, []):
            if off.sample > self.sample:
                self.events.append(MidiEvent(self.sample, off.data))
            else:
                self.events.append(off)

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Lanes move chronus's own parameters: nothing to send."""

    def set_tempo(self, bpm: float) -> None:
        """The notes carry the tempo: nothing to send."""

    def due(self, until: int) -> list[MidiEvent]:
        """Take the events before `until`, note offs included, in order."""
        for module_id, offs in list(self.sounding.items()):
            self.events += [off for off in offs if off.sample < until]
            kept = [off for off in offs if off.sample >= until]
            if kept:
                self.sounding[module_id] = kept
            else:
                del self.sounding[module_id]
        due = sorted(e for e in self.events if e.sample < until)
        self.events = [e for e in self.events if e.sample >= until]
        return due


class MidiSchedule:
    """A sequencer fed the stamped commands, writing the notes of `modules`' tracks as MIDI
    on `channel` (0–15)."""

    def __init__(self, rate: int, modules: set[str], channel: int = 0) -> None:
        self.patch = Patch()
        self.sequencer = Sequencer(rate)
        self._writer = _Writer(modules, channel)

    @property
    def modules(self) -> set[str]:
        """The tracks sent out (change it to send others)."""
        return self._writer.modules

    def apply(self, message: Message, sample: int) -> None:
        """A command stamped at `sample`, as the slots apply it (the patch checks it first:
        a command it refuses changes nothing here either)."""
        self._advance(sample)
        writer, sequencer, address = self._writer, self.sequencer, message.address
        writer.sample = sample
        if address in ("/seq/stop", "/panic"):  # every note is let go, as the graph does
            self.patch.apply(message)
            if address == "/seq/stop":
                sequencer.stop(writer)
            for module_id in list(writer.sounding):
                writer.release(module_id)
            return
        if not address.startswith(("/seq/", "/tempo", "/patch/")):
            return
        self.patch.apply(message)
        if address == "/tempo":
            args = message.args
            sequencer.tempo(float(args[0]), len(args) > 1 and int(args[1]) == 1, sample, writer)
        elif address == "/seq/start":
            sequencer.start(sample)
        elif address == "/patch/remove":
            writer.release(str(message.args[0]))
            sequencer.forget(str(message.args[0]))
        elif address.startswith("/seq/"):
            _, _, module_id, action = address.split("/")
            sequencer.track_message(module_id, action, message.args, sample, writer)

    def _advance(self, until: int) -> None:
        """Fire the sequencer at every sample before `until` that it has something at (the
        commands at a sample apply before it fires there, as in the slots)."""
        sequencer, writer = self.sequencer, self._writer
        while sequencer.next_sample < until and sequencer.next_sample != NEVER:
            writer.sample = sequencer.next_sample
            sequencer.fire(writer.sample, writer)

    def events_until(self, until: int) -> list[MidiEvent]:
        """Every event before sample `until` not taken yet, in order."""
        self._advance(until)
        return self._writer.due(until)
