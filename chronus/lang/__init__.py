"""chronus.lang: typed words → intents → canonical OSC.

`Interpreter(context).interpret(line)` is the whole surface the shell needs; the pieces
(`parse`, `map_intents`, `Context`, the intents and errors) are exported for tests, scripts
and completion.
"""

from __future__ import annotations

from chronus.lang.context import Context
from chronus.lang.errors import (
    BadValueError,
    ChronusSyntaxError,
    NoFocusError,
    UnknownModuleError,
    UnknownParamError,
)
from chronus.lang.intents import (
    AddModule,
    Duration,
    Intent,
    Panic,
    PlayNote,
    RawOsc,
    SetParam,
    SetTempo,
    ShellCommand,
    Stop,
    Wait,
)
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.lang.mapper import Mapped, map_intent, map_intents
from chronus.lang.parser import parse

__all__ = [
    "AddModule",
    "BadValueError",
    "ChronusSyntaxError",
    "Context",
    "Duration",
    "Intent",
    "Interpretation",
    "Interpreter",
    "Mapped",
    "NoFocusError",
    "Panic",
    "PlayNote",
    "RawOsc",
    "SetParam",
    "SetTempo",
    "ShellCommand",
    "Stop",
    "UnknownModuleError",
    "UnknownParamError",
    "Wait",
    "map_intent",
    "map_intents",
    "parse",
]
