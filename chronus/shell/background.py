"""The shell's background threads (the toolbar's poll, the liveness watch, the ensemble's
listener): started as daemons, stopped by an event and joined, never from themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["start_daemon", "stop_daemon"]


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """Start `target` in a daemon thread called `name`."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def stop_daemon(stop: threading.Event, thread: threading.Thread | None, timeout: float) -> None:
    """Set `stop` and wait up to `timeout` s for `thread` (unless called from it)."""
    stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)
