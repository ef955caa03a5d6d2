"""A second engine started on the port of a running one (same user, real processes, real UDP):
it fails with an error that names the first engine, and joins none of its UDP sockets, so the
first answers every datagram sent to the port meanwhile (issue 17)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import encode_raw, parse_packet

pytestmark = [pytest.mark.slow]
SENDERS = 16
"""UDP senders, each on a port of its own: the kernel spreads them over a port's sockets."""
EVERY_S = 0.02


def _send_rounds(senders: list[socket.socket], port: int, stop: threading.Event) -> list[int]:
    """Send `/engine/sync <round>` from every sender each `EVERY_S` until `stop`; the rounds."""
    rounds: list[int] = []
    while not stop.is_set():
        token = len(rounds) + 1
        for sock in senders:
            sock.sendto(encode_raw("/engine/sync", token), ("127.0.0.1", port))
        rounds.append(token)
        time.sleep(EVERY_S)
    return rounds


def _answered(sock: socket.socket, count: int, timeout: float) -> set[int]:
    """The sync tokens answered to `sock`, reading until `count` came or `timeout` passed."""
    tokens: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(tokens) < count and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        for address, args in parse_packet(data):
            if address == "/engine/synced":
                tokens.add(int(args[0]))  # type: ignore[arg-type]
    return tokens


def test_a_second_engine_on_a_busy_port_fails_and_the_first_keeps_every_datagram() -> None:
    first = EngineProcess(port=0, backend="null").boot()
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(SENDERS)]
    try:
        assert first.process is not None
        for sock in senders:
            sock.bind(("127.0.0.1", 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        stop = threading.Event()
        rounds: list[int] = []
        sending = threading.Thread(
            target=lambda: rounds.extend(_send_rounds(senders, first.port, stop)), daemon=True
        )
        sending.start()
        second = subprocess.run(
            [sys.executable, "-m", "chronus", "engine", "--port", str(first.port),
             "--backend", "null"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        time.sleep(0.2)
        stop.set()
        sending.join(5)
        assert second.returncode != 0
        assert "READY" not in second.stdout
        assert f"port {first.port} is in use by chronus engine pid {first.process.pid}" in (
            second.stderr
        ), second.stderr[-2000:]
        assert len(rounds) > 10
        for sock in senders:
            answered = _answered(sock, len(rounds), 10.0)
            assert answered == set(rounds), sorted(set(rounds) - answered)[:20]
        with first.client() as client:
            client.sync(timeout=5.0)  # the first engine serves on
    finally:
        for sock in senders:
            sock.close()
        first.quit()
