"""The engine follows the JACK period: on a JACK server of the test's own at 64 frames, an
engine started without `--block` renders 64-frame blocks, says so at start and in its
status, and a key on a JACK MIDI port is heard its (shorter) fixed latency later, as logged
and as the offline render of the log replays it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.midi_requests import least_latency_ms
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from chronus.shell.views import format_health
from tests.e2e.test_midi_jack import _patch as patch_a_bass
from tests.jack_server import jack_server
from tests.onsets import onsets
from tests.sessions import check_replay

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

NOTES = (48, 55, 60, 67)


def test_an_engine_on_a_64_frame_jack_server_uses_64_frame_blocks_and_midi_in_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rtmidi

    with jack_server(period=64) as server:
        monkeypatch.setenv("JACK_DEFAULT_SERVER", server)
        keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="chronus-test-keys64")
        keys.open_virtual_port("out")
        engine = EngineProcess(
            port=0, backend="device",
            extra_args=["--log", str(tmp_path / "s.log"), "--record", str(tmp_path / "out.wav")],
        ).boot()  # fmt: skip
        try:
            assert " block=64 " in engine.ready_line
            said = "".join(engine.stderr_tail)
            assert "block 64 frames: the JACK server's period" in said
            with engine.client() as client:
                patch_a_bass(client)
                _, latency_ms = client.ask("/midi/in", "keys64", "bass", timeout=30.0)
                time.sleep(0.3)  # JACK connects the ports
                for note in NOTES:
                    keys.send_message([0x90, note, 100])
                    time.sleep(0.1)
                    keys.send_message([0x80, note, 0])
                    time.sleep(0.3)
                client.sync()
                status = client.status()
        finally:
            assert engine.quit() == 0
            keys.close_port()
            keys.delete()
    assert status["engine"]["block"] == 64 and status["engine"]["block_from"] == "jack"
    assert "block 64 (the JACK period)" in format_health(status)
    device_us = round(float(status["io"]["device_latency_ms"]) * 1000)
    assert float(latency_ms) == pytest.approx(least_latency_ms(2, 64, 48000, device_us), abs=0.01)
    assert float(latency_ms) < 10.0, "MIDI in's fixed latency follows the period"
    session = read_stamped_log(tmp_path / "s.log")
    assert session.block == 64
    notes = [(stamp, m) for stamp, m in session.commands if m.address == "/note/bass"]
    assert [m.args[0] for _, m in notes] == list(NOTES)
    recorded, _ = read_wav(tmp_path / "out.wav")
    heard = onsets(recorded, threshold=1e-4, quiet=4800)
    assert len(heard) == len(NOTES)
    for (stamp, _), onset in zip(notes, heard, strict=True):
        assert 0 <= onset - stamp < 64, "each note sounds from the sample it was stamped at"
    check_replay(tmp_path, status, "MIDI in at 64 frames")
