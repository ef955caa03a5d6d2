"""Ports for engines that tests start on a port of their choosing."""

from __future__ import annotations

import random
import socket
from pathlib import Path

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
