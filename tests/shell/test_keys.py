"""The prompt's keys and its quitting, through real keystrokes (prompt_toolkit's pipe input)
on a shell attached to a fake engine that records every message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.lang import parser
from chronus.shell.app import run_shell
from tests.shell.fake_engine import FakeEngine

UP, CTRL_C, CTRL_D, CTRL_R, ESC, F12 = "\x1b[A", "\x03", "\x04", "\x12", "\x1b", "\x1b[24~"


class Prompt:
    """`run_shell` in a thread on the fake engine; keys go in, written lines come out."""

    def __init__(self, pipe: PipeInput, engine: FakeEngine, **options: Any) -> None:
        self.pipe = pipe
        self.engine = engine
        self.written: list[str] = []
        self.code: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.code.append(
                run_shell(
                    engine=engine.address,
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                    write=self.written.append,
                    **options,
                )
            ),
            daemon=True,
        )
        self.thread.start()
        self.wait_written(lambda line: line.startswith("chronus on"))

    def keys(self, text: str, pause: float = 0.15) -> None:
        self.pipe.send_text(text)
        time.sleep(pause)

    def wait_written(self, test: Callable[[str], bool], timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.written):
                if test(line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"never written; written: {self.written}")

    def ended(self, timeout: float = 5.0) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the shell did not end; written: {self.written}"
        return self.code[0]

    def sent(self, address: str) -> list[tuple[Any, ...]]:
        return [args for got, args in list(self.engine.received) if got == address]


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine()
    yield fake
    fake.close()


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        yield pipe


def _wait_sent(prompt: Prompt, address: str, count: int = 1) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 5
    while len(prompt.sent(address)) < count:
        assert time.monotonic() < deadline, prompt.engine.addresses()
        time.sleep(0.02)
    return prompt.sent(address)


# ---- feedback at the prompt ------------------------------------------------------------------
def test_each_line_typed_is_told_back(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("add a saw called bass through an acid filter\r")
    prompt.wait_written(lambda line: line == "added bass (saw) → acid1 → master")
    prompt.keys("make it darker\r")
    prompt.wait_written(lambda line: line == "acid1 cutoff 400 → 280 Hz")
    prompt.keys("tempo 128\r")
    prompt.wait_written(lambda line: line == "tempo 120 → 128")
    prompt.keys("undo\r")
    prompt.wait_written(lambda line: line == "undo: tempo 128 → 120")
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_the_parsers_first_use_work_is_done_once_the_prompt_is_drawn(
    engine: FakeEngine, pipe: PipeInput
) -> None:
    parser._examples.cache_clear()  # the hints' table, built on the first error otherwise
    prompt = Prompt(pipe, engine)
    deadline = time.monotonic() + 30.0
    while parser._examples.cache_info().currsize == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parser._examples.cache_info().currsize == 1, "the warm-up never ran"
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_quiet_tells_nothing_of_what_worked(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine, quiet=True)
    prompt.keys("add a saw called bass\r")
    prompt.keys("tempo 128\r")
    _wait_sent(prompt, "/tempo")
    prompt.keys("cutof 300\r")  # an error is still told
    prompt.wait_written(lambda line: "cutof" in line)
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0
    assert not any("added" in line or "→" in line for line in prompt.written), prompt.written


# ---- Ctrl-C, Ctrl-D, quit -----------------------------------------------------------------
def test_ctrl_c_clears_the_line_and_never_quits(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("add a saw called oops")
    prompt.keys(CTRL_C)
    prompt.keys(CTRL_C)
    prompt.keys("tempo 100\r")
    assert _wait_sent(prompt, "/tempo") == [(100.0,)]
    assert prompt.sent("/patch/create") == []
    assert prompt.thread.is_alive()
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_ctrl_d_asks_and_enter_leaves_the_music_playing(
    engine: FakeEngine, pipe: PipeInput
) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys(CTRL_D)
    prompt.keys("x")  # not an answer: still asking
    assert prompt.thread.is_alive()
    prompt.keys("\r")
    assert prompt.ended() == 0
    assert prompt.sent("/engine/quit") == []
    assert prompt.written[-1].startswith(
        f"the music plays on: the engine stays at 127.0.0.1:{engine.port}"
    )
    assert f"chronus --engine 127.0.0.1:{engine.port}" in prompt.written[-1]


def test_quit_then_s_stops_the_engine(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("quit\r")
    prompt.keys("s")
    assert prompt.ended() == 0
    assert prompt.sent("/engine/quit") == [()]
    assert prompt.written[-1] == "stopped the engine"


def test_ctrl_c_at_the_question_goes_back_to_the_prompt(
    engine: FakeEngine, pipe: PipeInput
) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("exit\r")
    prompt.keys(CTRL_C)
    prompt.keys("tempo 90\r")
    assert _wait_sent(prompt, "/tempo") == [(90.0,)]
    prompt.keys(CTRL_D)
    prompt.keys("L")
    assert prompt.ended() == 0
    assert prompt.sent("/engine/quit") == []


def test_quit_stop_and_leave_do_not_ask(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("quit --stop\r")
    assert prompt.ended() == 0
    assert prompt.sent("/engine/quit") == [()]


# ---- panic --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [ESC + ESC, F12], ids=["esc-esc", "f12"])
def test_the_panic_key_sends_panic_at_once_and_keeps_the_line(
    engine: FakeEngine, pipe: PipeInput, key: str
) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("tempo 9")
    prompt.keys(key, pause=0.8)  # Esc waits a moment to be told from Alt
    assert _wait_sent(prompt, "/panic") == [()]
    assert prompt.sent("/tempo") == []  # nothing typed was sent with it
    prompt.wait_written(lambda line: line == "panic: all notes off")
    prompt.keys("5\r")
    assert _wait_sent(prompt, "/tempo") == [(95.0,)]
    prompt.keys("add kick; kick x . x .\r")
    prompt.keys(key, pause=0.8)
    assert _wait_sent(prompt, "/panic", 2) == [(), ()]
    prompt.wait_written(lambda line: line.endswith("(the patterns play on: `stop` stops them)"))
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


# ---- history ------------------------------------------------------------------------------
def test_up_recalls_the_lines_before(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("tempo 100\r")
    prompt.keys("tempo 110\r")
    _wait_sent(prompt, "/tempo", 2)
    prompt.keys(UP + UP + "\r")
    assert [args[0] for args in _wait_sent(prompt, "/tempo", 3)] == [100.0, 110.0, 100.0]
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_ctrl_r_searches_the_history_backwards(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("tempo 101\r")
    prompt.keys("add a saw called bass\r")
    prompt.keys("tempo 133\r")
    _wait_sent(prompt, "/tempo", 2)
    prompt.keys(CTRL_R + "101")
    prompt.keys("\r")  # ends the search with the line found
    prompt.keys("\r")  # and plays it
    assert [args[0] for args in _wait_sent(prompt, "/tempo", 3)] == [101.0, 133.0, 101.0]
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_help_keys_lists_every_binding(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("help keys\r")
    text = prompt.wait_written(lambda line: line.startswith("Keys at the prompt"))
    for key in ("Ctrl-C", "Ctrl-D", "Esc Esc", "F12", "Up", "Ctrl-R", "quit --stop"):
        assert key in text
    prompt.keys("quit --leave\r")
    assert prompt.ended() == 0


def test_input_that_ends_leaves_the_music_playing(engine: FakeEngine, pipe: PipeInput) -> None:
    prompt = Prompt(pipe, engine)
    prompt.keys("tempo 100\r")
    _wait_sent(prompt, "/tempo")
    pipe.close()  # as `chronus < lines.txt` at the end of the file: no key will come
    assert prompt.ended() == 0
    assert prompt.sent("/engine/quit") == []
    assert prompt.written[-1].startswith("the music plays on")
