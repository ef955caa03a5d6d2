"""Coming and going: the engine outlives the shell, and the shell says so.

Quitting the prompt (`quit`, `exit`, Ctrl-D) asks one key: **l**eave the music playing
(the default: Enter, `l`, or Ctrl-D again) or **s**top it. Leaving is the default because a
musician who quits the prompt in the middle of a set expects the music to go on — the prompt
is a way to play the engine, not the instrument itself — and an accidental Ctrl-D must never
cut the sound; stopping is one deliberate key away. Ctrl-C or Esc at the question goes back
to the prompt; input that ends (`chronus < lines.txt`) leaves. `quit --stop` and `quit
--leave` do not ask.

A later `chronus` with no `--engine` finds the engine still playing on the default port and
attaches to it (`find_engine`), rebuilding its mirror from `/engine/dump`; the focus is the
one the last shell on it had, when its session log keeps it (`attach_context`).
"""

from __future__ import annotations

import socket

from prompt_toolkit import PromptSession
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from chronus.engine.client import DEFAULT_ENGINE, EngineClient, EngineError
from chronus.lang.context import Context
from chronus.lang.modules import is_modulator
from chronus.session.focus import left_focus
from chronus.shell.sessions import engine_takes, local_log, logged_history

__all__ = [
    "LEAVE",
    "QUESTION",
    "STOP",
    "ask_stop_or_leave",
    "attach_context",
    "attached_line",
    "find_engine",
    "left_playing",
]

STOP = "stop"
LEAVE = "leave"
QUESTION = "stop the music or leave it playing? [L]eave / [s]top (Ctrl-C: back) "
PROBE_TIMEOUT_S = 1.0
"""How long a new shell waits for an engine on the default port before starting its own."""


def ask_stop_or_leave(input: Input | None = None, output: Output | None = None) -> str | None:
    """One key: `LEAVE` (Enter, l, Ctrl-D), `STOP` (s), or None (Ctrl-C, Esc: not quitting)."""
    keys = KeyBindings()

    @keys.add("<any>")
    def _other(event: KeyPressEvent) -> None:
        """Any other key is no answer."""

    def answer(*names: str, result: str | None) -> None:
        for name in names:
            keys.add(name)(lambda event: event.app.exit(result=result))

    answer("s", "S", result=STOP)
    answer("l", "L", "enter", "c-d", result=LEAVE)
    answer("c-c", "escape", result=None)
    session: PromptSession[str | None] = PromptSession(
        QUESTION, key_bindings=keys, input=input, output=output
    )
    try:
        return session.prompt()
    except EOFError:  # the input is gone (closed, not a key): the default
        return LEAVE
    except KeyboardInterrupt:
        return None


def left_playing(address: tuple[str, int]) -> str:
    """What a shell says when it leaves the music playing: where, and how to come back."""
    host, port = address
    again = "`chronus`" if (host, port) == DEFAULT_ENGINE else f"`chronus --engine {host}:{port}`"
    return (
        f"the music plays on: the engine stays at {host}:{port}. {again} again to come back "
        "(`quit --stop` there stops it)"
    )


def find_engine(
    port: int = DEFAULT_ENGINE[1], host: str = DEFAULT_ENGINE[0]
) -> EngineClient | None:
    """A client of the engine answering at `host:port`, or None if none answers there.

    A TCP connection is tried first: where nothing listens it is refused at once, where a
    UDP sync would wait out its timeout (an unconnected socket hears no ICMP refusal).
    """
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError:
        return None
    client = EngineClient(host, port)
    try:
        client.sync(timeout=PROBE_TIMEOUT_S)
    except (EngineError, OSError):
        client.close()
        return None
    return client


def attach_context(client: EngineClient) -> Context:
    """The mirror of a running engine: its patch, patterns and tempo from `/engine/dump`,
    the focus the last shell on it had (kept beside the engine's session log, see
    `chronus.session.focus`; None if none was kept or its module is gone: `attached_line`
    then says how to choose one), its undo history from the engine's session log
    (`logged_history`; none if the log does not explain the patch).
    EngineError if it does not answer."""
    context = Context.from_engine(client.dump())
    log = local_log(client)
    focus = None if log is None else left_focus(log)
    context.focus = focus if focus in context.modules else None
    context.attached = True
    context.history = logged_history(log, context.state())
    context.takes = engine_takes(client, log)
    return context


def attached_line(context: Context, address: tuple[str, int]) -> str:
    """`attached to the engine playing at …: 3 modules, 2 patterns, tempo 128, focus bass`."""
    host, port = address
    modules = len(context.modules)
    patterns = sum(1 for track in context.tracks.values() if track.pattern)
    playing = "playing" if context.transport else "waiting"
    parts = [
        f"{modules} module{'' if modules == 1 else 's'}",
        f"{patterns} pattern{'' if patterns == 1 else 's'}",
        f"tempo {context.tempo:g}",
    ]
    if context.focus is not None:
        parts.append(f"focus {context.focus}")
    elif context.modules:
        sounding = [m for m, kind in context.modules.items() if not is_modulator(kind)]
        parts.append(f"no focus yet: `focus {(sounding or list(context.modules))[0]}` picks one")
    if context.history:
        count = len(context.history)
        parts.append(f"undo: {count} line{'' if count == 1 else 's'} of its session log")
    return f"attached to the engine {playing} at {host}:{port}: {', '.join(parts)}"
