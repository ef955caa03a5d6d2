"""Scripts: `.chr` files of commands, timed by `wait`, turned into exactly timed OSC.

One command per line (or several split by ";"), `#` comments, blank lines ignored.
`wait N ms|s|beats|bars|steps` advances time at the tempo in force at that point, so a tempo
change affects only the waits after it. Times are exact `Fraction`s of a second; the sample a
message applies at is `sample_of(time, rate)`.

>>> script = load_script("tempo 120\\nadd kick\\nplay kick\\nwait 1 beat\\nplay kick")
>>> [(str(t.time), t.message.address) for t in script.messages][-2:]
[('0', '/note/kick'), ('1/2', '/note/kick')]
>>> sample_of(Fraction(1, 3), 48000)
16000
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction

from chronus.lang.context import Context
from chronus.lang.errors import ChronusSyntaxError
from chronus.lang.intents import (
    Record,
    Replay,
    ShellCommand,
    Snapshot,
    StopRecording,
    Wait,
)
from chronus.lang.interpreter import Interpreter
from chronus.protocol import Message

__all__ = [
    "Script",
    "ScriptError",
    "TimedMessage",
    "load_script",
    "load_script_file",
    "sample_of",
]


@dataclass(frozen=True)
class TimedMessage:
    """A message and when it applies: seconds from the script's start, exact."""

    time: Fraction
    message: Message
    line: int
    """1-based line of the script it came from."""


@dataclass(frozen=True)
class Script:
    """The timed messages of a script, in time order, and its length."""

    messages: list[TimedMessage] = field(default_factory=list)
    duration: Fraction = Fraction(0)
    """The time after the last wait (a script that ends on `wait 2 s` lasts those 2 s)."""
    source: str = "<script>"
    context: Context = field(default_factory=Context, compare=False, repr=False)
    """The patch as the script leaves it."""


class ScriptError(ValueError):
    """The first bad line of a script: where it is and the rendered syntax error."""

    def __init__(
        self, source: str, line: int, message: str, error: ChronusSyntaxError | None = None
    ) -> None:
        self.source = source
        self.line = line
        self.error = error
        self.rendering = error.render() if error is not None else message
        super().__init__(f"{source}:{line}: {message}\n{self.rendering}")


def sample_of(time: Fraction, sample_rate: int) -> int:
    """The sample index of a time: time × rate rounded half up, exactly."""
    return math.floor(Fraction(time) * sample_rate + Fraction(1, 2))


SHELL_ONLY = (ShellCommand, Snapshot, Record, StopRecording, Replay)
"""Intents that act on the shell's session, not on the music; a script refuses them."""


def load_script(text: str, source: str = "<script>", context: Context | None = None) -> Script:
    """Interpret every line of a script; `ScriptError` on the first line that fails.

    `context` is the patch the script starts from (an empty one by default); it is not
    modified.
    """
    interpreter = Interpreter(context.copy() if context is not None else Context())
    now = Fraction(0)
    out: list[TimedMessage] = []
    # Split on "\n" only, as editors number lines; str.splitlines also splits on \f, \x1c….
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        result = interpreter.interpret(line)
        if result.error is not None:
            raise ScriptError(source, number, result.error.message, result.error)
        for mapped in result.mapped:
            if isinstance(mapped.intent, SHELL_ONLY):
                intent = mapped.intent
                name = intent.name if isinstance(intent, ShellCommand) else intent.kind
                error = ChronusSyntaxError(
                    f'"{name.replace("_", " ")}" is a shell command; a script cannot use it',
                    column=intent.column("name"),
                    hint="remove the line; scripts hold music only (record a script with "
                    "`chronus render` or `chronus engine --record`)",
                    line=line,
                )
                raise ScriptError(source, number, error.message, error)
            code = [m.address for m in mapped.messages if m.address.startswith("/plugins/")]
            if code:
                message = (
                    f"{code[0]} loads code: a script never does (load user modules in the "
                    "shell or over OSC, then play the script)"
                )
                raise ScriptError(source, number, message)
            if isinstance(mapped.intent, Wait):
                now += mapped.advance
            out.extend(TimedMessage(now, message, number) for message in mapped.messages)
    return Script(out, now, source, interpreter.context)


def load_script_file(path: str | os.PathLike[str]) -> Script:
    """Read a UTF-8 `.chr` file and load it; errors name the file and line (a file that is
    not UTF-8 text too)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScriptError(os.fspath(path), line, "not a UTF-8 text file: is it a script?") from None
    return load_script(text, source=os.fspath(path))
