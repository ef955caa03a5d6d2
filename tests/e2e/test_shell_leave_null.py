"""The engine outlives the shell: `chronus` as a user runs it, in a real terminal (a pty), on
the null backend and a port of its own.

A shell starts an engine, plays, and quits leaving the music playing; the engine still
answers after the shell's process is gone; a second `chronus` attaches to it and sees the same
patch; `quit --stop` there stops it. Ctrl-D in the terminal asks, and `s` stops the engine.
And a shell on an engine that restarts notices, and resyncs by itself.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.log_history import LINE_GAP_S
from chronus.session.wav import read_wav
from chronus.shell.app import Shell
from chronus.shell.liveness import Liveness
from chronus.shell.starting import Gate
from tests.ports import unused_port

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


class Terminal:
    """`python -m chronus …` on a pty: keys in, the screen's text out."""

    def __init__(self, args: list[str], home: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "HOME": str(home), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chronus", *args],
            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.text = ""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the shell ended: its side of the pty is closed
                return
            if not data:
                return
            self.text += _ESCAPES.sub("", data.decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            self.read(0.1)
        raise AssertionError(f"never shown: {pattern!r}; the screen:\n{self.text[-3000:]}")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def ended(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        self.read(0.2)
        code = self.process.wait(max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return code

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill the shell if the test left it running (its engine is the fixture's)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _answers(port: int) -> bool:
    with EngineClient("127.0.0.1", port) as client:
        try:
            client.sync(timeout=1.0)
        except EngineError:
            return False
    return True


@pytest.fixture
def port() -> Iterator[int]:
    """A free port; whatever engine is left on it at the end is stopped."""
    number = unused_port()
    yield number
    if _answers(number):
        with EngineClient("127.0.0.1", number) as client:
            client.quit()


PAUSE_S = 5 * LINE_GAP_S
"""A player's pause between lines: commands closer than `LINE_GAP_S` in the log count as one
line for the undo an attached shell rebuilds (a CI run saw two lines typed at once merge)."""


def test_quit_leave_then_attach_again_then_quit_stop(port: int, tmp_path: Path) -> None:
    with Terminal(["--backend", "null", "--port", str(port)], tmp_path) as first:
        first.wait_for(rf"chronus on 127\.0\.0\.1:{port}")
        first.type("add a saw called bass through an acid filter\r")
        first.wait_for(r"added bass \(saw\) → acid1 → master")
        time.sleep(PAUSE_S)
        first.type("play c2 eb2 g2 c3 on bass\r")
        first.wait_for(r"bass: pattern c2 eb2 g2 c3 \(16ths\) from bar 1")
        time.sleep(PAUSE_S)
        first.type("make it darker\r")
        first.wait_for(r"acid1 cutoff 400 → 280 Hz")
        first.type("quit --leave\r")
        assert first.ended() == 0
    assert "the music plays on: the engine stays at" in first.text
    time.sleep(0.5)  # the shell's side of the engine's pipes is closed: it must not mind
    with EngineClient("127.0.0.1", port) as client:
        dump = client.dump()
        # A recording's end is logged: to a stderr whose reader (the shell) is gone.
        take = tmp_path / "after.wav"
        client.send(Interpreter().interpret(f"record 0.25 seconds to {take}").messages)
        client.sync()
        deadline = time.monotonic() + 10
        while client.status()["engine"]["recording"]["recording"] or not take.exists():
            assert time.monotonic() < deadline, "the recording did not end"
            time.sleep(0.1)
    assert dump["modules"]["acid1"]["params"]["cutoff"] == 280.0
    assert dump["tracks"]["bass"]["pattern"] == "c2 eb2 g2 c3"
    assert read_wav(take)[0].shape[0] == 12_000

    with Terminal(["--port", str(port)], tmp_path) as second:
        second.wait_for(
            rf"attached to the engine playing at 127\.0\.0\.1:{port}: 2 modules, 1 pattern, "
            r"tempo 120, focus bass, undo: 3 lines of its session log"
        )
        second.type("what is bass\r")
        second.wait_for(r"bass is a saw")
        # the first shell's lines, from the engine's session log
        second.type("undo\r")
        second.wait_for(r"undo: acid1 cutoff 280 → 400 Hz")
        second.type("quit --stop\r")
        assert second.ended() == 0
    assert "starting the engine" not in second.text
    deadline = time.monotonic() + 15
    while _answers(port):
        assert time.monotonic() < deadline, "the engine did not stop"
        time.sleep(0.2)


def test_a_shell_notices_a_restart_and_resyncs_by_itself(port: int) -> None:
    engine = EngineProcess(port=port, backend="null").boot()
    written: list[str] = []
    client = EngineClient("127.0.0.1", port)
    gate = Gate(Interpreter(Context()), written.append)
    gate.open(Shell(client, gate.interpreter, written.append))
    watch = Liveness(client.address, lambda: written.append("lost"), gate.engine_back, 0.2)
    watch.start()
    again: EngineProcess | None = None
    try:
        assert gate.handle("add a saw called bass; cutoff 900")
        engine.quit()
        _wait(lambda: "lost" in written, written)
        again = EngineProcess(port=port, backend="null").boot()
        line = _wait_line(written, "restarted")
        assert line == (
            f"the engine at 127.0.0.1:{port} restarted: resynced (0 modules); "
            "`undo` puts back the patch you had"
        )
        assert gate.interpreter.context.modules == {}
        assert gate.handle("undo")
        with EngineClient("127.0.0.1", port) as other:
            assert other.dump()["modules"]["bass"]["params"]["cutoff"] == 900.0
    finally:
        watch.close()
        client.close()
        engine.kill()
        if again is not None:
            again.quit()


def _wait(test: object, written: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():  # type: ignore[operator]
        assert time.monotonic() < deadline, written
        time.sleep(0.05)


def _wait_line(written: list[str], word: str) -> str:
    _wait(lambda: any(word in line for line in written), written)
    return next(line for line in written if word in line)


def test_ctrl_d_in_a_terminal_asks_and_s_stops_the_engine(port: int, tmp_path: Path) -> None:
    with Terminal(["--backend", "null", "--port", str(port)], tmp_path) as shell:
        shell.wait_for(rf"chronus on 127\.0\.0\.1:{port}")
        shell.type("\x04")
        shell.wait_for(r"stop the music or leave it playing\? \[L\]eave / \[s\]top")
        shell.type("s")
        assert shell.ended() == 0
    assert "stopping the engine" in shell.text
    assert not _answers(port)
