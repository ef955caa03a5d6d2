"""Processes as /proc shows them: parents, descendants, and waiting until some are gone."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient, EngineError, EngineProcess


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
    return below(pid, parents)


def below(pid: int, parents: dict[int, int]) -> set[int]:
    """Every process below `pid` in `parents` (process id → its parent's)."""
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
        answered_after_takeover(client, lambda s: s["engine"]["supervisor"]["pid"] != old)


def answered_after_takeover(
    client: EngineClient, taken_over: Callable[[dict[str, Any]], bool], timeout: float = 30.0
) -> dict[str, Any]:
    """The first status that says `taken_over`, asked again and again for `timeout` seconds.

    Each ask waits twice as long as the one before (1, 2, 4 s, up to the time left): a new
    supervisor on a loaded host may take over 1 s to answer its first status, and an ask that
    gives up drops its connection, so a fixed 1 s would never see the answer."""
    deadline = time.monotonic() + timeout
    wait = 1.0
    tried: list[str] = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no new supervisor answered within {timeout:g} s: {tried[-4:]}"
        began = time.monotonic()
        try:
            status = client.status(timeout=min(wait, left))
        except EngineError as exc:
            tried.append(f"{exc} after {time.monotonic() - began:.1f} s")
            wait *= 2
            continue
        if taken_over(status):
            return status
        tried.append(f"pid {status['engine']['supervisor']['pid']} answered")
        time.sleep(0.05)
