"""MIDI in on JACK, end to end: a test process plays a JACK MIDI port (rtmidi, the same
library a keyboard's driver would reach through JACK), the engine's MIDI process reads it,
and the recording, the patch and the offline render of the session log all show it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.dsp.specs import param_specs
from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.midi_routes import BEND_CENTS, cc_value
from chronus.protocol import validate
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.conftest import require_jack
from tests.onsets import onsets
from tests.processes import descendants, gone, kill_the_supervisor
from tests.sessions import check_replay

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

NOTES = (36, 43, 48, 55, 60)
CUTOFFS = (10, 40, 80, 120, 64)
GAP_S = 0.4
"""Between two notes: the 20 ms release has long ended, so each note is an onset."""


@pytest.fixture
def keys() -> Iterator[object]:
    """A test JACK MIDI source, `chronus-test-keys:out`."""
    import rtmidi

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="chronus-test-keys")
    out.open_virtual_port("out")
    yield out
    out.close_port()
    out.delete()


def _midi_processes(engine: EngineProcess) -> list[int]:
    """The engine's MIDI processes (by their title, or their module)."""
    found = []
    for pid in descendants(engine.process.pid):  # type: ignore[union-attr]
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"MIDI in" in command or b"chronus.midi.bridge" in command:
            found.append(pid)
    return found


def _engine(tmp_path: Path) -> EngineProcess:
    return EngineProcess(
        port=0, backend="device",
        extra_args=["--log", str(tmp_path / "s.log"), "--record", str(tmp_path / "out.wav")],
    ).boot()  # fmt: skip


def _patch(client: EngineClient) -> None:
    client.send([
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/connect", ("bass", "master")),
        validate("/mod/bass/attack", (0.0,)),
        validate("/mod/bass/release", (0.02,)),
    ])  # fmt: skip
    client.sync()


def _play(keys: object) -> None:
    """The notes, each with its CC move before it, and a pitch bend at the end."""
    for note, cc in zip(NOTES, CUTOFFS, strict=True):
        keys.send_message([0xB0, 74, cc])  # type: ignore[attr-defined]
        time.sleep(0.05)
        keys.send_message([0x90, note, 100])  # type: ignore[attr-defined]
        time.sleep(0.15)
        keys.send_message([0x80, note, 0])  # type: ignore[attr-defined]
        time.sleep(GAP_S)
    keys.send_message([0xE0, 0, 0x60])  # type: ignore[attr-defined] # +4096: a semitone up
    time.sleep(0.2)


def test_a_midi_source_plays_a_synth_and_moves_its_cutoff(tmp_path: Path, keys: object) -> None:
    require_jack()
    engine = _engine(tmp_path)
    try:
        with engine.client() as client:
            _patch(client)
            assert client.ask("/midi/ports", timeout=30.0)[0].find("chronus-test-keys") >= 0
            port, latency_ms = client.ask("/midi/in", "test-keys", "bass", timeout=30.0)
            assert port == "chronus-test-keys:out" and 5.0 < float(latency_ms) < 30.0
            assert client.ask("/midi/map", 74, "bass", "cutoff") == (74, "bass", "cutoff")
            bridge = set(_midi_processes(engine))
            assert len(bridge) == 1
            time.sleep(0.3)  # JACK connects the ports
            _play(keys)
            client.sync()
            patch = client.dump()["modules"]["bass"]["params"]
            status = client.status()
        spec = next(s for s in param_specs("saw") if s.name == "cutoff")
        assert patch["cutoff"] == pytest.approx(cc_value(spec, CUTOFFS[-1]), rel=1e-7)
        assert patch["bend"] == pytest.approx(4096 / 8192 * BEND_CENTS)
        assert status["engine"]["midi"]["port"] == "chronus-test-keys:out"
        late = status["engine"]["osc"]["late"]  # a supervisor held up past an event's time
    finally:
        assert engine.quit() == 0
    assert gone(bridge), "the MIDI process ends with the engine"

    session = read_stamped_log(tmp_path / "s.log")
    notes = [(stamp, m) for stamp, m in session.commands if m.address == "/note/bass"]
    cutoffs = [m.args[0] for _, m in session.commands if m.address == "/mod/bass/cutoff"]
    assert [m.args[0] for _, m in notes] == list(NOTES)
    assert cutoffs == pytest.approx([cc_value(spec, v) for v in CUTOFFS], rel=1e-7)
    recorded, _ = read_wav(tmp_path / "out.wav")
    heard = onsets(recorded, threshold=1e-4, quiet=4800)
    stamps = [stamp for stamp, _ in notes]
    print(f"\nMIDI in: stamps {stamps}, onsets {heard}, {latency_ms} ms, {late} late")
    assert len(heard) == len(NOTES)
    for (stamp, _), onset in zip(notes, heard, strict=True):
        assert 0 <= onset - stamp < 64, "each note sounds from the sample it was stamped at"
    check_replay(tmp_path, status, "MIDI in")


def test_events_too_late_play_where_the_slots_can_logged_there_and_replayed(
    tmp_path: Path, keys: object
) -> None:
    """A latency far below what the engine can keep (1 ms): every event is late, and plays
    from the first block a slot may still be rendering; the log holds the sample each
    played at, so the recording has each note there and the offline render equals it."""
    require_jack()
    engine = _engine(tmp_path)
    try:
        with engine.client() as client:
            _patch(client)
            _, latency_ms = client.ask(
                "/midi/in", "chronus-test-keys:out", "bass", 1.0, timeout=30.0
            )
            assert float(latency_ms) == 1.0
            client.ask("/midi/map", 74, "bass", "cutoff")
            time.sleep(0.3)  # JACK connects the ports
            _play(keys)
            client.sync()
            status = client.status()
    finally:
        assert engine.quit() == 0
    timings = status["engine"]["midi"]["timings"]
    events = 3 * len(NOTES) + 1  # a CC, a note on and off each, a bend
    assert timings["events"] == timings["late"] == events
    assert status["engine"]["osc"]["late"] == events
    assert status["engine"]["divergences"] == 0, "both slots played each late event alike"
    session = read_stamped_log(tmp_path / "s.log")
    notes = [stamp for stamp, m in session.commands if m.address == "/note/bass"]
    heard = onsets(read_wav(tmp_path / "out.wav")[0], threshold=1e-4, quiet=4800)
    assert len(heard) == len(notes) == len(NOTES)
    for stamp, onset in zip(notes, heard, strict=True):
        assert 0 <= onset - stamp < 64, "each note sounds from the sample the log holds"
    check_replay(tmp_path, status, "MIDI in, late")


def test_learn_maps_the_next_cc_moved(tmp_path: Path, keys: object) -> None:
    require_jack()
    engine = EngineProcess(port=0, backend="device").boot()
    try:
        with engine.client() as client:
            _patch(client)
            sent = subprocess.run(
                [sys.executable, "-m", "chronus", "send", "--engine", f"127.0.0.1:{engine.port}",
                 "midi in", "midi in chronus-test-keys to bass"],
                capture_output=True, text=True, timeout=120, check=True,
            )  # fmt: skip
            assert "MIDI sources: " in sent.stdout and "chronus-test-keys:out" in sent.stdout
            assert "MIDI in: chronus-test-keys:out (each event plays" in sent.stdout
            client.send_raw("/midi/learn", "bass", "res")
            time.sleep(0.3)
            keys.send_message([0xB1, 71, 127])  # type: ignore[attr-defined]
            assert client.wait_for("/midi/mapped", timeout=5.0) == (71, "bass", "res")
            keys.send_message([0xB1, 71, 0])  # type: ignore[attr-defined]
            time.sleep(0.1)
            client.sync()
            assert client.dump()["modules"]["bass"]["params"]["res"] == 0.0
            client.send_raw("/midi/in", "nothing-like-this")
            refused = client.wait_for("/error", timeout=30.0)
            assert "no MIDI port 'nothing-like-this'" in str(refused[-1])
    finally:
        assert engine.quit() == 0


def test_the_midi_process_killed_costs_midi_never_sound(keys: object) -> None:
    require_jack()
    engine = EngineProcess(port=0, backend="device").boot()
    try:
        with engine.client() as client:
            _patch(client)
            client.ask("/midi/in", "chronus-test-keys", "bass", timeout=30.0)
            [bridge] = _midi_processes(engine)
            client.send([validate("/seq/bass/pattern", ("c2 eb2 g2 c3",))])
            client.sync()
            time.sleep(0.5)
            start = client.status()
            os.kill(bridge, signal.SIGKILL)
            assert gone({bridge})
            time.sleep(1.0)
            end = client.status()
            events = [e["text"] for e in client.now()["events"]]
        assert end["engine"]["midi"]["port"] is None
        assert any("MIDI in from chronus-test-keys:out stopped" in text for text in events)
        played = end["io"]["blocks_played"] - start["io"]["blocks_played"]
        assert played > 300 and end["io"]["sounding_blocks"] > start["io"]["sounding_blocks"]
        assert end["io"]["underruns"] == start["io"]["underruns"]
    finally:
        assert engine.quit() == 0


def _midi_in_reads(client: EngineClient, port: str, timeout: float = 30.0) -> None:
    """Wait until the engine's MIDI process tells it reads `port`."""
    deadline = time.monotonic() + timeout
    while not any(f"MIDI in reads {port}" in e["text"] for e in client.now()["events"]):
        assert time.monotonic() < deadline, f"no MIDI process read {port} again"
        time.sleep(0.2)


def test_midi_in_and_its_routes_outlive_a_killed_supervisor(tmp_path: Path, keys: object) -> None:
    """SIGKILL the supervisor: the new one reads the same port (the old MIDI process ended,
    so no event comes twice), notes play the same module, the CC map moves the same
    parameter, and the learn asked before the kill completes after it."""
    require_jack()
    engine = EngineProcess(
        port=0, backend="device", extra_args=["--log", str(tmp_path / "s.log")]
    ).boot()
    try:
        with engine.client() as client:
            _patch(client)
            client.ask("/midi/in", "chronus-test-keys", "bass", timeout=30.0)
            client.ask("/midi/map", 74, "bass", "cutoff")
            client.send_raw("/midi/learn", "bass", "res")
            client.sync()
            old_reader = set(_midi_processes(engine))
            kill_the_supervisor(engine)
            assert gone(old_reader), "the dead supervisor's MIDI process ends"
            _midi_in_reads(client, "chronus-test-keys:out")
            midi = client.status()["engine"]["midi"]
            assert (midi["port"], midi["to"]) == ("chronus-test-keys:out", "bass")
            assert midi["maps"] == {"74": "bass.cutoff"}
            readers = _midi_processes(engine)
            assert len(readers) == 1 and not old_reader & set(readers)
            time.sleep(0.3)  # JACK connects the ports
            keys.send_message([0xB0, 71, 0])  # type: ignore[attr-defined] # the learn's
            assert client.wait_for("/midi/mapped", timeout=5.0) == (71, "bass", "res")
            keys.send_message([0xB0, 74, 127])  # type: ignore[attr-defined]
            keys.send_message([0x90, 62, 100])  # type: ignore[attr-defined]
            time.sleep(0.2)
            client.sync()
            params = client.dump()["modules"]["bass"]["params"]
    finally:
        assert engine.quit() == 0
    assert params["cutoff"] == 20000.0 and params["res"] == 0.0
    session = read_stamped_log(tmp_path / "s.log")
    assert [m.args[0] for _, m in session.commands if m.address == "/note/bass"] == [62]
