"""`chronus demo`: the song plays at once, and its WAV is written while it plays."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineError
from chronus.session.offline import render_script
from chronus.session.script import load_script_file
from chronus.session.wav import read_wav

pytestmark = [pytest.mark.slow]

SONG = Path(__file__).resolve().parents[2] / "examples" / "pattern_song.chr"


def test_the_demo_plays_at_once_and_writes_its_wav_meanwhile(tmp_path: Path) -> None:
    wav = tmp_path / "demo.wav"
    demo = subprocess.Popen(
        [sys.executable, "-m", "chronus", "demo", "--backend", "null", "-o", str(wav)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    lines: list[str] = []
    port = 0
    try:
        for line in demo.stdout:
            lines.append(line)
            if found := re.search(r"on the engine at 127\.0\.0\.1:(\d+)", line):
                port = int(found.group(1))
            if port and any(seen.startswith("wrote ") for seen in lines):
                break
        assert port, lines
        with EngineClient("127.0.0.1", port) as client:
            deadline = time.monotonic() + 10
            while not client.status()["io"]["sounding_blocks"]:
                assert time.monotonic() < deadline, "the song makes no sound"
                time.sleep(0.05)
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C: it stops the song and its engine
        rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, [*lines, rest]
    assert lines[0].startswith("playing it live on null")
    audio, rate = read_wav(wav)
    assert rate == 48000
    offline = render_script(load_script_file(SONG), seconds=None, tail=2.0)
    assert audio.shape == offline.shape  # the whole song, whatever the live play did
    assert float(abs(audio - offline).max()) <= 2 / 32767  # 16-bit PCM of the same render
    with EngineClient("127.0.0.1", port) as client:
        with pytest.raises(EngineError):
            client.status(timeout=0.5)


def test_without_playing_the_demo_only_renders(tmp_path: Path) -> None:
    wav = tmp_path / "only.wav"
    out = subprocess.run(
        [sys.executable, "-m", "chronus", "demo", "--no-play", "-o", str(wav)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"the demo song is in {wav.resolve()}" in out.stdout
    assert "playing it live" not in out.stdout
    assert read_wav(wav)[0].shape[0] > 50 * 48000
