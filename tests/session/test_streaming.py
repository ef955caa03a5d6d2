"""Offline renders stream: a script or a session log is rendered and written piece by piece,
bit for bit the samples of a render held whole, whatever the piece size, commits and their
crossfades included; the take is never whole in memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.cli import main
from chronus.protocol import validate
from chronus.session.offline import render_script, script_chunks, session_chunks
from chronus.session.script import load_script
from chronus.session.stamped_log import Commit, StampedSession
from chronus.session.wav import read_wav
from tests.sessions import bass_line, refused_render

RATE = 48000
SCRIPT = """tempo 150
add a saw called bass through an acid filter
bass c2 eb2 g2 c3 every 16th
add a kick called k
k x . x . every 8th
wait 2 bars
set bass cutoff to 300
wait 1 bar
"""


def _bits(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.uint32]:
    return np.ascontiguousarray(audio).view(np.uint32)


def _joined(pieces: object) -> npt.NDArray[np.float32]:
    return np.concatenate([piece.copy() for piece in pieces])  # type: ignore[attr-defined]


@pytest.mark.parametrize("chunk", [1, 512, 1000, 4096, 1 << 20])
def test_a_script_streams_the_same_samples_as_a_whole_render(chunk: int) -> None:
    script = load_script(SCRIPT)
    whole = render_script(script, rate=RATE, tail=0.5)
    streamed = _joined(script_chunks(script, rate=RATE, tail=0.5, chunk=chunk))
    np.testing.assert_array_equal(_bits(streamed), _bits(whole))


def _session() -> StampedSession:
    commands = [(0, message) for message in bass_line()]
    commits = [
        Commit(20_000, 21_024, 4_800, (validate("/mod/bass/cutoff", (400.0,)),)),
        Commit(40_000, 40_960, 9_600, (validate("/mod/bass/cutoff", (2400.0,)),)),
    ]
    return StampedSession(RATE, 128, commands, commits)


@pytest.mark.parametrize("chunk", [128, 300, 2048, 5000])
def test_a_session_with_commits_streams_the_same_samples_whatever_the_piece(chunk: int) -> None:
    frames = 60_000
    whole = _joined(session_chunks(_session(), frames, chunk=frames))  # one piece a span
    streamed = _joined(session_chunks(_session(), frames, chunk=chunk))
    assert whole.shape == (frames, 2) and whole[21_024:30_624].any()
    np.testing.assert_array_equal(_bits(streamed), _bits(whole))


def test_overlapping_commits_are_refused() -> None:
    session = _session()
    session.commits.append(Commit(22_000, 22_400, 480, ()))
    with pytest.raises(ValueError, match="overlaps the one before it"):
        _joined(session_chunks(session, 60_000))


def test_chronus_render_holds_pieces_not_the_take(tmp_path: Path) -> None:
    script = tmp_path / "long.chr"
    script.write_text("add a saw called bass\nplay c2 on bass for 100 s\nwait 120 s\n")
    out = tmp_path / "long.wav"
    tracemalloc.start()
    try:
        assert main(["render", str(script), "-o", str(out), "--tail", "0"]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    take = 120 * RATE * 2 * 4  # 46 MB of float32
    assert peak < take / 5, peak
    audio, rate = read_wav(out)
    assert (audio.shape, rate) == ((120 * RATE, 2), RATE)
    np.testing.assert_array_equal(
        _bits(audio[:RATE]), _bits(render_script(load_script(script.read_text()), seconds=1.0))
    )


def test_a_render_longer_than_a_wav_holds_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused_render(tmp_path, "add a saw called bass\nwait 1000000000 bars\n")
    assert "a WAV holds at most 11,185 s at 48000 Hz" in capsys.readouterr().err
