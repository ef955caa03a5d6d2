"""The interactive shell: a prompt_toolkit prompt in front of an engine."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from chronus.engine.client import DEFAULT_ENGINE, EngineClient, EngineError, EngineProcess
from chronus.lang.context import Context
from chronus.lang.intents import ShellCommand
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import module_types, param_names
from chronus.lang.parser import UNIT_WORDS, keywords
from chronus.shell.views import format_health, format_patch

__all__ = ["HELP", "Shell", "completion_words", "run_shell"]

HELP = """\
Type commands, one per line (or several separated by `;`). For example:
  tempo 128                     set the tempo
  add a saw called bass         a synth voice, routed to the speakers
  add kick                      a drum
  set bass cutoff 800 hz        change a parameter (`cutoff 800` uses the last module named)
  play c3 on bass               play a note (`play eb2 for 2 beats`, `play kick`)
  stop                          release every note;  panic: silence at once
  /mod/bass/cutoff 800          raw OSC, validated
  health · show patch · help · quit
"""


def completion_words() -> list[str]:
    """What the prompt completes: the grammar's keywords, module types, parameters, units."""
    words = set(keywords()) | set(UNIT_WORDS) | set(module_types())
    for module_type in module_types():
        words.update(param_names(module_type))
    return sorted(word for word in words if word.replace("_", "").isalpha())


class Shell:
    """What the shell does with one line, apart from the terminal.

    `write` receives everything meant for the user. Returns False from `handle` on quit.
    """

    def __init__(
        self, client: EngineClient, interpreter: Interpreter, write: Callable[[str], None]
    ) -> None:
        self.client = client
        self.interpreter = interpreter
        self.write = write

    def handle(self, line: str) -> bool:
        """Interpret one line and act on it; False when the user asked to quit."""
        result = self.interpreter.interpret(line)
        if result.error is not None:
            self.write(result.error.render())
            return True
        for intent in result.intents:
            if isinstance(intent, ShellCommand) and not self._shell_command(intent):
                return False
        if result.messages:
            self.client.send(result.messages)
            try:
                _, notes = self.client.sync(timeout=2.0)
            except EngineError as exc:
                self.write(f"error: {exc}")
                return True
            for address, args in notes:
                self.write(f"{address[1:]}: {' '.join(str(a) for a in args)}")
        return True

    def _shell_command(self, intent: ShellCommand) -> bool:
        name = intent.name
        if name in ("quit", "exit"):
            return False
        try:
            if name in ("health", "status"):
                self.write(format_health(self.client.status()))
            elif name == "show":
                only = None if intent.arg in (None, "patch") else intent.arg
                self.write(format_patch(self.client.dump(), only))
            else:
                self.write(HELP)
        except EngineError as exc:
            self.write(f"error: {exc}")
        return True

    def toolbar(self) -> str:
        """The bottom line: engine, tempo and focus."""
        context: Any = self.interpreter.context
        host, port = self.client.address
        focus = getattr(context, "focus", None) or "—"
        return (
            f" engine {host}:{port} · tempo {context.tempo:g} · focus {focus} · help · Ctrl-D quits"
        )


def _start_engine(backend: str, write: Callable[[str], None]) -> EngineProcess:
    try:
        return EngineProcess(port=DEFAULT_ENGINE[1], backend=backend).boot()
    except EngineError as exc:
        if "cannot listen" not in str(exc):
            raise
    write(f"port {DEFAULT_ENGINE[1]} is taken (another engine? attach with "
          f"`chronus --engine 127.0.0.1:{DEFAULT_ENGINE[1]}`); using a free port")  # fmt: skip
    return EngineProcess(port=0, backend=backend).boot()


def run_shell(
    engine: tuple[str, int] | None = None,
    backend: str = "auto",
    input: Input | None = None,
    output: Output | None = None,
    history: History | None = None,
) -> int:
    """The interactive shell; starts an engine unless `engine` names one to attach to."""

    def write(text: str) -> None:
        print(text, flush=True)

    process: EngineProcess | None = None
    try:
        if engine is None:
            write("starting the engine…")
            process = _start_engine(backend, write)
            for notice in process.notices:
                write(notice.rstrip())
            engine = (process.host, process.port)
        client = EngineClient(*engine)
        context = Context.from_dump(client.dump())
    except EngineError as exc:
        print(f"chronus: error: {exc}", file=sys.stderr)
        if process is not None:
            process.quit()
        return 1
    shell = Shell(client, Interpreter(context), write)
    write(f"chronus on {engine[0]}:{engine[1]} — type `help`, or `add a saw called bass`")
    if history is None:
        history = _history()
    session: PromptSession[str] = PromptSession(
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        completer=WordCompleter(completion_words(), ignore_case=True),
        bottom_toolbar=shell.toolbar,
        input=input,
        output=output,
    )
    try:
        with patch_stdout():
            while True:
                try:
                    line = session.prompt("chronus> ")
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not shell.handle(line):
                    break
    finally:
        client.close()
        if process is not None:
            write("stopping the engine…")
            process.quit()
    return 0


def _history() -> History:
    path = Path.home() / ".chronus_history"
    try:
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))
