"""The shell's own engine, started in the background: the prompt is usable at once.

`chronus` with no `--engine` starts an engine. That takes a moment (seconds on a first run,
while the DSP kernels compile), and a musician should not have to wait to type. `EngineStart`
boots the engine in a thread; `Gate` takes the lines typed meanwhile. Each line is
interpreted at once, so a mistake is told at once; `help` and `what` are answered at once;
the rest is kept and played, in order, as soon as the engine is up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from chronus.engine.client import DEFAULT_ENGINE, EngineError, EngineProcess
from chronus.lang.context import Context
from chronus.lang.intents import ShellCommand
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.shell.ensemble import Heard
from chronus.shell.feedback import Moment
from chronus.shell.help import help_text
from chronus.shell.views import format_module

if TYPE_CHECKING:
    from chronus.shell.app import Shell

__all__ = ["EngineStart", "Gate", "asks_to_quit", "local_answer", "quit_how"]

Write = Callable[[str], None]
_LOCAL = ("help", "what", "focus")
"""Shell words answered without the engine (also while it boots)."""


def asks_to_quit(result: Interpretation) -> bool:
    """Whether a line is `quit` or `exit`."""
    return any(
        isinstance(intent, ShellCommand) and intent.name in ("quit", "exit")
        for intent in result.intents
    )


def quit_how(result: Interpretation) -> str | None:
    """`stop` for `quit --stop`, `leave` for `quit --leave`, None for a bare `quit` (ask)."""
    for intent in result.intents:
        if isinstance(intent, ShellCommand) and intent.name in ("quit", "exit"):
            return intent.arg
    return None


def local_answer(intent: ShellCommand, context: Context) -> str:
    """What `what …`, `help …` or `focus …` says: each is answered without the engine."""
    if intent.name == "what":
        return format_module(context, intent.arg or "")
    if intent.name == "focus":
        return f"focus: {context.focus}"
    return help_text(intent.arg)


class EngineStart:
    """An engine booting in a background thread (on `port`, else a free one), in a session of
    its own: it outlives the shell, and a signal to the shell's terminal does not reach it."""

    def __init__(
        self, backend: str, write: Write, port: int = DEFAULT_ENGINE[1], log: Path | None = None
    ) -> None:
        self.backend = backend
        self.write = write
        self.port = port
        self.log = log
        """The session log the engine appends to (`--log`), if any."""
        self.engine: EngineProcess | None = None
        """The engine, once it is READY."""
        self.error = ""
        """Why it did not start, if it did not."""
        self._booting: EngineProcess | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def begin(self, then: Callable[[EngineStart], None]) -> None:
        """Start booting; `then(self)` is called from the thread when it is up or failed."""
        self._thread = threading.Thread(target=self._boot, args=(then,), daemon=True)
        self._thread.start()

    def _boot(self, then: Callable[[EngineStart], None]) -> None:
        try:
            self.engine = self._try(self.port)
        except EngineError as exc:
            if "cannot listen" not in str(exc) or self._stopping:
                self.error = str(exc)
            else:
                self.write(
                    f"port {self.port} is taken (another engine? attach with "
                    f"`chronus --engine 127.0.0.1:{self.port}`); using a free port"
                )
                try:
                    self.engine = self._try(0)
                except EngineError as again:
                    self.error = str(again)
        if not self._stopping:
            then(self)

    def _try(self, port: int) -> EngineProcess:
        logging = ["--log", str(self.log)] if self.log is not None else []
        self._booting = EngineProcess(
            port=port, backend=self.backend, detached=True, extra_args=logging
        )
        return self._booting.boot()

    @property
    def progress(self) -> str:
        """The engine's last word while it boots (kernels compiling on a first run), or ""."""
        booting = self._booting
        lines = list(booting.stderr_tail) if booting is not None else []
        compiling = [line for line in lines if "compil" in line]
        return compiling[-1].split("INFO: ", 1)[-1].strip() if compiling else ""

    def stop(self) -> None:
        """Stop the engine, booted or still booting."""
        self._stopping = True
        booting = self._booting
        if booting is not None and booting.process is not None and self.engine is None:
            if booting.process.poll() is None:
                booting.process.terminate()
        if self._thread is not None:
            self._thread.join(15.0)
        if self.engine is not None:
            self.engine.quit()


class Gate:
    """Lines on their way to the shell, which exists once the engine is up.

    Until `open`, a line is interpreted at once (so the patch the next line sees includes
    it) and kept; `open` acts on the kept lines in order. Both hold one lock, so a line typed
    while the kept ones play waits for them.
    """

    def __init__(self, interpreter: Interpreter, write: Write) -> None:
        self.interpreter = interpreter
        self.write = write
        self.shell: Shell | None = None
        self.failed = ""
        """Why the engine did not start, if it did not."""
        self._quit_how: str | None = None
        self._kept: list[tuple[Interpretation, Moment, Moment]] = []
        """Each kept line with the mirror before and after it (for its feedback line)."""
        self._lock = threading.Lock()
        self._settled = threading.Event()
        """Set once the engine is up or failed."""

    def handle(self, line: str) -> bool:
        """Act on one line (or keep it); False when the user asked to quit."""
        with self._lock:
            if self.shell is not None:
                return self.shell.handle(line)
            before = Moment.of(self.interpreter.context)
            result = self.interpreter.interpret(line)
            if result.error is not None:
                self.write(result.error.render())
                return True
            if asks_to_quit(result):
                self._quit_how = quit_how(result)
                return False
            local = [i for i in result.intents if isinstance(i, ShellCommand)]
            if not result.messages and local and all(i.name in _LOCAL for i in local):
                for intent in local:
                    self.write(local_answer(intent, self.interpreter.context))
                return True
            if self.failed:
                self.write(f"error: there is no engine: {self.failed}")
                return True
            if result.intents:
                self._kept.append((result, before, Moment.of(self.interpreter.context)))
                if len(self._kept) == 1:
                    self.write("(the engine is starting: that plays as soon as it is up)")
            return True

    def open(self, shell: Shell) -> None:
        """The engine is up: play the kept lines in order, then pass every line on."""
        with self._lock:
            kept, self._kept = self._kept, []
            for result, before, after in kept:
                shell.act(result, before, after)
            self.shell = shell
            self._settled.set()

    def fail(self, reason: str) -> None:
        """The engine did not start: the kept lines are dropped."""
        with self._lock:
            self.failed = reason
            if self._kept:
                self.write(f"({len(self._kept)} line(s) typed meanwhile were not played)")
            self._kept = []
            self._settled.set()

    def settle(self, timeout: float) -> bool:
        """Wait until the engine is up (the kept lines played) or failed; whether it did
        within `timeout` seconds."""
        return self._settled.wait(timeout)

    @property
    def quit_how(self) -> str | None:
        """How the last quit asked to go: `stop`, `leave`, or None (ask)."""
        return self.shell.quit_how if self.shell is not None else self._quit_how

    def engine_back(self, restarted: bool) -> None:
        """The engine answers again: the shell resyncs (between two lines, not during one)."""
        with self._lock:
            if self.shell is not None:
                self.shell.engine_back(restarted)

    def heard(self, changes: list[Heard]) -> None:
        """Other clients changed something: told, and the mirror follows (between lines)."""
        with self._lock:
            if self.shell is not None:
                self.shell.others(changes)

    def missed(self, count: int) -> None:
        """Changes of others were missed: the shell rebuilds its mirror (between lines)."""
        with self._lock:
            if self.shell is not None:
                self.shell.missed(count)

    @property
    def waiting(self) -> int:
        """Lines kept until the engine is up."""
        return len(self._kept)
