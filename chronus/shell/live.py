"""A picture redrawn a few times a second until a key is pressed: `show patterns` playing.

`watch` runs between two prompts: it draws `frame(width, height)` (lines of ANSI text) every
`refresh` seconds below the prompt, rewriting only the lines that changed, leaves the last
frame on the screen when a key (or Ctrl-C) ends it, and returns to the prompt. It writes the
terminal's codes itself rather than run a prompt_toolkit application: that one's layout and
screen diff cost several times the frame (~3 % of a core for a 40-line grid at 5 frames a
second, against well under 1 % this way; benchmarks/views.py).
"""

from __future__ import annotations

import select
import sys
from collections.abc import Callable
from functools import lru_cache

from prompt_toolkit.input import Input, create_input
from prompt_toolkit.output import Output, create_output
from rich.color import ColorSystem
from rich.console import Group
from rich.style import Style
from rich.text import Text

__all__ = ["FOOTER", "REFRESH", "Frame", "LiveRunner", "ansi_lines", "terminal_runner", "watch"]

REFRESH = 0.2
"""Seconds between two frames: the playhead of 16ths at 120 bpm moves every 0.125 s, so
this shows most steps."""

FOOTER = "(any key: back to the prompt)"

Frame = Callable[[int, int], list[str]]
"""A frame at most `width` columns wide and `height` lines high: lines of ANSI text."""

LiveRunner = Callable[[Frame], None]
"""Shows frames until a key is pressed."""

_CLEAR_LINE = "\r\x1b[2K"
_HIDE, _SHOW = "\x1b[?25l", "\x1b[?25h"


@lru_cache(maxsize=64)
def _codes(style: str) -> tuple[str, str]:
    """The ANSI codes that open and close a rich style."""
    marked = Style.parse(style).render("\0", color_system=ColorSystem.STANDARD)
    start, _, end = marked.partition("\0")
    return start, end


def ansi_lines(picture: Group, width: int) -> list[str]:
    """A picture made of `Text` lines (the grid) as ANSI lines at most `width` wide, straight
    from the spans, without rendering it through a console."""
    lines = []
    for line in picture.renderables:
        if not isinstance(line, Text):
            continue
        plain = line.plain[:width]
        out, at = [], 0
        for span in sorted(line.spans, key=lambda span: span.start):
            if span.start >= len(plain):
                break
            start, end = _codes(str(span.style))
            out.append(plain[max(at, 0) : span.start])
            out.append(start + plain[span.start : span.end] + end)
            at = max(at, span.end)
        out.append(plain[at:])
        lines.append("".join(out))
    return lines


def _pressed(input: Input, timeout: float) -> bool:
    """Whether a key came within `timeout` seconds (read and dropped; a lone Esc, which the
    key parser would hold back as the start of a sequence, counts too)."""
    ready, _, _ = select.select([input.fileno()], [], [], timeout)
    if not ready:
        return False
    input.read_keys()
    input.flush_keys()
    return True


def watch(
    frame: Frame,
    input: Input | None = None,
    output: Output | None = None,
    refresh: float = REFRESH,
) -> None:
    """Redraw `frame` every `refresh` seconds until a key or Ctrl-C; the last one stays."""
    input = input or create_input()
    output = output or create_output()
    shown: list[str] = []
    with input.raw_mode():
        output.write_raw(_HIDE)
        try:
            while True:
                size = output.get_size()
                lines = [*frame(max(20, size.columns - 1), max(4, size.rows - 2)), FOOTER]
                output.write_raw(_redraw(shown, lines))
                output.flush()
                shown = lines
                if _pressed(input, refresh):
                    break
        finally:
            output.write_raw(_CLEAR_LINE + _SHOW)  # the footer goes; the frame stays
            output.flush()


def _redraw(shown: list[str], lines: list[str]) -> str:
    """The codes that turn the frame `shown` (the cursor on its last line) into `lines`:
    up to its first line, then each line rewritten only where it changed."""
    out = []
    if len(shown) > 1:
        out.append(f"\x1b[{len(shown) - 1}A")
    for index, line in enumerate(lines):
        if index:
            out.append("\n")
        if index >= len(shown) or shown[index] != line:
            out.append(_CLEAR_LINE + line)
    if len(lines) < len(shown):
        out.append("\x1b[J")  # the old frame was longer: clear below
    return "".join(out)


def terminal_runner() -> LiveRunner | None:
    """`watch` on this process's terminal, or None when stdin or stdout is not one (then a
    view prints one frame)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    return watch
