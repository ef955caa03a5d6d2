"""Processes as /proc shows them: parents, descendants, and waiting until some are gone."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from chronus.engine.client import EngineError, EngineProcess


def parent(pid: int) -> int:
    """The parent of process `pid` (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def descendants(pid: int) -> set[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    parents = {
        int(e.name): parent(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit()
    }
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, up in parents.items() if up in frontier} - found
        found |= frontier
    return found


def gone(pids: set[int], timeout: float = 5.0) -> bool:
    """Whether all of `pids` exit (or are zombies) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        if not alive:
            return True
        pids = alive
        time.sleep(0.05)
    return False


def kill_the_supervisor(engine: EngineProcess) -> None:
    """SIGKILL the supervisor once a standby waits; return when the standby answers."""
    with engine.client() as client:
        deadline = time.monotonic() + 60
        while not (status := client.status())["engine"]["supervisor"]["standby"]:
            assert time.monotonic() < deadline, "no standby supervisor"
            time.sleep(0.2)
        old = status["engine"]["supervisor"]["pid"]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.status(timeout=1.0)["engine"]["supervisor"]["pid"] != old:
                    return
            except EngineError:  # not answering while the new supervisor takes over
                pass
            assert time.monotonic() < deadline, "no supervisor took over"
            time.sleep(0.2)
