"""A recording's length belongs to the engine: a real engine subprocess (null backend), real
OSC over UDP and TCP, `chronus send` as a user runs it, and the WAV files read back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.files import FILES_ENV
from chronus.engine.slip import encode
from chronus.protocol import encode_raw
from chronus.session.wav import read_wav
from tests.sessions import shell_in_terminal

RATE = 44100
"""Not the default rate: the lengths `chronus send` sends come from the engine's own."""


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProcess]:
    """`chronus engine --backend null --rate 44100` on a free port, for this module."""
    process = EngineProcess(port=0, backend="null", rate=RATE).boot()
    yield process
    process.quit()


def chronus_send(
    engine: EngineProcess, *commands: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronus", "send", "--engine", f"{engine.host}:{engine.port}",
         *commands],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def ended(engine: EngineProcess, path: Path, timeout: float = 10.0) -> dict[str, Any]:
    """The engine's description of the recording to `path`, once it has ended by itself."""
    deadline = time.monotonic() + timeout
    with engine.client() as client:
        while True:
            recording = client.status()["engine"]["recording"]
            last = recording["last"] or {}
            if not recording["recording"] and last.get("path") == str(path):
                return dict(last)
            assert time.monotonic() < deadline, recording
            time.sleep(0.05)


def test_chronus_send_gets_a_file_of_exactly_its_length(
    engine: EngineProcess, tmp_path: Path
) -> None:
    target = tmp_path / "half.wav"
    out = chronus_send(engine, f"record 0.5 seconds to {target}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"recording 0.5 s to {target}; the engine stops it by itself" in out.stdout
    last = ended(engine, target)  # `chronus send` has exited: the engine stopped it
    assert (last["frames"], last["seconds"], last["lost_blocks"]) == (RATE // 2, 0.5, 0)
    frames, rate = read_wav(target)
    assert (frames.shape, rate) == ((RATE // 2, 2), RATE)


def test_bars_are_frames_at_the_tempo_and_a_relative_file_lands_in_the_files_folder(
    engine: EngineProcess, tmp_path: Path
) -> None:
    name = f"{tmp_path.name}.wav"  # the engine's files folder is shared by the tests
    out = chronus_send(engine, "tempo 240", f"record 1 bar to {name}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert ended(engine, Path(name))["frames"] == RATE  # 4 beats at 240 bpm: 1 s
    assert not (tmp_path / name).exists()
    assert read_wav(Path(os.environ[FILES_ENV]) / name)[0].shape == (RATE, 2)


def test_the_client_that_started_it_hears_the_start_and_the_end(
    engine: EngineProcess, tmp_path: Path
) -> None:
    target = tmp_path / "heard.wav"
    length = RATE // 2 + 7  # not a whole number of blocks
    with engine.client() as client:
        client.send_raw("/record/start", str(target), length)
        path, first, frames = client.wait_for("/record/started")
        assert (path, frames) == (str(target), length)
        assert isinstance(first, int) and first > 0 and first % 128 == 0
        # Mid-take, the file is a valid WAV holding whole blocks.
        deadline = time.monotonic() + 5
        while len(partial := read_wav(target)[0]) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert len(partial) < length and len(partial) % 128 == 0
        assert client.wait_for("/record/stopped", timeout=5.0) == (str(target), length)
        client.send_raw("/record/stop")  # it has ended already
        assert client.wait_for("/error") == ("/record/stop", "not recording")
    assert read_wav(target)[0].shape == (length, 2)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_client_that_goes_away_still_gets_a_whole_file(
    engine: EngineProcess, tmp_path: Path, transport: str
) -> None:
    target = tmp_path / f"{transport}.wav"
    packet = encode_raw("/record/start", str(target), 9600)
    if transport == "udp":
        client = EngineClient(engine.host, engine.port)
        client.send_bytes(packet)
        client.wait_for("/record/started")
        client.close()  # its port is closed before the engine says the recording ended
    else:
        with socket.create_connection((engine.host, engine.port), timeout=5) as sock:
            sock.sendall(encode(packet))
            assert sock.recv(4096)  # the /record/started frame; then the connection closes
    last = ended(engine, target)
    assert last["frames"] == 9600
    assert read_wav(target)[0].shape == (9600, 2)
    with engine.client() as client:
        assert client.status()["engine"]["recording"]["recording"] is False


@pytest.mark.parametrize(
    ("frames", "text"),
    [
        (0, "frames must be ≥ 1, got 0"),
        (-48000, "frames must be ≥ 1, got -48000"),
        (1.5, "frames must be a whole number, got 1.5"),
        ("thirty", "frames must be a number, got 'thirty'"),
    ],
)
def test_a_bad_length_gets_an_error_and_changes_nothing(
    engine: EngineProcess, tmp_path: Path, frames: object, text: str
) -> None:
    target = tmp_path / "bad.wav"
    with engine.client() as client:
        before = client.status()["engine"]["recording"]
        client.send_raw("/record/start", str(target), frames)  # type: ignore[arg-type]
        assert client.wait_for("/error") == ("/record/start", text)
        assert client.status()["engine"]["recording"] == before
    assert not target.exists()


def test_a_shell_killed_mid_take_leaves_a_whole_file(engine: EngineProcess, tmp_path: Path) -> None:
    """The real shell, in a terminal of its own, is killed one way a terminal can die."""
    target = tmp_path / "killed.wav"
    args = ["--engine", f"{engine.host}:{engine.port}"]
    with shell_in_terminal(args, tmp_path) as shell:
        shell.wait(b"chronus on")
        shell.type(f"record 3 seconds to {target}")  # long enough to be killed mid-take
        shell.wait(b"3 s to")
        with engine.client() as client:
            recording = client.status()["engine"]["recording"]
        assert recording["recording"] and recording["path"] == str(target)  # mid-take
        shell.process.send_signal(signal.SIGKILL)
        shell.process.wait(10)
    assert target.exists()
    assert ended(engine, target)["frames"] == 3 * RATE
    assert read_wav(target)[0].shape == (3 * RATE, 2)
