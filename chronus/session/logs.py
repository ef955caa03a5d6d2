"""Where session logs live, and what each one holds: the `sessions` listing.

Every shell session is logged by default (the engine's stamped log, see `stamped_log`) into
`$XDG_DATA_HOME/chronus/sessions/` (`~/.local/share/chronus/sessions/` without it), one file
per engine run, named after the moment it started: `2026-12-05_08-10-33.log`.

>>> sessions_dir({"XDG_DATA_HOME": "/data", "HOME": "/home/x"})
PosixPath('/data/chronus/sessions')
>>> sessions_dir({"HOME": "/home/x"})
PosixPath('/home/x/.local/share/chronus/sessions')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chronus.session.stamped_log import is_session_log, summarise_log

__all__ = ["SessionInfo", "find_session", "list_sessions", "new_session_path", "sessions_dir"]

_STAMP = "%Y-%m-%d_%H-%M-%S"
SUFFIX = ".log"


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of session logs: under `XDG_DATA_HOME` if it is set (and absolute, as the
    XDG spec asks), else under `~/.local/share`."""
    env = os.environ if env is None else env
    data = env.get("XDG_DATA_HOME", "")
    if not data or not os.path.isabs(data):
        data = os.path.join(env.get("HOME") or str(Path.home()), ".local", "share")
    return Path(data) / "chronus" / "sessions"


def new_session_path(folder: Path, now: datetime | None = None) -> Path:
    """A fresh, dated log in `folder` (made if missing): `-2`, `-3` … if the name is taken.
    The name is claimed by creating the file, empty (the engine writes its header): two
    shells started in the same second never log into one file. Raises OSError if the folder
    or the file cannot be made."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = (now or datetime.now()).strftime(_STAMP)
    path, n = folder / f"{stem}{SUFFIX}", 1
    while True:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return path
        except FileExistsError:
            n += 1
            path = folder / f"{stem}-{n}{SUFFIX}"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One logged session, as `sessions` lists it."""

    path: Path
    started: datetime
    """From the file's name; its modification time for a log named otherwise."""
    seconds: float
    """How long it played: to where the engine stopped, or to its last command."""
    size: int
    """Bytes on disk."""
    commands: int
    """Commands applied, each commit's counted once per command it held."""
    commits: int
    error: str = ""
    """Why the log could not be read (then the numbers are 0)."""

    @property
    def name(self) -> str:
        """What `chronus render` and `chronus run` take for it: the file's name without
        `.log`."""
        return self.path.stem


def session_info(path: Path) -> SessionInfo:
    """What `path` holds; a log that cannot be read says why in `error`."""
    stat = path.stat()
    try:
        started = datetime.strptime(path.stem[:19], _STAMP)
    except ValueError:
        started = datetime.fromtimestamp(stat.st_mtime)
    try:
        log = summarise_log(path)
    except (OSError, ValueError) as exc:
        return SessionInfo(path, started, 0.0, stat.st_size, 0, 0, str(exc))
    return SessionInfo(path, started, log.end / log.rate, stat.st_size, log.commands, log.commits)


def list_sessions(folder: Path | None = None) -> list[SessionInfo]:
    """Every session log in `folder` (default: `sessions_dir()`), oldest first."""
    folder = sessions_dir() if folder is None else folder
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.glob(f"*{SUFFIX}") if _written(p))
    return sorted((session_info(p) for p in paths), key=lambda info: (info.started, info.name))


def _written(path: Path) -> bool:
    """Whether `path` is a file with something in it (a name claimed by a shell whose
    engine never started is an empty file: no session)."""
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def find_session(text: str | os.PathLike[str], folder: Path | None = None) -> Path:
    """The log `text` names: a path to a file, else a name in `folder` (default:
    `sessions_dir()`), with or without `.log`; `last` is the newest.

    Raises FileNotFoundError saying which sessions there are.
    """
    given = Path(text)
    if given.is_file():
        return given
    folder = sessions_dir() if folder is None else folder
    if str(text) == "last":
        known = list_sessions(folder)
        if known:
            return known[-1].path
    for candidate in (folder / given.name, folder / f"{given.name}{SUFFIX}"):
        if given.parent == Path(".") and candidate.is_file() and is_session_log(candidate):
            return candidate
    names = [info.name for info in list_sessions(folder)]
    listed = ", ".join(names[-5:]) if names else "none yet"
    raise FileNotFoundError(
        f"there is no file or session called {text} (sessions in {folder}: {listed})"
    )
