"""Noticing that the engine went away or restarted, and that it is back.

A thread syncs with the engine every `interval` seconds on a client of its own (a sync is the
cheapest round trip the engine has: one datagram each way). Two missed syncs in a row mean the
engine is gone; the first answer after that means it is back — restarted if its uptime is
shorter than the time since it was last heard. An engine that restarted between two syncs is
told by its sample clock going backwards. Either way `on_back` is called, for the shell to
rebuild its mirror from the engine and say so in one line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chronus.engine.client import EngineClient, EngineError
from chronus.shell.background import start_daemon, stop_daemon

__all__ = ["Liveness", "back_line", "lost_line"]


def lost_line(address: tuple[str, int]) -> str:
    """What the shell says when the engine stops answering."""
    host, port = address
    return (
        f"the engine at {host}:{port} does not answer: lines are not played until it is back "
        "(the shell reconnects by itself)"
    )


def back_line(address: tuple[str, int], restarted: bool, modules: int, undoable: bool) -> str:
    """What the shell says when the engine answers again and the mirror was rebuilt."""
    host, port = address
    how = "restarted" if restarted else "answers again"
    patch = f"{modules} module{'' if modules == 1 else 's'}"
    undo = "; `undo` puts back the patch you had" if undoable else ""
    return f"the engine at {host}:{port} {how}: resynced ({patch}){undo}"


class Liveness:
    """Watches the engine at `address`; `on_lost()` when it stops answering, `on_back(restarted)`
    when it answers again (`restarted`: its clock went back, so its state is a new one)."""

    def __init__(
        self,
        address: tuple[str, int],
        on_lost: Callable[[], None],
        on_back: Callable[[bool], None],
        interval: float = 1.0,
        misses: int = 2,
    ) -> None:
        self.address = address
        self.on_lost = on_lost
        self.on_back = on_back
        self.interval = interval
        self.misses = misses
        self.lost = False
        """Whether the engine is gone now."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Liveness:
        """Start watching in a daemon thread."""
        self._thread = start_daemon(self._run, "chronus-liveness")
        return self

    def close(self) -> None:
        """Stop watching."""
        stop_daemon(self._stop, self._thread, self.interval * 3 + 1)

    def _run(self) -> None:
        client = EngineClient(*self.address)
        last = -1
        heard = time.monotonic()
        missed = 0
        try:
            while not self._stop.wait(self.interval):
                try:
                    sample, _ = client.sync(timeout=self.interval)
                except (EngineError, OSError):
                    missed += 1
                    if missed >= self.misses and not self.lost:
                        self.lost = True
                        self.on_lost()
                    continue
                missed = 0
                restarted = sample < last or (self.lost and _younger(client, heard))
                last, heard = sample, time.monotonic()
                if self.lost or restarted:
                    self.lost = False
                    self.on_back(restarted)
        finally:
            client.close()


def _younger(client: EngineClient, heard: float) -> bool:
    """Whether the engine started after `heard` (a monotonic time): its uptime is shorter."""
    try:
        uptime = client.status(timeout=2.0).get("engine", {}).get("uptime_s")
    except (EngineError, OSError, ValueError):
        return False
    return isinstance(uptime, int | float) and uptime < time.monotonic() - heard
