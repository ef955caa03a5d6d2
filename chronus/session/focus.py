"""The focus a shell had, kept beside its engine's session log for the next shell to attach.

The focus (the module `darker` or `play c3` acts on) lives in the shell, not in the engine:
a shell that attaches to an engine left playing cannot read it from `/engine/dump`. So each
shell writes its focus, when it changes, to a small file beside the session log the engine
appends to (`2026-05-01_20-15-00.focus` beside `2026-05-01_20-15-00.log`), and a shell that
attaches reads it back. With no log, or on another machine, there is none to read.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "set.log"
>>> keep_focus(log, "bass"), left_focus(log)
(True, 'bass')
>>> keep_focus(log, None), left_focus(log)
(True, None)
"""

from __future__ import annotations

from pathlib import Path

from chronus.protocol import ID_PATTERN
from chronus.session.atomic import write_atomic

__all__ = ["FOCUS_SUFFIX", "focus_path", "keep_focus", "left_focus"]

FOCUS_SUFFIX = ".focus"


def focus_path(log: str | Path) -> Path:
    """The focus file of the session log `log`."""
    return Path(log).with_suffix(FOCUS_SUFFIX)


def keep_focus(log: str | Path, focus: str | None) -> bool:
    """Write `focus` (None: no focus) beside `log`; False if it cannot be written (the focus
    is a convenience: nothing is lost but it)."""
    try:
        write_atomic(focus_path(log), (focus or "").encode())
    except OSError:
        return False
    return True


def left_focus(log: str | Path) -> str | None:
    """The focus the last shell on the session `log` had, or None (none kept, or unreadable)."""
    try:
        text = focus_path(log).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if ID_PATTERN.fullmatch(text) else None
