"""The engine's listening sockets, held by its parent so that its port outlives a supervisor.

The first supervisor binds the OSC port (TCP and its UDP sockets) and hands the parent a
duplicate of each (`hand_up`); the parent hands them to the supervisor that takes over
(`hand_down`), which serves on them instead of binding again. So from the SIGKILL of a
supervisor to the takeover the port stays bound: no other program, and no connection the
kernel would otherwise give the engine's port as its local one, can take it (which ended the
engine), a TCP connection waits in the listener's backlog, and UDP datagrams wait in the
sockets' buffers, to be read by the new supervisor instead of being lost.

The descriptors travel over the parent's link (a Unix socket) as `SCM_RIGHTS`, each batch
right after the word that announces it, so that the link's reader takes them in turn.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from multiprocessing import reduction
from multiprocessing.connection import Connection

__all__ = ["SOCKETS", "close_all", "hand_down", "hand_up", "take"]

SOCKETS = "sockets"
"""The word that announces a batch of descriptors on the link."""


def hand_up(link: Connection, sockets: Sequence[socket.socket]) -> None:
    """Send duplicates of `sockets` over `link` (to the parent), announced by a word."""
    link.send((SOCKETS, len(sockets)))
    _send(link, [sock.fileno() for sock in sockets])


def hand_down(link: Connection, fds: Sequence[int]) -> None:
    """Send duplicates of `fds` over `link` (to a supervisor that takes over); the count
    went with the word that told it to go."""
    if fds:
        _send(link, list(fds))


def take(link: Connection, count: int) -> list[int]:
    """The `count` descriptors sent next over `link`, not inherited by what this process
    starts; none if the sender died before it sent them (the next supervisor binds again)."""
    if count <= 0:
        return []
    try:
        with socket.socket(fileno=os.dup(link.fileno())) as carrier:
            fds = reduction.recvfds(carrier, count)
    except (EOFError, RuntimeError, OSError):
        return []
    for fd in fds:
        os.set_inheritable(fd, False)
    return list(fds)


def close_all(fds: Sequence[int]) -> None:
    """Close descriptors taken with `take` and not handed on as sockets."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass  # closed already


def _send(link: Connection, fds: list[int]) -> None:
    with socket.socket(fileno=os.dup(link.fileno())) as carrier:
        reduction.sendfds(carrier, fds)
