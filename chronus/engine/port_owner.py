"""Who holds a port: the words of an engine that cannot listen because another has it.

The kernel's socket tables (`/proc/net/tcp`, `udp` and their IPv6 twins) give the inode of
each socket bound to a port, and `/proc/<pid>/fd` which process holds it (readable for the
user's own processes, which is what matters: another chronus engine of the same user). A
chronus process is named by the engine that started it: the topmost of its ancestors whose
title (`titles`) or command line is chronus's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["engine_of", "holders", "in_use_text"]

_TABLES: Final = ("tcp", "tcp6", "udp", "udp6")
_LISTEN: Final = "0A"
_TCP_STATES: Final = frozenset({_LISTEN})
"""A TCP socket holds a port for a newcomer only while it listens (`SO_REUSEADDR`)."""


def _inodes(port: int, proc: Path) -> set[str]:
    """The inodes of the sockets bound to `port`: TCP listeners, and every UDP socket."""
    found: set[str] = set()
    for table in _TABLES:
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                bound = int(fields[1].rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if bound == port and (table.startswith("udp") or fields[3] in _TCP_STATES):
                found.add(fields[9])
    found.discard("0")
    return found


def holders(port: int, proc: Path = Path("/proc")) -> list[int]:
    """The pids of the processes that hold a socket bound to `port` (lowest first; only those
    whose descriptors this user may read)."""
    inodes = {f"socket:[{inode}]" for inode in _inodes(port, proc)}
    if not inodes:
        return []
    pids: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = os.listdir(entry / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(entry / "fd" / fd) in inodes:
                    pids.append(int(entry.name))
                    break
            except OSError:
                continue
    return sorted(pids)


def _cmdline(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _parent(pid: int, proc: Path) -> int:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _is_chronus(command: str) -> bool:
    return command.startswith("chronus: ") or " -m chronus engine" in f" {command}"


def engine_of(pid: int, proc: Path = Path("/proc")) -> int:
    """The chronus engine `pid` belongs to (the topmost chronus process above it, itself
    included), or 0 if it is no chronus process."""
    engine = 0
    seen = 0
    while pid > 1 and seen < 64 and _is_chronus(_cmdline(pid, proc)):
        engine, pid, seen = pid, _parent(pid, proc), seen + 1
    return engine


def in_use_text(port: int, proc: Path = Path("/proc")) -> str:
    """Why `port` cannot be had: `port 57120 is in use by chronus engine pid 4242`, by another
    program's pid and name, or by a program this user cannot see."""
    pids = holders(port, proc)
    for pid in pids:
        if engine := engine_of(pid, proc):
            return f"port {port} is in use by chronus engine pid {engine}"
    for pid in pids:
        try:
            name = (proc / str(pid) / "comm").read_text().strip()
        except OSError:
            continue
        return f"port {port} is in use by pid {pid} ({name})"
    return f"port {port} is in use by another program"
