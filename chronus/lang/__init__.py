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
    Adjust,
    ChangeTempo,
    Clear,
    Connect,
    Disconnect,
    Duration,
    Intent,
    Link,
    Modulate,
    Panic,
    PlayChord,
    PlayNote,
    RawOsc,
    Record,
    Redo,
    Remove,
    Replay,
    Route,
    SetKey,
    SetLane,
    SetParam,
    SetPattern,
    SetStep,
    SetTempo,
    ShellCommand,
    Snapshot,
    Start,
    Stop,
    StopRecording,
    Transpose,
    Undo,
    Wait,
)
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.lang.mapper import Mapped, map_intent, map_intents
from chronus.lang.parser import parse

__all__ = [
    "AddModule",
    "Adjust",
    "BadValueError",
    "ChangeTempo",
    "ChronusSyntaxError",
    "Clear",
    "Connect",
    "Context",
    "Disconnect",
    "Duration",
    "Intent",
    "Interpretation",
    "Interpreter",
    "Link",
    "Mapped",
    "Modulate",
    "NoFocusError",
    "Panic",
    "PlayChord",
    "PlayNote",
    "RawOsc",
    "Record",
    "Redo",
    "Remove",
    "Replay",
    "Route",
    "SetKey",
    "SetLane",
    "SetParam",
    "SetPattern",
    "SetStep",
    "SetTempo",
    "ShellCommand",
    "Snapshot",
    "Start",
    "Stop",
    "StopRecording",
    "Transpose",
    "Undo",
    "UnknownModuleError",
    "UnknownParamError",
    "Wait",
    "map_intent",
    "map_intents",
    "parse",
]
