"""What the shell says about session logs: where this one goes, and the `sessions` table."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chronus.engine.client import EngineClient, EngineError
from chronus.engine.files import default_folder
from chronus.lang.context import PatchState
from chronus.lang.mapper import HISTORY_LIMIT
from chronus.session.local_files import is_local
from chronus.session.log_history import history_from_log
from chronus.session.logs import SessionInfo, list_sessions, new_session_path, sessions_dir
from chronus.session.recording import takes_made

__all__ = [
    "attached_notice",
    "engine_log",
    "engine_takes",
    "format_sessions",
    "local_log",
    "logged_history",
    "logged_notice",
    "sessions_text",
    "start_log",
]


def start_log(write: Callable[[str], None]) -> Path | None:
    """A fresh dated log for the engine the shell starts; None (and why, written) if the
    sessions folder cannot be made."""
    try:
        return new_session_path(sessions_dir())
    except OSError as exc:
        write(f"warning: this session is not logged: cannot make {sessions_dir()}: {exc}")
        return None


def logged_notice(path: Path) -> str:
    """Said when the shell starts an engine that logs to `path`."""
    return (
        f"this session is logged to {path} — `sessions` lists the logs, "
        f"`chronus render {path.stem} -o take.wav` renders it (`chronus --no-log`: not logged)"
    )


def engine_log(client: EngineClient) -> str | None:
    """The session log the engine at `client` appends to (None: it keeps none)."""
    log = client.status()["engine"].get("log")
    return str(log) if log else None


def local_log(client: EngineClient) -> str | None:
    """The session log of an engine on this machine (None: it keeps none, it does not say,
    or it runs elsewhere, where this shell cannot read its files)."""
    if not is_local(client.address[0]):
        return None
    try:
        return engine_log(client)
    except (EngineError, KeyError, TypeError):
        return None


def logged_history(log: str | None, now: PatchState) -> list[PatchState]:
    """The undo history of an engine attached to, from its session log `log` (`local_log`)
    when the log explains the patch `now` (see `chronus.session.log_history`); else none."""
    if log is None:
        return []
    return history_from_log(log, now, HISTORY_LIMIT) or []


def engine_takes(client: EngineClient, log: str | None) -> int:
    """The takes an engine on this machine made already (its log's recordings, `log` from
    `local_log`, and the files folder this shell's engines write to): the next unnamed
    `record` goes past them."""
    if not is_local(client.address[0]):
        return 0
    return takes_made(default_folder(), log)


def attached_notice(client: EngineClient) -> str:
    """Said when the shell attaches to a running engine: whether, and where, it logs."""
    try:
        log = engine_log(client)
    except (EngineError, KeyError, TypeError):
        return ""
    if log is None:
        return (
            "this engine keeps no session log: what is played now is not kept "
            "(a shell that starts its own engine logs it; `chronus engine --log FILE` too)"
        )
    return f"the engine logs this session to {log}"


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    return f"{size / 1e3:.1f} kB" if size < 1_000_000 else f"{size / 1e6:.1f} MB"


def _length(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def format_sessions(
    sessions: list[SessionInfo], folder: Path, current: str | None = None, width: int = 100
) -> str:
    """The logged sessions, oldest first: name, date, length, size, commands; `current` (a
    log's path) is marked as this session."""
    if not sessions:
        return f"no sessions logged yet in {folder}"
    table = Table(title=f"sessions in {folder}", title_justify="left", box=None)
    for column in ("session", "started", "length", "size", "commands"):
        right = column in ("length", "size", "commands")
        table.add_column(column, justify="right" if right else "left")
    table.add_column("")
    for info in sessions:
        mark = "← this session" if current and str(info.path.resolve()) == current else ""
        if info.error:
            mark = "unreadable: " + info.error.removeprefix(f"{info.path}:")
        commands = f"{info.commands}" + (f" ({info.commits} commits)" if info.commits else "")
        table.add_row(
            info.name, f"{info.started:%Y-%m-%d %H:%M}", _length(info.seconds),
            _size(info.size), commands, mark,
        )  # fmt: skip
    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    console.print(table)
    hint = "`chronus render NAME -o take.wav` renders one; `chronus run NAME` replays it"
    lines = [line.rstrip() for line in buffer.getvalue().rstrip().splitlines()]
    return "\n".join([*lines, hint])


def sessions_text(client: EngineClient | None = None) -> str:
    """`sessions`: the logged sessions, this one (the engine's log, if `client` says) marked."""
    current = None
    if client is not None:
        try:
            current = engine_log(client)
        except (EngineError, KeyError, TypeError):
            current = None
    folder = sessions_dir()
    return format_sessions(list_sessions(folder), folder, current)
