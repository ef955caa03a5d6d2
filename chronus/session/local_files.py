"""Files named in commands: a user module's made absolute for an engine on this machine (it
reads relative to its own folder, not the shell's). A recording's is sent as typed: the engine
writes it in its files folder (`--files`), which a relative name is under."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chronus.lang.intents import Plugin
from chronus.lang.resolve import Mapped
from chronus.protocol import Message

__all__ = ["is_local", "localised"]


def is_local(host: str) -> bool:
    """Whether an engine at `host` runs on this machine (and writes files into ours)."""
    return host in ("127.0.0.1", "localhost", "::1")


def localised(mapped: Mapped) -> tuple[Message, ...]:
    """An intent's messages, a module's file made absolute: for an engine on this machine,
    which reads relative to its own folder, not ours. A recording's file is sent as typed."""
    intent = mapped.intent
    if not (isinstance(intent, Plugin) and intent.file):
        return mapped.messages
    out = []
    for message in mapped.messages:
        path = Path(str(message.args[0])).expanduser()
        if not path.is_absolute() or str(path) != message.args[0]:
            message = replace(message, args=(str(path.resolve()), *message.args[1:]))
        out.append(message)
    return tuple(out)
