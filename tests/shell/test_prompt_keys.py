"""Completion and colour at keystroke level: a real PromptSession fed through a pipe."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session
from prompt_toolkit.buffer import CompletionState
from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput, Output
from prompt_toolkit.output.vt100 import Vt100_Output

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell.app import run_shell
from chronus.shell.colour import STYLE, CommandLexer
from chronus.shell.completion import CommandCompleter


@pytest.fixture
def context() -> Context:
    interpreter = Interpreter(Context())
    for line in ("add a saw called bass through an acid filter", "add a sine called lead"):
        assert interpreter.interpret(line).ok
    return interpreter.context


def _session(pipe: PipeInput, context: Context, output: Output | None = None) -> PromptSession[str]:
    return PromptSession(
        input=pipe,
        output=output or DummyOutput(),
        history=InMemoryHistory(),
        completer=CommandCompleter(lambda: context, lambda: ["intro", "verse"]),
        complete_while_typing=True,
        lexer=CommandLexer(lambda: context),
        style=STYLE,
    )


async def _menu(session: PromptSession[str], typed: str) -> CompletionState:
    """The completion menu once it is there for the line `typed`."""
    buffer = session.default_buffer
    for _ in range(500):
        state = buffer.complete_state
        if buffer.text == typed and state is not None and state.completions:
            return state
        await asyncio.sleep(0.01)
    raise AssertionError(f"no menu for {typed!r} (line is {buffer.text!r})")


Menus = list[list[tuple[str, str]]]


def _run(context: Context, keys: list[str], output: Output | None = None) -> tuple[str, Menus]:
    """Type each piece of `keys` (waiting for the menu after each but the last, which should
    end the line); the line the prompt returned and the menus seen."""

    async def main() -> tuple[str, Menus]:
        with create_pipe_input() as pipe:
            session = _session(pipe, context, output)
            task = asyncio.ensure_future(session.prompt_async("chronus> "))
            menus: Menus = []
            typed = ""
            for piece in keys[:-1]:
                pipe.send_text(piece)
                typed = _after(typed, piece)
                state = await _menu(session, typed)
                menus.append([(c.text, c.display_meta_text) for c in state.completions])
            pipe.send_text(keys[-1])
            return await asyncio.wait_for(task, 10), menus

    return asyncio.run(main())


def _after(typed: str, piece: str) -> str:
    """The line after typing `piece` (Ctrl-U, \x15, clears what is before it)."""
    return piece.split("\x15")[-1] if "\x15" in piece else typed + piece


def test_a_prefix_and_tab_completes_the_parameter(context: Context) -> None:
    line, menus = _run(context, ["set lead cu", "\t\r"])
    assert line == "set lead cutoff"
    assert menus[0] == [("cutoff", "20–20000 hz · now 2000")]


def test_the_menu_offers_parameters_with_their_ranges(context: Context) -> None:
    line, menus = _run(context, ["set bass ", "\x15\r"])  # Ctrl-U clears the line
    assert line == ""
    offered = dict(menus[0])
    assert offered["cutoff"] == "20–20000 hz · now 2000"
    assert offered["attack"] == "0–10 s · now 0.005"


def test_tab_walks_the_menu_of_modules(context: Context) -> None:
    line, menus = _run(context, ["mute ", "\t\t\r"])
    assert [text for text, _ in menus[0]] == ["acid1", "bass", "lead"]
    assert line == "mute bass"


def test_notes_and_snapshots_are_offered_as_typed(context: Context) -> None:
    line, menus = _run(context, ["bass: c2 e", "\x15snapshot load v", "\t\r"])
    assert ("eb2", "midi 39") in menus[0] and ("e2", "midi 40") in menus[0]
    assert menus[1] == [("verse", "snapshot")]
    assert line == "snapshot load verse"


def test_the_line_is_drawn_in_colour_as_typed(context: Context) -> None:
    screen = io.StringIO()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=100), term="xterm")
    line, _ = _run(context, ["set lead cutoff 800 h", "z\r"], output)
    assert line == "set lead cutoff 800 hz"
    drawn = screen.getvalue()
    # SGR 35 ansimagenta (number), 36 ansicyan (parameter), 32;1 bold ansigreen (module).
    assert "35m800" in drawn and "36mcutoff" in drawn and "32;1mlead" in drawn, drawn[-400:]


def test_completion_in_the_shell_against_an_engine(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    """run_shell itself: a module added, then its parameter completed with Tab and set. Each
    step waits for what the shell wrote or drew, not for a fixed time (a loaded host)."""
    screen = io.StringIO()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=100), term="xterm")
    written: list[str] = []

    def until(what: str, seen: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not seen():
            assert runner.is_alive(), f"the shell ended before {what}: {written}"
            assert time.monotonic() < deadline, (
                f"no {what}: {written}, {screen.getvalue()[-300:]!r}"
            )
            time.sleep(0.02)

    with create_pipe_input() as pipe, create_app_session(input=pipe, output=output):
        result: list[int] = []
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(
                    engine=("127.0.0.1", null_engine.port),
                    input=pipe,
                    output=output,
                    history=InMemoryHistory(),
                    write=written.append,
                )
            )
        )
        runner.start()
        pipe.send_text("add a sine called tabbed\r")
        until("module added", lambda: any("tabbed" in line for line in written))
        drawn = len(screen.getvalue())
        pipe.send_text("set tabbed relea")
        until("menu drawn", lambda: "release" in screen.getvalue()[drawn:])
        pipe.send_text("\t 1.5 s\r")  # Tab takes the menu's one entry
        until("release set", lambda: any("1.5" in line for line in written))
        pipe.send_text("quit --leave\r")  # the engine is the module's fixture
        runner.join(10)
    assert result == [0], written
    with null_engine.client() as client:
        assert client.dump()["modules"]["tabbed"]["params"]["release"] == 1.5, written
