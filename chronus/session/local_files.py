"""Files named in commands (a recording, a user module), made absolute for an engine on this
machine: it reads and writes relative to its own folder, not the shell's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chronus.lang.intents import Plugin, Record
from chronus.lang.resolve import Mapped
from chronus.protocol import Message

__all__ = ["is_local", "localised"]


def is_local(host: str) -> bool:
    """Whether an engine at `host` runs on this machine (and writes files into ours)."""
    return host in ("127.0.0.1", "localhost", "::1")


def localised(mapped: Mapped) -> tuple[Message, ...]:
    """An intent's messages, a recording's or a module's file made absolute: for an engine on
    this machine, which reads and writes relative to its own folder, not ours."""
    intent = mapped.intent
    if not isinstance(intent, Record) and not (isinstance(intent, Plugin) and intent.file):
        return mapped.messages
    out = []
    for message in mapped.messages:
        path = Path(str(message.args[0]))
        if isinstance(intent, Plugin):
            path = path.expanduser()
        if not path.is_absolute() or str(path) != message.args[0]:
            message = replace(message, args=(str(path.resolve()), *message.args[1:]))
        out.append(message)
    return tuple(out)
