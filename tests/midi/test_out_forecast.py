"""MIDI out's forecast: what the MIDI process ends up holding is what the final schedule
plays, however the commands fall against the ticks and the horizon."""

from __future__ import annotations

import random

from chronus.midi.out_forecast import MidiForecast
from chronus.midi.out_schedule import MidiEvent, MidiSchedule
from chronus.protocol import Message, validate

RATE = 48000
HORIZON = 4800


def _commands(seed: int) -> list[tuple[int, Message]]:
    """A session: a pattern, then changes at random stamps, some `now`."""
    rng = random.Random(seed)
    out = [
        (0, validate("/patch/create", ("bass", "saw"))),
        (0, validate("/patch/create", ("lead", "saw"))),
        (500, validate("/seq/bass/pattern", ("c2 eb2 . g2",))),
        (500, validate("/seq/lead/pattern", ("c4 . c5",))),
    ]
    stamp = 500
    for _ in range(25):
        stamp += rng.randrange(50, 9000)
        kind = rng.randrange(5)
        if kind == 0:
            out.append((stamp, validate("/seq/bass/pattern", ("c2 f2 . bb2 c3", 1))))
        elif kind == 1:
            out.append((stamp, validate("/seq/bass/transpose", (rng.randrange(-5, 6),))))
        elif kind == 2:
            out.append((stamp, validate("/tempo", (float(rng.randrange(90, 170)), 1))))
        elif kind == 3:
            out.append((stamp, validate("/seq/bass/gate", (rng.choice([0.2, 0.5, 0.9]),))))
        else:
            out.append((stamp, validate("/mod/bass/cutoff", (400.0,))))  # ignored by MIDI
    return out


def _truth(commands: list[tuple[int, Message]], until: int) -> list[MidiEvent]:
    schedule = MidiSchedule(RATE, {"bass": 1}, clock=True)
    for stamp, message in commands:
        schedule.apply(message, stamp)
    return schedule.events_until(until)


def _process(commands: list[tuple[int, Message]], until: int, step: int) -> list[MidiEvent]:
    """The events a MIDI process holds at the end, fed as the supervisor feeds it: each tick
    the commands stamped since arrive (each at or after the next stamp), then the batch."""
    forecast = MidiForecast(RATE)
    forecast.route("bass", 1, 0)
    forecast.clock(True, 0)
    held: list[MidiEvent] = []
    pending = list(commands)
    for edge in range(0, until + step, step):
        while pending and pending[0][0] < edge + step:
            stamp, message = pending.pop(0)
            forecast.command(message, max(stamp, edge))
        batch = forecast.tick(edge, edge + HORIZON)
        if batch.retract_from is not None:
            held = [e for e in held if e.sample < batch.retract_from]
        held += batch.events
    return [e for e in held if e.sample < until]


def test_the_process_holds_what_the_final_schedule_plays() -> None:
    for seed in range(6):
        commands = _commands(seed)
        until = commands[-1][0] + 20_000
        for step in (128, 480, 1999):
            assert _process(commands, until, step) == _truth(commands, until), (seed, step)


def test_a_command_the_schedule_ignores_leaves_the_forecast_alone() -> None:
    forecast = MidiForecast(RATE)
    forecast.route("bass", 0, 0)
    forecast.command(validate("/patch/create", ("bass", "saw")), 0)
    forecast.command(validate("/seq/bass/pattern", ("c2 c2",)), 0)
    forecast.tick(128, 128 + HORIZON)
    made = forecast.rebuilt
    forecast.command(validate("/mod/bass/cutoff", (300.0,)), 256)
    forecast.command(validate("/gate/bass", (0,)), 256)
    assert forecast.tick(256, 256 + HORIZON).retract_from is None
    assert forecast.rebuilt == made


def test_without_midi_out_nothing_is_copied_and_nothing_sent_twice() -> None:
    forecast = MidiForecast(RATE)
    forecast.command(validate("/patch/create", ("bass", "saw")), 0)
    forecast.command(validate("/seq/bass/pattern", ("c2 c2",)), 0)
    for edge in range(0, 48_000, 128):
        forecast.idle(edge)
    assert forecast.rebuilt == 0
    forecast.route("bass", 0, 48_000)
    batch = forecast.tick(48_000, 48_000 + HORIZON)
    assert batch.retract_from is None and batch.events[0].sample == 48_000


def test_a_forecast_seeded_from_a_slots_state_goes_on_as_the_first_would() -> None:
    """A supervisor that takes over starts MIDI out from a slot's state: the events after
    it are those of a schedule that saw every command from the start."""
    import numpy as np

    from chronus.dsp.patch import Patch
    from chronus.dsp.render import Renderer
    from chronus.midi.out_forecast import ScheduleSeed

    commands = _commands(3)
    position = 128 * 300
    renderer = Renderer(RATE, 128)
    for stamp, message in commands:
        renderer.schedule(stamp, message)
    out = np.zeros((128, 2), dtype=np.float32)
    while renderer.position < position:
        renderer.render(out, 128)
    state = renderer.state()
    building = Patch.messages_of(state["graph"]["patch"])
    timed = [(int(s), m) for s, m in state["pending"]]
    forecast = MidiForecast(RATE)
    forecast.seed(ScheduleSeed(building, state["sequencer"], position, timed))
    forecast.route("bass", 1, position)
    forecast.clock(True, position)
    until = commands[-1][0] + 20_000
    held: list[MidiEvent] = []
    for edge in range(position, until + 128, 128):
        batch = forecast.tick(edge, edge + HORIZON)
        if batch.retract_from is not None:
            held = [e for e in held if e.sample < batch.retract_from]
        held += batch.events
    truth = [e for e in _truth(commands, until) if e.sample >= position]
    notes = [e for e in held if e.sample < until and e.port == "bass"]
    assert notes == [e for e in truth if e.port == "bass"]
    ticks = [e for e in held if e.sample < until and e.data == (0xF8,)]
    assert ticks == [e for e in truth if e.data == (0xF8,) and e.sample >= ticks[0].sample]
