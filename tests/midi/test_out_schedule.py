"""MIDI out's schedule: a track's notes as MIDI, on the very samples the slots play them."""

from __future__ import annotations

import itertools

from chronus.midi.out_schedule import MidiEvent, MidiSchedule
from chronus.protocol import Message, validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import StampedSession
from tests.onsets import onsets

RATE = 48000


def _commands() -> list[tuple[int, Message]]:
    return [
        (0, validate("/patch/create", ("bass", "saw"))),
        (0, validate("/patch/connect", ("bass", "master"))),
        (0, validate("/mod/bass/attack", (0.0,))),
        (0, validate("/mod/bass/release", (0.002,))),
        (0, validate("/patch/create", ("lead", "saw"))),
        (0, validate("/tempo", (133.0, 1))),
        (1000, validate("/seq/bass/pattern", ("c2 . eb2 . g2 c3 . [c2 c2]",))),
        (1000, validate("/seq/lead/pattern", ("c4 c4 c4 c4",))),
        (70_000, validate("/seq/bass/transpose", (5,))),
        (150_000, validate("/seq/bass/pattern", ("f2 . . .",))),
    ]


def _schedule(commands: list[tuple[int, Message]], until: int, step: int) -> list[MidiEvent]:
    schedule = MidiSchedule(RATE, {"bass": 0})
    events: list[MidiEvent] = []
    pending = list(commands)
    for edge in range(step, until + step, step):
        while pending and pending[0][0] < edge:
            stamp, message = pending.pop(0)
            events += schedule.events_until(stamp)
            schedule.apply(message, stamp)
        events += schedule.events_until(edge)
    return events


def test_note_ons_fall_on_the_samples_the_render_plays_them() -> None:
    frames = 200_000
    events = _schedule(_commands(), frames, 128)
    ons = [e.sample for e in events if e.data[0] == 0x90]
    audio = render_session(StampedSession(RATE, 128, _commands()), frames)
    heard = onsets(audio, threshold=1e-6, quiet=600)
    assert len(ons) > 12
    assert ons == heard


def test_every_note_on_has_its_off_and_the_notes_are_the_patterns() -> None:
    events = _schedule(_commands(), 200_000, 128)
    ons = [e for e in events if e.data[0] == 0x90]
    offs = [e for e in events if e.data[0] == 0x80]
    assert [e.data[1] for e in ons][:7] == [36, 39, 43, 48, 36, 36, 36]
    assert 41 + 5 in [e.data[1] for e in ons], "f2 transposed by 5"
    assert all(e.data[2] > 0 for e in ons)
    assert sorted(e.data[1] for e in offs) == sorted(e.data[1] for e in ons[: len(offs)])
    assert len(ons) - len(offs) <= 1, "only the last note may still sound at the end"


def test_the_schedule_is_the_same_in_any_pieces() -> None:
    whole = _schedule(_commands(), 200_000, 200_000)
    assert whole == _schedule(_commands(), 200_000, 128) == _schedule(_commands(), 200_000, 17)


def test_a_stop_sends_the_note_offs_at_once() -> None:
    schedule = MidiSchedule(RATE, {"bass": 0})
    for message in _commands()[:2]:
        schedule.apply(message[1], 0)
    schedule.apply(validate("/seq/bass/gate", (1.0,)), 0)
    schedule.apply(validate("/seq/bass/pattern", ("c2",)), 0)
    schedule.apply(validate("/seq/stop", ()), 5000)
    assert schedule.events_until(100_000) == [
        MidiEvent(0, "bass", (0x90, 36, 100)),
        MidiEvent(5000, "bass", (0x80, 36, 0)),
    ]


def _clocked(bpm: float) -> MidiSchedule:
    schedule = MidiSchedule(RATE, {"bass": 0}, clock=True)
    schedule.apply(validate("/patch/create", ("bass", "saw")), 0)
    schedule.apply(validate("/tempo", (bpm, 1)), 0)
    return schedule


def test_the_clock_ticks_24_times_a_beat_between_start_and_stop() -> None:
    schedule = _clocked(120.0)
    schedule.apply(validate("/seq/bass/pattern", ("c2",)), 1000)
    schedule.apply(validate("/seq/stop", ()), 1000 + 2 * 24000 + 10)
    events = [e for e in schedule.events_until(200_000) if e.port == ""]
    assert [e.data for e in events[:3]] == [(0xF2, 0, 0), (0xFA,), (0xF8,)]
    assert events[0].sample == events[1].sample == events[2].sample == 1000
    ticks = [e.sample for e in events if e.data == (0xF8,)]
    assert len(ticks) == 2 * 24 + 1, "two beats of ticks, and the one on the third beat"
    assert {b - a for a, b in itertools.pairwise(ticks)} == {1000}, "24000 samples a beat / 24"
    assert events[-1] == MidiEvent(1000 + 2 * 24000 + 10, "", (0xFC,))


def test_a_tempo_change_moves_the_ticks_after_it() -> None:
    schedule = _clocked(120.0)
    schedule.apply(validate("/seq/start", ()), 0)
    schedule.apply(validate("/tempo", (150.0, 1)), 12_000)
    ticks = [e.sample for e in schedule.events_until(30_000) if e.data == (0xF8,)]
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert set(steps[:12]) == {1000} and set(steps[12:]) == {800}
    assert ticks[12] == 12_000, "the change falls on a tick: it stays where it was"


def test_a_clock_turned_on_mid_bar_starts_at_the_next_tick() -> None:
    schedule = MidiSchedule(RATE, {})
    schedule.apply(validate("/seq/start", ()), 0)
    schedule.set_clock(True, 1500)
    events = schedule.events_until(4000)
    assert [e.sample for e in events] == [2000, 3000], "no Start: the transport runs already"


def test_a_track_routed_off_lets_go_of_its_note_there() -> None:
    schedule = MidiSchedule(RATE, {"bass": 4})
    schedule.apply(validate("/patch/create", ("bass", "saw")), 0)
    schedule.apply(validate("/seq/bass/gate", (1.0,)), 0)
    schedule.apply(validate("/seq/bass/pattern", ("c2",)), 0)
    schedule.route("bass", None, 700)
    assert schedule.events_until(100_000) == [
        MidiEvent(0, "bass", (0x94, 36, 100)),
        MidiEvent(700, "bass", (0x84, 36, 0)),
    ]


def test_a_command_the_schedule_cannot_apply_changes_nothing() -> None:
    schedule = MidiSchedule(RATE, {"bass": 0})
    schedule.apply(validate("/patch/remove", ("gone",)), 0)
    schedule.apply(validate("/seq/gone/pattern", ("c2",)), 0)
    assert schedule.events_until(48_000) == []
