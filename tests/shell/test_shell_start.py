"""The shell is usable at once: lines typed while its engine boots play once it is up."""

from __future__ import annotations

import threading
import time

from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell.app import Shell, run_shell
from chronus.shell.starting import EngineStart, Gate
from tests.sessions import wait_written


def test_a_fresh_engine_mirrors_as_an_empty_context() -> None:
    # The gate interprets lines against Context() before any engine answers: that must be
    # what a fresh engine's dump gives.
    fresh = EngineProcess(port=0, backend="null").boot()
    try:
        with fresh.client() as client:
            assert Context.from_dump(client.dump()).state() == Context().state()
    finally:
        fresh.quit()


def test_lines_before_the_engine_are_kept_and_played_in_order() -> None:
    written: list[str] = []
    gate = Gate(Interpreter(Context()), written.append)
    start = EngineStart("null", written.append)
    opened = threading.Event()

    def started(done: EngineStart) -> None:
        assert done.engine is not None, done.error
        gate.open(Shell(done.engine.client(), gate.interpreter, written.append))
        opened.set()

    start.begin(started)
    try:
        assert gate.handle("add a saw called early")
        assert gate.handle("set early cutoff 900 hz")
        assert gate.handle("plya c3")  # a mistake is told at once, and kept from the engine
        assert 'did you mean "play"?' in written[-1]
        assert gate.handle("help")  # answered without the engine
        assert "play c3 on bass" in written[-1]
        assert gate.handle("focus early")  # so is a focus
        assert written[-1] == "focus: early"
        assert gate.handle("set early cutoff 1200 hz")
        if not opened.is_set():
            assert gate.waiting == 3
            assert any("the engine is starting" in line for line in written)
        assert opened.wait(60), written
        assert gate.waiting == 0
        assert start.engine is not None
        with start.engine.client() as client:
            dump = client.dump()
        assert dump["modules"]["early"]["type"] == "saw"
        assert dump["modules"]["early"]["params"]["cutoff"] == 1200  # the last one won
        told = [line for line in written if "early" in line and "→" in line]
        assert told == [  # each kept line is told once it played, against the mirror then
            "added early (saw) → master",
            "early cutoff 2000 → 900 Hz",
            "early cutoff 900 → 1200 Hz",
        ]
        assert gate.handle("set early cutoff 700 hz")  # and now lines go straight through
        with start.engine.client() as client:
            assert client.dump()["modules"]["early"]["params"]["cutoff"] == 700
        assert gate.handle("quit") is False
    finally:
        start.stop()
    assert start.engine is not None and start.engine.process is not None
    assert start.engine.process.poll() is not None


def test_a_failed_start_drops_the_kept_lines_and_says_so() -> None:
    written: list[str] = []
    gate = Gate(Interpreter(Context()), written.append)
    assert gate.handle("add a saw called early")
    gate.fail("the engine did not start: no device")
    assert gate.waiting == 0
    assert "were not played" in written[-1]
    assert gate.handle("add a sine called late")
    assert "there is no engine" in written[-1]


def test_real_keystrokes_typed_at_once_reach_the_engine_the_shell_starts() -> None:
    written: list[str] = []
    result: list[int] = []
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(
                    backend="null",
                    new_engine=True,  # never the engine on the default port, if one runs
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                    write=written.append,
                )
            )
        )
        runner.start()
        pipe.send_text("add a sine called first\r")
        pipe.send_text("set first volume -12 db\r")
        port = int(wait_written(written, r"chronus on 127\.0\.0\.1:(\d+)").group(1))
        try:
            with EngineClient("127.0.0.1", port) as client:
                deadline = time.monotonic() + 5
                while (
                    client.dump()["modules"].get("first", {}).get("params", {}).get("volume") != -12
                ):
                    assert time.monotonic() < deadline, (written, client.dump())
                    time.sleep(0.05)
        finally:
            pipe.send_text("quit --stop\r")
            runner.join(30)
    assert result == [0]
    assert written[0].startswith("starting the engine")
    with EngineClient("127.0.0.1", port) as client:
        try:
            client.status(timeout=0.5)
        except EngineError:
            return
    raise AssertionError("the engine the shell started outlived it")


def test_a_quit_typed_while_the_engine_starts_plays_the_lines_before_it_first() -> None:
    """A pasted or piped song ending in `quit --leave`: its lines play, then the music is
    left playing (they used to be dropped, unsaid, with the engine stopped)."""
    written: list[str] = []
    result: list[int] = []
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("add a sine called pasted\rset pasted volume -9 db\rquit --leave\r")
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(
                    backend="null",
                    new_engine=True,
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                    write=written.append,
                )
            )
        )
        runner.start()
        runner.join(150)
    assert result == [0], written
    assert "(playing the 2 line(s) typed meanwhile first)" in written
    port = int(wait_written(written, r"chronus on 127\.0\.0\.1:(\d+)").group(1))
    with EngineClient("127.0.0.1", port) as client:
        try:
            assert client.dump()["modules"]["pasted"]["params"]["volume"] == -9
        finally:
            client.quit()
