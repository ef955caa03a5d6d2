"""Exit codes of processes that another process reaps: the engine's parent reaps them all.

Under the engine's minimal parent (see `parent.py`) every long-lived engine process is the
parent's child, not the supervisor's, so that it outlives a supervisor that dies. The
supervisor still watches each through a pidfd, which becomes readable when it exits; the exit
code only the parent can read, with `waitpid`. The parent sends each code it reads over its
link to the supervisor (`tell`), and the supervisor's `ReapedCodes` waits for the one it
wants.

Without that parent (`CHRONUS_PARENT=0`) the supervisor is the subreaper, and it adopts the
children of an engine process that dies: a slot SIGKILLed while a forked child captures its
state (`capture.py`) leaves that child to the supervisor, which never started it and so never
waited for it. `Orphans` reaps such zombies (the hour at the prompt collected nine).
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Collection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Final

__all__ = [
    "KEPT_CODES",
    "ORPHAN_GRACE_S",
    "REAP_WAIT_S",
    "STANDBY",
    "Orphans",
    "ReapedCodes",
    "children",
    "reap_all",
    "tell",
]

REAP_WAIT_S: Final = 0.5
"""How long a supervisor waits for the parent to report the code of a process that exited."""
_READ_SLICE_S: Final = 0.01
"""How long one wait on the link lasts while a thread holds it: another thread waiting for
a code that this one read sees it within that."""
STANDBY: Final = 0
"""The pid of a record that names the warm standby supervisor (its pid in place of a code)."""
ORPHAN_GRACE_S: Final = 2.0
"""How long a child nobody claims must have been a zombie before `Orphans` reaps it: its
owner, if it has one this process does not know of, reaps it well within that."""
KEPT_CODES: Final = 256
"""Exit codes a supervisor keeps that nobody asked for yet (the parent also reports
processes the supervisor did not start, such as a capture child it adopted): the oldest go."""
_RECORD: Final = struct.Struct("qq")
_UNKNOWN: Final = 255


def children() -> set[int]:
    """This process's children now (Linux: /proc lists them)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


class Orphans:
    """A subreaper's adopted orphans: zombie children it did not start, reaped by pid.

    Never `waitpid(-1)`: the children it did start are reaped by their owners, who read
    their exit codes. A zombie child that is not `known` is reaped once it has been one for
    `ORPHAN_GRACE_S` (a child started by code that does not say so, such as a
    `subprocess.Popen`, is reaped by its owner within that time).
    """

    def __init__(self, grace_s: float = ORPHAN_GRACE_S) -> None:
        self._grace_s = grace_s
        self._first_seen: dict[int, float] = {}
        self.reaped = 0
        """How many it reaped."""

    def sweep(self, known: Collection[int], now: float) -> list[tuple[int, int]]:
        """Reap the orphans due at `now` (monotonic seconds): (pid, exit code or minus
        signal) of each."""
        zombies = {pid for pid in children() if pid not in known and _is_zombie(pid)}
        self._first_seen = {pid: self._first_seen.get(pid, now) for pid in zombies}
        reaped: list[tuple[int, int]] = []
        for pid, seen in list(self._first_seen.items()):
            if now - seen < self._grace_s:
                continue
            del self._first_seen[pid]
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue  # its owner reaped it meanwhile
            if done:
                reaped.append((pid, os.waitstatus_to_exitcode(status)))
        self.reaped += len(reaped)
        return reaped


def reap_all() -> list[tuple[int, int]]:
    """Reap every child of this process that has exited: (pid, exit code or minus signal)."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, os.waitstatus_to_exitcode(status)))


def tell(link: Connection, reaped: list[tuple[int, int]]) -> bool:
    """Send exit codes over `link`; False if the supervisor is gone."""
    try:
        link.send_bytes(b"".join(_RECORD.pack(pid, code) for pid, code in reaped))
    except OSError:
        return False
    return True


class ReapedCodes:
    """The supervisor's side: exit codes the parent read, by pid."""

    def __init__(self, link: Connection) -> None:
        self._link = link
        self._codes: dict[int, int] = {}
        self._standby = 0
        self._lock = threading.Lock()
        """One reader of the link at a time (the hosts are stopped each in a thread)."""

    def standby(self) -> int:
        """The pid of the supervisor the parent holds warm to take over from this one (0:
        none yet); reads what the parent said meanwhile."""
        with self._lock:
            try:
                while self._link.poll():
                    self._take(self._link.recv_bytes())
            except (EOFError, OSError):
                pass
            return self._standby

    def code_of(self, pid: int, timeout: float = REAP_WAIT_S) -> int:
        """The exit code of `pid` (which has exited: its pidfd said so), waiting at most
        `timeout` for the parent to reap it; 255 if no word came. Threads may wait at once:
        each reads the link in turn, and finds the codes another read."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if pid in self._codes:
                    return self._codes.pop(pid)
                left = deadline - time.monotonic()
                try:
                    if self._link.poll(max(0.0, min(left, _READ_SLICE_S))):
                        self._take(self._link.recv_bytes())
                        continue
                except (EOFError, OSError):
                    return _UNKNOWN
            if left <= 0:
                return _UNKNOWN

    def _take(self, data: bytes) -> None:
        for pid, code in _RECORD.iter_unpack(data):
            if pid == STANDBY:
                self._standby = code
            else:
                self._codes[pid] = code
                if len(self._codes) > KEPT_CODES:
                    del self._codes[next(iter(self._codes))]
