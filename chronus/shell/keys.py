"""The prompt's own keys, beyond what prompt_toolkit gives every prompt.

prompt_toolkit already gives Up/Down (history), Ctrl-R (reverse search of the history) and
Ctrl-C (the prompt raises KeyboardInterrupt: the shell clears the line and goes on; it never
quits on Ctrl-C). Ctrl-D on an empty line quits (the shell asks whether to leave the music
playing). Added here: the panic key, Esc Esc or F12, which silences everything at once —
what a musician reaches for when something howls, without typing a word.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from chronus.protocol import validate

if TYPE_CHECKING:
    from chronus.shell.app import Shell

__all__ = ["PANIC_KEYS", "key_bindings", "panic"]

PANIC_KEYS = (("escape", "escape"), ("f12",))
"""Esc Esc and F12: all notes off at once, whatever is typed (the line is kept)."""


def key_bindings(panic: Callable[[], None]) -> KeyBindings:
    """The shell's keys: each panic key calls `panic` at once."""
    keys = KeyBindings()
    for sequence in PANIC_KEYS:

        @keys.add(*sequence, eager=True)
        def _panic(event: KeyPressEvent) -> None:
            panic()

    return keys


def panic(shell: Shell | None, write: Callable[[str], None]) -> None:
    """Send `/panic` to the shell's engine at once and say so."""
    if shell is None:
        write("panic: no engine yet")
        return
    try:
        shell.client.send([validate("/panic", ())])
    except OSError as exc:
        write(f"panic: not sent, the engine is gone ({exc.strerror or exc})")
        return
    playing = shell.interpreter.context.transport
    write(
        "panic: all notes off" + (" (the patterns play on: `stop` stops them)" if playing else "")
    )
