"""The `chronus` command as a user runs it: real subprocesses, real files, real UDP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chronus.engine.client import EngineProcess
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks, explained_blocks
from tests.sessions import bass_line, logged_engine
from tests.stalls import StallMonitor

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def chronus(
    *args: str, stdin: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronus", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fundamental(signal: np.ndarray, rate: int) -> float:
    """Frequency of the strongest spectral peak, refined by parabolic interpolation."""
    window = np.hanning(len(signal))
    spectrum = np.abs(np.fft.rfft(signal * window, n=8 * len(signal)))
    k = int(np.argmax(spectrum[1:])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + offset) * rate / (8 * len(signal))


def cents(f: float, reference: float) -> float:
    return float(1200 * np.log2(f / reference))


def test_version_and_help_of_every_subcommand() -> None:
    out = chronus("--version")
    assert out.returncode == 0 and out.stdout.startswith("chronus ")
    for sub in ("engine", "parse", "send", "run", "render", "health", "doctor", "demo"):
        result = chronus(sub, "--help")
        assert result.returncode == 0, sub
        assert "usage: chronus " + sub in result.stdout


def test_parse_json_shares_one_context() -> None:
    out = chronus("parse", "--json", "add a saw called bass", "play c3", "cutoff 800")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["ok"] for r in rows] == [True, True, True]
    assert rows[0]["osc"] == [
        ["/patch/create", "bass", "saw"],
        ["/patch/connect", "bass", "master"],
    ]
    assert rows[1]["osc"] == [["/note/bass", 48.0, 100.0]]
    assert rows[2]["osc"] == [["/mod/bass/cutoff", 800.0]]
    assert all(set(r) - {"notes"} == {"input", "ok", "intents", "osc", "error"} for r in rows)
    assert rows[1]["notes"] == ["bass plays c3"]


def test_parse_reads_stdin_and_reports_errors_as_json() -> None:
    out = chronus("parse", "--json", stdin="tempo 128\nplya c3 on bass\n")
    assert out.returncode == 1
    good, bad = (json.loads(line) for line in out.stdout.splitlines())
    assert good["osc"] == [["/tempo", 128.0]]
    assert bad["ok"] is False and bad["osc"] == []
    assert set(bad["error"]) == {"message", "column", "expected", "hint"}
    assert bad["error"]["column"] == 1


def test_send_plays_on_a_running_engine_and_refuses_bad_input(null_engine: EngineProcess) -> None:
    where = f"127.0.0.1:{null_engine.port}"
    out = chronus("send", "--engine", where, "add a saw called bass", "set bass cutoff 800")
    assert out.returncode == 0, out.stderr
    assert "sent 3 message(s)" in out.stdout
    bad = chronus("send", "--engine", where, "play c3 on bass", "set bass cutof 900")
    assert bad.returncode != 0
    assert "nothing sent" in bad.stderr
    with null_engine.client() as client:
        dump = client.dump()
        status = client.status()
    assert dump["modules"]["bass"]["params"]["cutoff"] == 800
    assert status["engine"]["osc"]["commands"] == 3
    health = chronus("health", "--engine", where)
    assert health.returncode == 0 and "slot A" in health.stdout
    raw = json.loads(chronus("health", "--json", "--engine", where).stdout)
    assert raw["io"]["blocks_played"] > 0
    assert isinstance(raw["io"]["underruns"], int)


def test_send_engine_quit_stops_the_engine_and_says_so() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        out = chronus("send", "--engine", f"127.0.0.1:{engine.port}", "tempo 90", "/engine/quit")
        assert out.returncode == 0, out.stderr
        assert "sent 1 message(s)" in out.stdout and "the engine stops" in out.stdout
        assert engine.process is not None and engine.process.wait(30) == 0
    finally:
        engine.quit()


def test_health_without_engine_says_so() -> None:
    out = chronus("health", "--engine", "127.0.0.1:9", timeout=30)
    assert out.returncode == 1
    assert "no answer from the engine" in out.stderr


def test_run_plays_a_script_through_a_fresh_engine(tmp_path: Path) -> None:
    script = tmp_path / "short.chr"
    script.write_text("add a saw called bass\nplay c3 on bass for 0.2 s\nwait 0.5 s\n")
    with StallMonitor() as host:
        out = chronus("run", "--backend", "null", str(script))
    assert out.returncode == 0, out.stderr
    underruns = int(re.search(r"(\d+) underruns", out.stdout).group(1))  # type: ignore[union-attr]
    # None of ours; a stall of the whole VM (measured) can still starve the slots.
    assert underruns <= host.blocks_bound(128 / 48), (out.stdout, host.stalls_ms)


def test_render_hello_is_in_tune_and_bit_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    for path in (first, second):
        out = chronus("render", str(EXAMPLES / "hello.chr"), "-o", str(path))
        assert out.returncode == 0, out.stderr
    assert first.read_bytes() == second.read_bytes()
    audio, rate = read_wav(first)
    assert rate == 48000 and audio.shape[1] == 2
    assert np.abs(audio).max() > 0.05
    # hello.chr holds a4 (440 Hz) on a sine from 0.5 s to 2.5 s
    steady = audio[int(1.0 * rate) : int(2.0 * rate), 0].astype(np.float64)
    assert abs(cents(fundamental(steady, rate), 440.0)) < 1.0


def test_render_of_the_groove_makes_music(tmp_path: Path) -> None:
    out_path = tmp_path / "groove.wav"
    out = chronus("render", str(EXAMPLES / "acid_groove.chr"), "-o", str(out_path))
    assert out.returncode == 0, out.stderr
    audio, rate = read_wav(out_path)
    assert len(audio) / rate > 8
    rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2))
    assert rms > 0.02
    assert np.abs(audio).max() <= 1.0
    assert np.isfinite(audio).all()


def test_render_reports_a_bad_script_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.chr"
    script.write_text("tempo 120\nadd a saw called bass\nplya c3 on bass\n")
    out = chronus("render", str(script), "-o", str(tmp_path / "x.wav"))
    assert out.returncode == 1
    assert "bad.chr:3" in out.stderr
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("seconds", ["1.5", "0.25"])
def test_render_length_follows_seconds(tmp_path: Path, seconds: str) -> None:
    path = tmp_path / "len.wav"
    out = chronus("render", str(EXAMPLES / "hello.chr"), "-o", str(path), "--seconds", seconds)
    assert out.returncode == 0, out.stderr
    audio, rate = read_wav(path)
    assert len(audio) == round(float(seconds) * rate)


def test_render_refuses_what_the_engine_would_refuse(tmp_path: Path) -> None:
    script = tmp_path / "route.chr"
    script.write_text("add kick\nadd a saw called bass\n/patch/connect kick bass\nwait 1 s\n")
    out = chronus("render", str(script), "-o", str(tmp_path / "r.wav"))
    assert out.returncode == 1
    assert "route.chr:3" in out.stderr and "refuses /patch/connect kick bass" in out.stderr
    assert not (tmp_path / "r.wav").exists()


def test_render_of_every_module_family(tmp_path: Path) -> None:
    path = tmp_path / "every.wav"
    out = chronus("render", str(EXAMPLES / "every_module.chr"), "-o", str(path))
    assert out.returncode == 0, out.stderr
    audio, _ = read_wav(path)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 0.02


def test_render_of_a_live_session_log_sounds_as_it_was_played(tmp_path: Path) -> None:
    """A live session with a commit, logged and recorded, then rendered by `chronus render`."""
    from chronus.protocol import validate

    log, recording, replay = tmp_path / "s.log", tmp_path / "live.wav", tmp_path / "replay.wav"
    engine = logged_engine(tmp_path, wav="live.wav")
    try:
        with engine.client() as client:
            client.send(bass_line())
            client.sync()
            time.sleep(0.5)
            client.send([validate("/patch/begin", ()), validate("/mod/bass/cutoff", (300.0,))])
            client.send([validate("/patch/commit", (40.0,))])
            client.wait_for("/patch/committed", timeout=5.0)
            time.sleep(0.5)
            io = client.status()["io"]
        assert engine.quit() == 0
    finally:
        engine.kill()
    out = chronus("render", str(log), "-o", str(replay))
    assert out.returncode == 0, out.stderr
    assert "1 commits" in out.stdout and "wrote" in out.stdout
    live, rate = read_wav(recording)
    rendered, replay_rate = read_wav(replay)
    assert replay_rate == rate == 48000
    assert len(rendered) == len(live) + 2 * rate  # to where the engine stopped, + the tail
    blocks = differing_blocks(live, rendered, 128, io["blocks_played"])
    assert len(blocks) <= explained_blocks(io), blocks[:10]
    wrong = chronus("render", str(log), "-o", str(replay), "--rate", "44100")
    assert wrong.returncode != 0 and "48000 Hz" in wrong.stderr
