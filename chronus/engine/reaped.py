"""Exit codes of processes that another process reaps: the engine's parent reaps them all.

Under the engine's minimal parent (see `parent.py`) every long-lived engine process is the
parent's child, not the supervisor's, so that it outlives a supervisor that dies. The
supervisor still watches each through a pidfd, which becomes readable when it exits; the exit
code only the parent can read, with `waitpid`. The parent sends each code it reads over its
link to the supervisor (`tell`), and the supervisor's `ReapedCodes` waits for the one it
wants.
"""

from __future__ import annotations

import os
import struct
import time
from multiprocessing.connection import Connection
from typing import Final

__all__ = ["REAP_WAIT_S", "STANDBY", "ReapedCodes", "reap_all", "tell"]

REAP_WAIT_S: Final = 0.5
"""How long a supervisor waits for the parent to report the code of a process that exited."""
STANDBY: Final = 0
"""The pid of a record that names the warm standby supervisor (its pid in place of a code)."""
_RECORD: Final = struct.Struct("qq")
_UNKNOWN: Final = 255


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

    def standby(self) -> int:
        """The pid of the supervisor the parent holds warm to take over from this one (0:
        none yet); reads what the parent said meanwhile."""
        try:
            while self._link.poll():
                self._take(self._link.recv_bytes())
        except (EOFError, OSError):
            pass
        return self._standby

    def code_of(self, pid: int, timeout: float = REAP_WAIT_S) -> int:
        """The exit code of `pid` (which has exited: its pidfd said so), waiting at most
        `timeout` for the parent to reap it; 255 if no word came."""
        deadline = time.monotonic() + timeout
        while pid not in self._codes:
            try:
                if not self._link.poll(max(0.0, deadline - time.monotonic())):
                    return _UNKNOWN
                self._take(self._link.recv_bytes())
            except (EOFError, OSError):
                return _UNKNOWN
        return self._codes.pop(pid)

    def _take(self, data: bytes) -> None:
        for pid, code in _RECORD.iter_unpack(data):
            if pid == STANDBY:
                self._standby = code
            else:
                self._codes[pid] = code
