"""Undo across an attach: the patches a running engine went through, from its session log.

A shell that attaches to an engine another shell left playing has typed nothing yet, so it
has no undo history of its own. The engine's stamped session log holds every command the
engine applied; replayed into an empty mirror it gives the patch before each change, which is
what `undo` goes back to. The commands of one typed line leave the shell one datagram each
and may land in successive blocks, so commands less than `LINE_GAP_S` apart count as one
line.

The history is taken only when the replay ends on the very patch the engine holds now: a log
that does not explain the patch (begun late, appended to by an engine before this one, a
command the mirror does not follow) gives no history, never a wrong one.
"""

from __future__ import annotations

import os
from pathlib import Path

from chronus.lang.context import Context, PatchState
from chronus.protocol import Message
from chronus.session.stamped_log import read_stamped_log

__all__ = ["LINE_GAP_S", "MAX_LOG_BYTES", "history_from_log"]

LINE_GAP_S = 0.1
"""Commands closer together than this (in the engine's samples) are one line."""
MAX_LOG_BYTES = 256_000
"""A longer log is not read: it is read before the prompt comes, which must be at once
(1.7 MB took 1.1 s on a loaded 2-CPU machine; an hour of typing logged 23 kB)."""


def history_from_log(
    path: str | os.PathLike[str], now: PatchState, limit: int
) -> list[PatchState] | None:
    """The patch before each of the last `limit` lines of the session log at `path`, oldest
    first, if replaying the log ends on `now`; else None (and None for a log that cannot be
    read, or is too long to read at once)."""
    try:
        if Path(path).stat().st_size > MAX_LOG_BYTES:
            return None
        session = read_stamped_log(path)
    except (OSError, ValueError):
        return None
    events: list[tuple[int, Message]] = [*session.commands]
    events += [(commit.stamp, m) for commit in session.commits for m in commit.messages]
    events.sort(key=lambda event: event[0])  # stable: a commit's commands keep their order
    mirror = Context()
    history: list[PatchState] = []
    before = mirror.state()
    last: int | None = None
    for sample, message in events:
        if last is not None and sample - last > LINE_GAP_S * session.rate:
            before = _line_ended(mirror, before, history)
        mirror.observe(message)
        last = sample
    _line_ended(mirror, before, history)
    if mirror.state() != now:
        return None
    return history[-limit:] if limit > 0 else []


def _line_ended(mirror: Context, before: PatchState, history: list[PatchState]) -> PatchState:
    """Keep `before` if the line changed the patch; the state the next line starts from."""
    after = mirror.state()
    if after != before:
        history.append(before)
    return after
