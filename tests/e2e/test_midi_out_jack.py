"""MIDI out on JACK, end to end: the engine sends a track's notes and the MIDI clock to a
test JACK client, which dates each message by the frame it arrived on (JACK's own
`last_frame_time + offset`) and records the engine's audio output beside it: each note
arrives on the frame its sound leaves the engine, and the clock ticks 24 times a beat."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.midi.out_schedule import MidiEvent, MidiSchedule
from chronus.protocol import Message, validate
from chronus.session.stamped_log import read_stamped_log
from tests.conftest import require_jack
from tests.jack_midi_reader import MidiReader
from tests.onsets import onsets
from tests.processes import answered_after_takeover, descendants, gone
from tests.sessions import crisp_bass

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

RATE = 48000
BOUND_FRAMES = 24
"""0.5 ms at 48 kHz: the issue's bound on MIDI out's timing error."""
PERIOD_FRAMES = 128
"""The JACK dummy server's period in CI (`jackd -d dummy -p 128`)."""
BPM = 125.0
RESTART_WAIT_S = 20.0
AT_ONCE_FRAMES = 2400
"""50 ms: an event this soon after the command that makes it may be late (`_at_once`), by
at most this much."""
PATTERN = "c2 eb2 . g2 c3 . bb2 ."


@pytest.fixture
def synth() -> Iterator[MidiReader]:
    """A test JACK MIDI input, `chronus-test-synth:in`, that also records audio."""
    reader = MidiReader("chronus-test-synth", audio=True)
    yield reader
    reader.close()


def test_a_track_plays_an_external_synth_on_the_frames_its_notes_sound(
    tmp_path: Path, synth: MidiReader
) -> None:
    require_jack()
    engine = _boot_heard(synth, tmp_path)
    try:
        with engine.client() as client:
            client.send(crisp_bass(BPM))
            client.sync()
            outs = json.loads(str(client.ask("/midi/outs", timeout=30.0)[0]))
            assert [i for i, name in outs if name == synth.name]
            assert client.ask("/midi/out", "bass", "test-synth", 3, timeout=30.0) == (
                "bass", synth.name, 3,
            )  # fmt: skip
            assert json.loads(str(client.ask("/midi/clock", "on")[0])) == [synth.name]
            time.sleep(0.5)  # the ports connect, the sample clock settles
            client.send([validate("/seq/bass/pattern", (PATTERN,))])
            time.sleep(4.0)
            client.send([validate("/seq/stop", ())])
            time.sleep(0.5)
            client.sync()
            whole = client.status()
            status, xruns = whole["engine"]["midi_out"], whole["io"]["xruns"]
            assert client.ask("/midi/out", "bass", "off") == ("bass", "off", 0)
    finally:
        assert engine.quit() == 0
    got = synth.messages()
    session = read_stamped_log(tmp_path / "s.log")
    expected = _schedule(session.commands, channel=2)
    sent = [e for e in expected if e.data[0] & 0xF0 in (0x80, 0x90)]
    notes = [(f, d) for f, d in got if d[0] & 0xF0 in (0x80, 0x90)]
    print(f"\nMIDI out: status {status}, {len(notes)} notes, {len(got)} messages")
    assert [tuple(d) for _, d in notes[: len(sent)]] == [e.data for e in sent]
    assert len(notes) == len(sent) + 0, "every note on has its note off"
    frames = np.array([f for f, _ in notes], dtype=np.int64)
    samples = np.array([e.sample for e in sent], dtype=np.int64)
    at_once = _at_once(samples, [stamp for stamp, m in session.commands])
    delta = frames - samples
    ahead = delta[~at_once]
    # An xrun (a host stall) moves the sample clock against JACK's frames by whole periods,
    # the sound and the notes alike: between xruns the spacing is exact, and each note still
    # goes when it sounds (against the audio, below).
    periods = np.round((ahead - ahead.min()) / PERIOD_FRAMES).astype(np.int64)
    within = ahead - ahead.min() - periods * PERIOD_FRAMES
    assert int(within.max() - within.min()) <= BOUND_FRAMES, "notes keep their spacing"
    assert len(set(periods.tolist())) <= 1 + xruns, f"moved by whole periods, {xruns} xruns"
    # Against the nearest note sent ahead: the frames' mapping it was sent under.
    nearest = np.abs(samples[~at_once][None, :] - samples[at_once][:, None]).argmin(axis=1)
    late = delta[at_once] - ahead[nearest]
    assert at_once.sum() <= 4 and (late >= 0).all() and (late <= AT_ONCE_FRAMES).all()

    is_on = np.array([d[0] & 0xF0 == 0x90 for _, d in notes])
    _check_against_the_audio(synth, list(frames[is_on & ~at_once]))
    ons = list(frames[is_on])

    clock = [(f, d[0]) for f, d in got if d[0] >= 0xF0]
    assert clock[0][1] == 0xF2 and clock[1][1] == 0xFA and clock[-1][1] == 0xFC
    ticks = np.array([f for f, kind in clock if kind == 0xF8], dtype=np.int64)
    per_tick = RATE * 60.0 / BPM / 24
    assert ticks[0] == clock[1][0], "the first tick comes with Start, on beat 0"
    assert ons[0] == clock[1][0], "the pattern starts on beat 0"
    steps = np.diff(ticks[ticks >= ticks[0] + AT_ONCE_FRAMES])
    moved = np.round((steps - per_tick) / PERIOD_FRAMES).astype(np.int64)  # by xruns, above
    assert np.count_nonzero(moved) <= xruns
    steps = steps - moved * PERIOD_FRAMES
    assert abs(steps.mean() - per_tick) < 0.01 and steps.max() - steps.min() <= 1
    beats = (clock[-1][0] - ticks[0] - int(moved.sum()) * PERIOD_FRAMES) / (per_tick * 24)
    assert abs(len(ticks) - 24 * beats) <= 1.0, "24 ticks a beat until Stop"


def _at_once(samples: npt.NDArray[np.int64], stamps: list[int]) -> npt.NDArray[np.bool_]:
    """Which events fall within `AT_ONCE_FRAMES` after a command's stamp: those a command
    makes (a pattern's first note, a stop's note offs) reach the MIDI process only the
    slots' lead ahead, and may be late on a busy machine (the rest go 100 ms ahead)."""
    marks = np.array(sorted(stamps), dtype=np.int64)
    last = marks[np.searchsorted(marks, samples, side="right") - 1]
    return np.asarray(samples - last < AT_ONCE_FRAMES)


def _check_against_the_audio(synth: MidiReader, ons: list[int]) -> None:
    """Each note on arrived on the frame its sound left the engine (the nearest onset in
    its audio: the notes are thousands of frames apart)."""
    audio = synth.audio()
    heard = np.array([audio.first_frame + h for h in onsets(audio.samples[:, None], 1e-4, 600)])
    assert len(heard) >= len(ons) > 8
    errors = [int(m - heard[np.argmin(np.abs(heard - m))]) for m in ons]
    print(f"MIDI note on less audio onset, frames: {errors}")
    assert max(abs(e) for e in errors) <= BOUND_FRAMES, "each note goes when it sounds"


def _boot_heard(synth: MidiReader, tmp_path: Path) -> EngineProcess:
    """An engine on JACK whose audio `synth` records."""
    before = synth.audio_clients()
    engine = EngineProcess(
        port=0, backend="device", extra_args=["--log", str(tmp_path / "s.log")]
    ).boot()
    deadline = time.monotonic() + 20.0
    while not (came := synth.audio_clients() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    (audio_client,) = came
    synth.listen_to(audio_client)
    return engine


def _senders(engine: EngineProcess) -> list[int]:
    found = []
    for pid in descendants(engine.process.pid):  # type: ignore[union-attr]
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"MIDI out" in command or b"chronus.midi.sender" in command:
                found.append(pid)
        except OSError:
            continue
    return found


def test_a_killed_midi_out_process_is_replaced_and_the_notes_go_on(
    tmp_path: Path, synth: MidiReader
) -> None:
    require_jack()
    engine = _boot_heard(synth, tmp_path)
    try:
        with engine.client() as client:
            client.send(crisp_bass())
            client.ask("/midi/out", "bass", "test-synth", timeout=30.0)
            time.sleep(0.3)
            client.send([validate("/seq/bass/pattern", ("c2 eb2 g2 c3",))])
            time.sleep(1.0)
            (first,) = _senders(engine)
            os.kill(first, signal.SIGKILL)
            killed_frame = synth.client.frame_time
            _until_notes_after(synth, killed_frame)
            (second,) = _senders(engine)
            client.sync()
            status = client.status()
        assert second != first and status["engine"]["midi_out"]["restarts"] == 1
    finally:
        assert engine.quit() == 0
    assert gone({second}), "the MIDI-out process ends with the engine"
    ons = [f for f, d in synth.messages() if d[0] & 0xF0 == 0x90]
    after = [f for f in ons if f > killed_frame]
    print(f"MIDI out back {(after[0] - killed_frame) / RATE:.2f} s after the kill")
    _check_against_the_audio(synth, [f for f in ons[1:] if f != after[0]])  # sent at once


def _until_notes_after(synth: MidiReader, frame: int, count: int = 10) -> None:
    """Wait (at most `RESTART_WAIT_S`) until `count` note ons came after `frame`: a new
    MIDI-out process starts Python, numpy and a JACK client (seconds on a busy machine)."""
    deadline = time.monotonic() + RESTART_WAIT_S
    while time.monotonic() < deadline:
        ons = [f for f, d in synth.messages() if d[0] & 0xF0 == 0x90 and f > frame]
        if len(ons) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} notes within {RESTART_WAIT_S} s")


def _standby_supervisor(client: EngineClient) -> dict[str, Any]:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        status = client.status()
        if status["engine"]["supervisor"]["standby"]:
            return status
        time.sleep(0.1)
    raise AssertionError("no standby supervisor")


def test_after_a_supervisor_takeover_midi_out_goes_on_where_the_slots_are(
    tmp_path: Path, synth: MidiReader
) -> None:
    """The MIDI-out process ends with its supervisor (All Notes Off first); the one that
    takes over starts MIDI out's sequencer from a slot's state and sends on to the same
    ports (the manifest keeps them): the notes go on in the pattern's order, each with its
    sound."""
    require_jack()
    engine = _boot_heard(synth, tmp_path)
    cycle = [36, 39, 43, 48]
    try:
        with engine.client() as client:
            client.send(crisp_bass())
            client.ask("/midi/out", "bass", "test-synth", timeout=30.0)
            client.send([validate("/seq/bass/pattern", ("c2 eb2 g2 c3",))])
            old = _standby_supervisor(client)["engine"]["supervisor"]["pid"]
            (first,) = _senders(engine)
            # The old process has played: it has notes to let go of (one that sent none
            # would end without All Notes Off, and the first would be the new one's at quit).
            _until_notes_after(synth, 0, count=1)
            os.kill(old, signal.SIGKILL)
            answered_after_takeover(client, lambda s: s["engine"]["supervisor"]["restarts"] == 1)
            assert gone({first}), "the MIDI-out process ends with its supervisor"
            _until_notes_after(synth, synth.client.frame_time)
            routes = client.status()["engine"]["midi_out"]["routes"]
    finally:
        assert engine.quit() == 0
    assert routes == {"bass": {"port": synth.name, "channel": 1}}, "sent on by the new one"
    got = synth.messages()
    let_go = [tuple(d) for _, d in got].index((0xB0, 123, 0))  # All Notes Off as it ends
    again = [(f, d[1]) for f, d in got[let_go:] if d[0] == 0x90]
    assert len(again) >= 8
    start = cycle.index(again[0][1])
    assert [n for _, n in again] == [cycle[(start + i) % 4] for i in range(len(again))]
    _check_against_the_audio(synth, [f for f, _ in again[1:]])  # the first: sent at once


def _schedule(commands: list[tuple[int, Message]], channel: int) -> list[MidiEvent]:
    schedule = MidiSchedule(RATE, {"bass": channel})
    for stamp, message in commands:
        schedule.apply(message, stamp)
    return schedule.events_until(1 << 40)
