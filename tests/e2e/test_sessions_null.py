"""Sessions are never lost (null backend): a shell logs its engine's session by default, the
log renders offline to what was recorded, sample for sample (commits included), a SIGKILLed
engine leaves every line it played in the log, and a snapshot loads through the commit flow,
crossfaded."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.files import FILES_ENV
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from chronus.shell.app import Shell, run_shell
from tests.blocks import differing_blocks, explained_blocks
from tests.sessions import logged_engine, shell_in_terminal, wait_written

pytestmark = [pytest.mark.slow]

RATE, BLOCK = 48000, 128
ROOT = Path(__file__).resolve().parents[2]


def _chronus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronus", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env}, cwd=ROOT,
    )  # fmt: skip


def _logs(folder: Path, timeout: float = 60.0) -> list[Path]:
    """The files in `folder`, once there is one."""
    deadline = time.monotonic() + timeout
    while not (found := sorted(folder.glob("*.log")) if folder.is_dir() else []):
        assert time.monotonic() < deadline, f"no log in {folder}"
        time.sleep(0.05)
    return found


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own XDG_DATA_HOME, and its folder as the shell's working folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path / "data" / "chronus" / "sessions"


def test_a_session_logged_by_default_renders_to_its_recording(data_home: Path) -> None:
    """The test issue 16 asks for: no flag, a real engine, a recording, a snapshot load (a
    commit) while it records, and the offline render of the log equals the take."""
    written: list[str] = []
    result: list[int] = []
    take = Path(os.environ[FILES_ENV]) / "take.wav"  # the engine writes in its files folder
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(backend="null", input=pipe, output=DummyOutput(), new_engine=True,
                          history=InMemoryHistory(), write=written.append)
            )
        )  # fmt: skip
        runner.start()
        port = int(wait_written(written, r"chronus on 127\.0\.0\.1:(\d+)").group(1))
        try:
            for line in (
                "tempo 150", "add a saw called bass through an acid filter called f",
                "play c2 eb2 g2 c3 every 16th on bass", "add kick", "kick x . . x . . x .",
                "start", "snapshot save groove", "set f cutoff 2 khz", "remove kick",
                "record to take.wav",
            ):  # fmt: skip
                pipe.send_text(line + "\r")
            wait_written(written, r"recording to .*take\.wav")
            time.sleep(0.6)
            pipe.send_text("load snapshot groove\r")
            wait_written(written, r"loaded snapshot groove, crossfaded")
            time.sleep(0.6)
            pipe.send_text("stop recording\r")
            pipe.send_text("sessions\r")
            wait_written(written, r"← this session")
            with EngineClient("127.0.0.1", port) as client:
                time.sleep(0.2)
                status = client.status()
        finally:
            pipe.send_text("quit --stop\r")
            runner.join(30)
    assert result == [0], written
    [log] = list(data_home.glob("*.log"))
    assert any(f"this session is logged to {log}" in line for line in written), written
    assert status["engine"]["log"] == str(log)
    session = read_stamped_log(log)
    assert len(session.commits) == 1, "the snapshot did not load through the commit flow"
    [(first, path)] = session.recordings
    assert path == "take.wav", "the name as the musician typed it"
    recorded, rate = read_wav(take)
    assert rate == RATE and len(recorded) > 0.8 * RATE
    assert np.abs(recorded).max() > 0.05, "nothing was heard"

    rendered = _chronus("render", log.stem, "-o", str(data_home / "out.wav"),
                        env={"XDG_DATA_HOME": str(data_home.parents[1])})  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert "1 commits" in rendered.stdout
    offline, _ = read_wav(data_home / "out.wav")
    offline = offline[first : first + len(recorded)]
    assert len(offline) == len(recorded)
    underruns = status["io"]["underruns"]
    played = status["io"]["blocks_played"] - first // BLOCK
    differing = differing_blocks(recorded, offline, BLOCK, played)
    print(f"\nsession render vs take: {len(differing)} blocks differ, {underruns} underruns")
    assert len(differing) <= explained_blocks(status["io"]), differing[:10]
    if explained_blocks(status["io"]) == 0:
        np.testing.assert_array_equal(recorded, offline)


def test_a_killed_engine_loses_no_line_it_played(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    engine = EngineProcess(port=0, backend="null", extra_args=["--log", str(log)]).boot()
    assert engine.process is not None
    sent = [
        validate("/patch/create", ("a", "sine")),
        validate("/patch/connect", ("a", "master")),
        *(validate("/mod/a/volume", (-0.25 * n,)) for n in range(1, 41)),
        validate("/note/a", (69, 100, 2.0)),
    ]
    try:
        with engine.client() as client:
            for message in sent:
                client.send([message])
            client.sync()
            time.sleep(0.2)  # the slots apply them within a block or two; then they are logged
    except BaseException:
        engine.kill()
        raise
    os.kill(engine.process.pid, signal.SIGKILL)
    engine.process.wait(5)
    session = read_stamped_log(log)
    assert [m for _, m in session.commands] == sent
    assert session.stopped == 0, "a killed engine cannot have said where it stopped"
    assert not log.read_bytes().endswith(b"\n\n")
    rendered = render_session(session, session.end + RATE // 2)
    assert np.abs(rendered).max() > 0.01  # the tone the log holds sounds


def _shell(engine: EngineProcess, folder: Path) -> tuple[Shell, list[str]]:
    client = engine.client()
    written: list[str] = []
    interpreter = Interpreter(Context.from_dump(client.dump()))
    return Shell(client, interpreter, written.append, snapshot_dir=folder), written


def test_a_snapshot_load_is_crossfaded_without_a_click(tmp_path: Path) -> None:
    """Loading a snapshot that takes a distortion out of a held tone, then one that puts it
    back: both go through the commit flow; around each switch the output steps no more than
    before and after it, and the log renders to what was recorded."""
    log, out = tmp_path / "s.log", tmp_path / "out.wav"
    engine = logged_engine(tmp_path)
    try:
        shell, written = _shell(engine, tmp_path / "snaps")
        assert shell.handle("add a sine called tone")
        assert shell.handle("play a4 on tone for 20 s")
        assert shell.handle("snapshot save plain")
        assert shell.handle("add a distortion called d after tone; set d drive 8")
        assert shell.handle("snapshot save dirty")
        time.sleep(0.3)
        assert shell.handle("load snapshot plain"), written
        assert written[-1].startswith("loaded snapshot plain, crossfaded in 50 ms"), written
        assert "- d (distortion)" in written[-1]
        assert "d" not in shell.client.dump()["modules"]
        time.sleep(0.4)
        assert shell.handle("load snapshot dirty")
        assert written[-1].startswith("loaded snapshot dirty"), written
        time.sleep(0.4)
        status = shell.client.status()
        shell.client.close()
        assert engine.quit() == 0
    finally:
        engine.kill()
    assert status["engine"]["commits"] == 2 and status["engine"]["failed_commits"] == 0
    recorded, _ = read_wav(out)
    session = read_stamped_log(log)
    assert len(session.commits) == 2
    left = recorded[:, 0].astype(np.float64)
    steps = np.abs(np.diff(left))
    for commit in session.commits:
        switch, fade = commit.switch, commit.crossfade
        assert fade == round(0.05 * RATE / BLOCK) * BLOCK
        before = steps[switch - 40 * BLOCK : switch - BLOCK].max()
        after = steps[switch + fade + BLOCK : switch + fade + 40 * BLOCK].max()
        during = steps[switch - BLOCK : switch + fade + BLOCK].max()
        print(
            f"\nload at {switch}: steps before {before:.4f}, during {during:.4f}, after {after:.4f}"
        )
        assert max(before, after) > 1.5 * min(before, after), "the load changed nothing heard"
        # An equal-power crossfade of two correlated sounds (a tone and its distorted self)
        # peaks at √2 of them mid-fade, and so may its steps; a click is a jump far beyond.
        assert during <= math.sqrt(2) * max(before, after) + 1e-3, "the load clicked"
    offline = render_session(session, len(recorded))
    differing = differing_blocks(recorded, offline, BLOCK, status["io"]["blocks_played"])
    assert len(differing) <= explained_blocks(status["io"]), differing[:10]


def test_sessions_are_listed_found_by_name_and_replayed(data_home: Path) -> None:
    env = {"XDG_DATA_HOME": str(data_home.parents[1])}
    data_home.mkdir(parents=True)
    (data_home / "2026-01-02_03-04-05.log").write_text(
        "# chronus session log v1 rate=48000 block=128\n"
        '0\t/patch/create\t["r", "sine"]\n'
        '0\t/patch/connect\t["r", "master"]\n'
        "4800\t/note/r\t[69.0, 100.0, 0.1]\n"
        "24000\t/patch/commit\t[25600, 2432, 1]\n"
        "24000\t/mod/r/volume\t[-6.0]\n"
        "# end of session at sample 48000\n"
    )
    listed = _chronus("sessions", env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"2026-01-02_03-04-05\s+2026-01-02 03:04\s+0:01\s+\d+ B\s+4 \(1 commits\)",
                     listed.stdout), listed.stdout  # fmt: skip
    missing = _chronus("render", "nosuch", "-o", str(data_home / "x.wav"), env=env)
    assert missing.returncode == 1
    assert "no file or session called nosuch" in missing.stderr
    assert "2026-01-02_03-04-05" in missing.stderr
    played = _chronus("--backend", "null", "run", "last", env=env)
    assert played.returncode == 0, played.stderr
    assert "playing" in played.stderr and "(1.0 s)" in played.stderr
    assert "error" not in played.stderr


def _run_shell_until(written: list[str], pattern: str, **kwargs: object) -> list[int]:
    """Run the shell on a pipe until `pattern` is written, then quit (leaving an engine it
    was given playing, stopping one it started); its exit codes."""
    result: list[int] = []
    given = "engine" in kwargs
    if not given:
        kwargs["new_engine"] = True
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(input=pipe, output=DummyOutput(), history=InMemoryHistory(),
                          write=written.append, **kwargs)  # type: ignore[arg-type]
            )
        )  # fmt: skip
        runner.start()
        try:
            wait_written(written, pattern)
        finally:
            pipe.send_text("quit --leave\r" if given else "quit --stop\r")
            runner.join(30)
    return result


def test_attached_the_shell_says_whether_and_where_the_engine_logs(tmp_path: Path) -> None:
    logging = logged_engine(tmp_path)
    silent = EngineProcess(port=0, backend="null").boot()
    try:
        written: list[str] = []
        assert _run_shell_until(written, "logs this session", engine=("127.0.0.1", logging.port))
        assert f"the engine logs this session to {tmp_path / 's.log'}" in written, written
        written = []
        assert _run_shell_until(written, "no session log", engine=("127.0.0.1", silent.port))
        assert any(line.startswith("this engine keeps no session log") for line in written)
    finally:
        logging.quit()
        silent.quit()


def test_no_log_keeps_no_session(data_home: Path) -> None:
    written: list[str] = []
    assert _run_shell_until(written, r"chronus on 127\.0\.0\.1", backend="null", log=False) == [0]
    assert not any("logged" in line for line in written), written
    assert not data_home.exists() or not list(data_home.iterdir())


def test_a_killed_shell_loses_no_line_of_its_session(tmp_path: Path) -> None:
    """The real shell, in a terminal of its own, logging by default, SIGKILLed: every line it
    had played is in the log, and its engine, orphaned, still logs and stops cleanly."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    lines = ["add a sine called crash", "play a4 on crash for 5 s", "set crash volume -3 db"]
    with shell_in_terminal(["--backend", "null", "--new-engine"], tmp_path, env) as shell:
        port = int(shell.wait(rb"chronus on 127\.0\.0\.1:(\d+)").group(1))
        for line in lines:
            shell.type(line)
        [log] = _logs(tmp_path / "data" / "chronus" / "sessions")
        deadline = time.monotonic() + 10
        while len(read_stamped_log(log).commands) < 4:  # create, connect, note, volume
            assert time.monotonic() < deadline, (shell.seen, log.read_text())
            time.sleep(0.05)
        shell.process.send_signal(signal.SIGKILL)
        shell.process.wait(10)
    with EngineClient("127.0.0.1", port) as client:  # the orphaned engine plays on
        client.send([validate("/mod/crash/pan", (0.5,))])
        client.sync()
        time.sleep(0.2)
        client.quit()
    deadline = time.monotonic() + 10
    while read_stamped_log(log).stopped == 0:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    session = read_stamped_log(log)
    assert [m.address for _, m in session.commands] == [
        "/patch/create", "/patch/connect", "/note/crash", "/mod/crash/volume", "/mod/crash/pan",
    ]  # fmt: skip
