"""A picture redrawn a few times a second until a key is pressed: `show patterns` playing.

`watch` runs a small prompt_toolkit application between two prompts: it draws `frame(width)`
(ANSI text) every `refresh` seconds, leaves the last frame on the screen when a key (or
Ctrl-C) ends it, and returns to the prompt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import ANSI, AnyFormattedText
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import FormattedTextControl, HSplit, Layout, Window
from prompt_toolkit.output import Output

__all__ = ["REFRESH", "Frame", "LiveRunner", "terminal_runner", "watch"]

REFRESH = 0.2
"""Seconds between two frames: the playhead of 16ths at 120 bpm moves every 0.125 s, so
this shows most steps, and costs a frame's render (~ms) five times a second."""

Frame = Callable[[int], str]
"""A frame `width` columns wide, as text with ANSI colours."""

LiveRunner = Callable[[Frame], None]
"""Shows frames until a key is pressed."""


def watch(
    frame: Frame,
    input: Input | None = None,
    output: Output | None = None,
    refresh: float = REFRESH,
) -> None:
    """Redraw `frame` every `refresh` seconds until a key or Ctrl-C; the last one stays."""
    bindings = KeyBindings()

    @bindings.add(Keys.Any)
    @bindings.add("c-c")
    @bindings.add("enter")
    @bindings.add("escape")
    def _stop(event: KeyPressEvent) -> None:
        event.app.exit()

    def text() -> AnyFormattedText:
        width = app.output.get_size().columns
        return ANSI(frame(max(20, width - 1)))

    footer = Window(
        FormattedTextControl("(any key: back to the prompt)"), height=1, style="class:footer"
    )
    app: Application[None] = Application(
        layout=Layout(HSplit([Window(FormattedTextControl(text), wrap_lines=False), footer])),
        key_bindings=bindings,
        refresh_interval=refresh,
        input=input,
        output=output,
        full_screen=False,
    )
    app.run()


def terminal_runner() -> LiveRunner | None:
    """`watch` on this process's terminal, or None when stdin or stdout is not one (then a
    view prints one frame)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    return watch
