"""A stand-in for `chronus engine` that speaks its OSC on UDP and TCP (SLIP) on one port.

It answers `/engine/sync`, `/engine/dump`, `/engine/status`, `/engine/quit` (and goes on) and
`/plugins` from the data a test gives it, records every message, and answers plugin commands
with what the test's `on_plugin` returns, from another thread and after `delay` seconds, as an
engine validating a module does. For the front ends of plugins, whose engine side lives elsewhere.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from chronus.engine import slip
from chronus.protocol import Arg, encode_raw, parse_packet

Reply = tuple[str, tuple[Arg, ...]]
_PLUGIN_COMMANDS = ("/plugins/load", "/plugins/reload", "/plugins/unload")


def _twin_sockets() -> tuple[socket.socket, socket.socket]:
    """A UDP socket on a free port and a TCP one on the same port (a free UDP port's TCP twin
    may be taken: try others)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise OSError("no port free for both UDP and TCP")


class FakeEngine:
    """One port, UDP and TCP; `received` holds every (address, args) in order."""

    def __init__(self) -> None:
        self.udp, self.tcp = _twin_sockets()
        self.port = self.udp.getsockname()[1]
        self.tcp.listen(8)
        self.received: list[Reply] = []
        self.dump: dict[str, Any] = {"modules": {}, "connections": [], "tempo": 120.0}
        self.listing: list[dict[str, Any]] = []
        self.health: dict[str, dict[str, Any]] = {}
        """Plugin name → what `/plugins/<name>/health` answers (else `/error`)."""
        self.status: dict[str, Any] = {"engine": {"version": "fake"}}
        self.on_plugin: Callable[[str, tuple[Arg, ...]], list[Reply]] = lambda a, args: []
        self.delay = 0.05
        self.sample = 0
        """The sample a sync answers with (the engine's clock)."""
        self.silent = False
        """Whether it answers nothing (a hung engine)."""
        self.commit_refusals: list[str] = []
        """Why the next `/patch/commit`s are refused, one each (then they succeed)."""
        self._closed = threading.Event()
        self._lock = threading.Lock()
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        self._closed.set()
        self.udp.close()
        self.tcp.close()

    def addresses(self) -> list[str]:
        with self._lock:
            return [address for address, _ in self.received]

    def wait_for(self, address: str, timeout: float = 5.0) -> tuple[Arg, ...]:
        """The arguments of the first message received at `address` (waiting for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for got, args in self.received:
                    if got == address:
                        return args
            time.sleep(0.01)
        raise AssertionError(f"the fake engine got no {address}: {self.addresses()}")

    def _answer(self, address: str, args: tuple[Arg, ...], send: Callable[[bytes], None]) -> None:
        with self._lock:
            self.received.append((address, args))
        if self.silent:
            return
        replies: list[Reply] = []
        if address == "/engine/sync":
            replies = [("/engine/synced", (args[0], self.sample))]
        elif address == "/engine/dump":
            replies = [("/engine/dump", (json.dumps(self.dump),))]
        elif address == "/engine/status":
            replies = [("/engine/status", (json.dumps(self.status),))]
        elif address == "/engine/quit":
            replies = [("/engine/quit", ())]
        elif address == "/plugins":
            replies = [("/plugins", (json.dumps(self.listing),))]
        elif address.startswith("/plugins/") and address.endswith("/health"):
            name = address.split("/")[2]
            found = self.health.get(name)
            replies = [
                ("/plugins/health", (json.dumps(found),))
                if found is not None
                else ("/error", (address, f"no plugin {name}"))
            ]
        elif address == "/patch/commit" and self.commit_refusals:
            replies = [("/error", (address, self.commit_refusals.pop(0)))]
        elif address == "/patch/commit":  # a change crossfaded in at once: block 0
            replies = [("/patch/committed", (0, "switched at block 0"))]
        elif address in _PLUGIN_COMMANDS:
            later = self.on_plugin(address, args)
            timer = threading.Timer(self.delay, self._send_all, args=(later, send))
            timer.daemon = True
            timer.start()
        self._send_all(replies, send)

    @staticmethod
    def _send_all(replies: list[Reply], send: Callable[[bytes], None]) -> None:
        for address, args in replies:
            try:
                send(encode_raw(address, *args))
            except OSError:
                return

    def _serve_udp(self) -> None:
        while not self._closed.is_set():
            try:
                data, sender = self.udp.recvfrom(65536)
            except OSError:
                return
            for address, args in parse_packet(data):
                self._answer(address, args, lambda packet, to=sender: self._udp_send(packet, to))

    def _udp_send(self, packet: bytes, to: tuple[str, int]) -> None:
        self.udp.sendto(packet, to)

    def _serve_tcp(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._stream, args=(connection,), daemon=True).start()

    def _stream(self, connection: socket.socket) -> None:
        decoder = slip.SlipDecoder(1 << 20)
        with connection:
            while not self._closed.is_set():
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    if isinstance(frame, bytes):
                        for address, args in parse_packet(frame):
                            self._answer(
                                address, args, lambda p: connection.sendall(slip.encode(p))
                            )
