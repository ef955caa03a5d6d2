"""Process titles: what `ps`, `top` and `htop` show for each engine process.

Every engine process names itself (`chronus: supervisor :57120`, `chronus: slot A (active)`,
`chronus: audio I/O`, `chronus: spare` …) instead of the interpreter's command line. The
title is written into the process's own argument area by `setproctitle`, so it is what
`/proc/<pid>/cmdline` reads. A platform where that fails keeps its old title: a name is
never worth an engine that does not start.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PREFIX", "set_title", "slot_title"]

PREFIX: Final = "chronus: "


def set_title(what: str) -> None:
    """Call this process `chronus: <what>`."""
    try:
        import setproctitle
    except ImportError:  # an install without it: the interpreter's own title stays
        return
    setproctitle.setproctitle(PREFIX + what)


def slot_title(seat: int, active: bool) -> str:
    """`slot A (active)`, `slot B (standby)` …

    >>> slot_title(1, False)
    'slot B (standby)'
    """
    return f"slot {'AB'[seat]} ({'active' if active else 'standby'})"
