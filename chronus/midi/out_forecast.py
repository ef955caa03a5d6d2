"""MIDI out a little ahead of the slots: what the MIDI process is sent, and when.

The events before the supervisor's next stamp are final (no command can land before it),
but they are final only a lead ahead of the device: a supervisor that wakes every 10 ms
would hand many of them over late. The schedule is a pure function of the stamped
commands, so the events of the next `horizon` are known too, unless a command changes
them. So there are two schedules: `final`, at the next stamp, and a `forecast` (a copy of
`final` played on to the horizon) whose events are the ones sent. A command stamped before
the forecast's end makes it void: the MIDI process drops what it holds from the next stamp
on (`Batch.retract_from`: the command's stamp), and a new forecast from `final` sends them
again as they now are.
A command the schedule ignores (a parameter, a gate) changes nothing here.

>>> from chronus.protocol import validate
>>> forecast = MidiForecast(48000)
>>> forecast.route("bass", 0, 0)
>>> for message in (validate("/patch/create", ("bass", "saw")),
...                 validate("/seq/bass/pattern", ("c2 . eb2 .",))):
...     forecast.command(message, 0)
>>> batch = forecast.tick(final_until=128, horizon_until=14000)
>>> batch.retract_from, [(e.sample, e.data[:2]) for e in batch.events]
(None, [(0, (144, 36)), (3000, (128, 36)), (12000, (144, 39))])
>>> forecast.command(validate("/seq/bass/pattern", ("g2 g2", 1)), 6000)
>>> batch = forecast.tick(final_until=6000, horizon_until=14000)
>>> batch.retract_from, [(e.sample, e.data[:2]) for e in batch.events]
(6000, [(6000, (144, 43)), (9000, (128, 43)), (12000, (144, 43))])
"""

from __future__ import annotations

import copy
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Final

from chronus.midi.out_schedule import MidiEvent, MidiSchedule
from chronus.protocol import Message
from chronus.seq.sequencer import NEVER

__all__ = ["SCHEDULED", "Batch", "MidiForecast", "ScheduleSeed"]

SCHEDULED: Final = ("/seq/", "/tempo", "/patch/", "/panic")
"""The commands the schedule follows (the prefixes of their addresses)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """What the MIDI process is told in one tick: drop what it holds from `retract_from`
    on (None: nothing), then take `events`."""

    retract_from: int | None
    events: list[MidiEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScheduleSeed:
    """Where a supervisor that takes over starts MIDI out's sequencer: the commands that
    build the slot's patch, its sequencer's `state()` at sample `position`, and the commands
    still to apply, at their samples."""

    building: list[Message]
    sequencer: dict[str, Any] | None
    position: int
    timed: list[tuple[int, Message]]


@dataclass(frozen=True, slots=True, order=True)
class _Change:
    stamp: int
    seq: int
    kind: str = field(compare=False)
    message: Message | None = field(compare=False, default=None)
    module: str = field(compare=False, default="")
    value: int = field(compare=False, default=0)


class MidiForecast:
    """The final schedule, the forecast and the changes waiting for either."""

    def __init__(self, rate: int) -> None:
        self.final = MidiSchedule(rate, {})
        self._final_at = 0
        self._forecast: MidiSchedule | None = None
        self._forecast_at = 0
        self._waiting: list[_Change] = []
        self._sent_until = 0
        """The end of what the MIDI process was sent."""
        self._void_from = NEVER
        """The first sample a void forecast may have sent wrong (NEVER: none)."""
        self._seq = itertools.count()
        self.rebuilt = 0
        """How many times a forecast was made void (for the status)."""

    def command(self, message: Message, stamp: int) -> None:
        """A command stamped at `stamp` (as sent to the slots)."""
        if message.address.startswith(SCHEDULED):
            self._add(_Change(stamp, next(self._seq), "command", message))

    def route(self, module: str, channel: int | None, stamp: int) -> None:
        """Send `module`'s notes on MIDI `channel` from `stamp` (None: stop, its sounding
        notes let go there)."""
        value = -1 if channel is None else channel
        self._add(_Change(stamp, next(self._seq), "route", module=module, value=value))

    def clock(self, on: bool, stamp: int) -> None:
        """Send the MIDI clock from `stamp`, or stop sending it."""
        self._add(_Change(stamp, next(self._seq), "clock", value=int(on)))

    def _add(self, change: _Change) -> None:
        if self._forecast is not None and change.stamp < self._forecast_at:
            self._forecast = None
            self._void_from = min(change.stamp, self._void_from)
        heapq.heappush(self._waiting, change)

    def tick_final(self, final_until: int) -> list[MidiEvent]:
        """Bring `final` alone to `final_until` (nothing is sent out: no forecast is made);
        its events."""
        final_until = max(final_until, self._final_at)
        waiting = self._waiting
        while waiting and waiting[0].stamp < final_until:
            _apply(self.final, heapq.heappop(waiting), self._final_at)
        self._final_at = final_until
        return self.final.events_until(final_until)

    def idle(self, final_until: int) -> None:
        """A tick with no MIDI out: `final` alone goes on (no copy is made)."""
        self.tick_final(final_until)
        self._forecast = None
        self._void_from = self._sent_until = self._final_at

    def tick(self, final_until: int, horizon_until: int) -> Batch:
        """Bring `final` to `final_until` (the next stamp) and the forecast to
        `horizon_until`; the batch for the MIDI process."""
        final_events = self.tick_final(final_until)
        final_until = self._final_at
        waiting = self._waiting
        retract: int | None = None
        events: list[MidiEvent] = []
        start = 0
        forecast = self._forecast
        if forecast is None or self._forecast_at < final_until:
            start = min(self._void_from, self._sent_until)  # what was sent before is right
            retract = start if start < self._sent_until else None
            events = [e for e in final_events if e.sample >= start]
            forecast = self._forecast = copy.deepcopy(self.final)
            self._forecast_at, self._void_from = final_until, NEVER
            self.rebuilt += 1
        for change in sorted(c for c in waiting if c.stamp < horizon_until):
            if change.stamp >= self._forecast_at:
                events += forecast.events_until(change.stamp)
                _apply(forecast, change, change.stamp)
        horizon_until = max(horizon_until, self._forecast_at)
        events += forecast.events_until(horizon_until)
        self._forecast_at = self._sent_until = horizon_until
        return Batch(retract, [e for e in events if e.sample >= start])

    def seed(self, seed: ScheduleSeed) -> None:
        """Start from a slot's state (a supervisor that takes over: no command before it
        reached this one)."""
        self.final = MidiSchedule(self.final.sequencer.transport.sample_rate, {})
        self.final.load(seed.building, seed.sequencer, seed.position)
        self._final_at = self._sent_until = seed.position
        self._forecast, self._void_from, self._waiting = None, NEVER, []
        for stamp, message in seed.timed:
            self.command(message, max(stamp, seed.position))

    def resend(self) -> None:
        """The MIDI process is new and holds nothing: send everything from the next stamp
        again."""
        self._forecast = None
        self._void_from = self._sent_until = self._final_at

    @property
    def final_at(self) -> int:
        """Where the final schedule is (the next stamp at the last tick)."""
        return self._final_at

    @property
    def channels(self) -> dict[str, int]:
        """The tracks sent out now (as the final schedule has them)."""
        return self.final.channels


def _apply(schedule: MidiSchedule, change: _Change, earliest: int) -> None:
    stamp = max(change.stamp, earliest)
    if change.kind == "command":
        assert change.message is not None
        schedule.apply(change.message, stamp)
    elif change.kind == "route":
        schedule.route(change.module, None if change.value < 0 else change.value, stamp)
    else:
        schedule.set_clock(bool(change.value), stamp)
