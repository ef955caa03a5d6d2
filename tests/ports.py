"""Ports for engines that tests start on a port of their choosing."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

from chronus.engine.client import EngineError, EngineProcess

_LOWEST = 10_000


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out by itself (to `bind(0)` and to connections)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def unused_port() -> int:
    """A port free for UDP and TCP alike (the engine listens on both), below the kernel's
    ephemeral range: between the choice and an engine's bind, seconds later, or between an
    engine and the next one on the same port, no connection or `bind(0)` anywhere on the
    machine can be given it (a CI run's engine found its port taken so)."""
    top = _ephemeral_floor()
    for _ in range(200):
        port = random.randrange(_LOWEST, top)
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        ):
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no port free for UDP and TCP in {_LOWEST}–{top - 1}")


def boot_on(port: int, tries: int = 3) -> EngineProcess:
    """A null-backend engine booted on `port`, tried again (1 s apart, `tries` in all) while
    its bind meets `EADDRINUSE` with no socket of any process on the port: 4 boots of ~230
    (in loops beside other tests' engines, and once in CI) met that on a port free a moment
    before and after (no socket on it in `/proc/net` either side); the cause is not known.
    A port some process holds fails at once."""
    for attempt in range(tries):
        try:
            return EngineProcess(port=port, backend="null").boot()
        except EngineError as exc:
            if "in use by another program" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")
