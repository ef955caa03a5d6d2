"""Talking to an engine: an OSC client over UDP, and the engine subprocess as one object."""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from chronus.protocol import Arg, Message, ProtocolError, encode, encode_raw, parse_packet

__all__ = [
    "DEFAULT_ENGINE",
    "EngineClient",
    "EngineError",
    "EngineProcess",
    "Reply",
    "parse_endpoint",
]

DEFAULT_ENGINE = ("127.0.0.1", 57120)

Reply = tuple[str, tuple[Arg, ...]]


class EngineError(RuntimeError):
    """The engine did not answer, refused a message, or could not be started."""


def parse_endpoint(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `PORT`) → (host, port); ValueError with a readable message."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"expected HOST:PORT, got {text!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"port must be 1–65535, got {number}")
    return host or "127.0.0.1", number


class EngineClient:
    """A UDP client of one engine. Replies come back to this client's own port."""

    def __init__(self, host: str = DEFAULT_ENGINE[0], port: int = DEFAULT_ENGINE[1]) -> None:
        self.address = (host, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "", 0))
        self._tokens = itertools.count(1)
        self.pending: deque[Reply] = deque(maxlen=1000)
        """Replies that arrived while waiting for something else (errors, warnings)."""

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, messages: Iterable[Message]) -> None:
        """Send canonical messages, one datagram each, in order."""
        for message in messages:
            self._sock.sendto(encode(message), self.address)

    def send_raw(self, address: str, *args: Arg) -> None:
        """Send any address (used for tests of the engine's error handling)."""
        self._sock.sendto(encode_raw(address, *args), self.address)

    def send_bytes(self, data: bytes) -> None:
        """Send a datagram as it is."""
        self._sock.sendto(data, self.address)

    def receive(self, timeout: float) -> Reply | None:
        """The next reply, or None after `timeout` seconds."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return None
        data = self._sock.recv(65536)
        try:
            return parse_packet(data)[0]
        except (ProtocolError, IndexError):
            return ("/error", ("", "unreadable reply from the engine"))

    def wait_for(self, address: str, timeout: float = 2.0) -> tuple[Arg, ...]:
        """Wait for a reply at `address`; others are kept in `pending`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self.receive(left)
            if reply is None:
                break
            if reply[0] == address:
                return reply[1]
            self.pending.append(reply)
        raise EngineError(
            f"no answer from the engine at {self.address[0]}:{self.address[1]} "
            f"(waited {timeout:g} s for {address}); is `chronus engine` running?"
        )

    def request(self, address: str, timeout: float = 2.0) -> tuple[Arg, ...]:
        """Send an argument-less request and wait for the reply of the same address."""
        self.send_raw(address)
        return self.wait_for(address, timeout)

    def status(self, timeout: float = 2.0) -> dict[str, Any]:
        """The engine's health (`/engine/status`)."""
        return dict(json.loads(str(self.request("/engine/status", timeout)[0])))

    def dump(self, timeout: float = 2.0) -> dict[str, Any]:
        """The engine's whole state (`/engine/dump`)."""
        return dict(json.loads(str(self.request("/engine/dump", timeout)[0])))

    def sync(self, timeout: float = 2.0) -> tuple[int, list[Reply]]:
        """Wait until the engine has handled everything sent before.

        Returns the sample at which those messages apply and the errors and warnings that
        came back for them.
        """
        token = next(self._tokens)
        self.send_raw("/engine/sync", token)
        deadline = time.monotonic() + timeout
        while True:
            args = self.wait_for("/engine/synced", max(0.0, deadline - time.monotonic()))
            if args and args[0] == token:
                break
        notes = [r for r in self.pending if r[0] in ("/error", "/warning")]
        self.pending.clear()
        return int(args[1]), notes

    def quit(self, timeout: float = 2.0) -> None:
        """Ask the engine to stop."""
        self.request("/engine/quit", timeout)


class EngineProcess:
    """`chronus engine` as a child process: boot waits for READY, quit waits for exit."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        backend: str = "auto",
        rate: int = 48000,
        block: int = 128,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.env = dict(env or {})
        """Environment variables set for the engine on top of this process's own."""
        self.port = port
        self.args = [
            sys.executable, "-m", "chronus", "engine",
            "--host", host, "--port", str(port), "--backend", backend,
            "--rate", str(rate), "--block", str(block), *extra_args,
        ]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.ready_line = ""
        self.stderr_tail: deque[str] = deque(maxlen=50)
        self._stderr_thread: threading.Thread | None = None

    def boot(self, timeout: float = 120.0) -> EngineProcess:
        """Start the engine and wait for its READY line; raise EngineError with its stderr."""
        return self.start().wait_ready(timeout)

    def start(self) -> EngineProcess:
        """Start the engine without waiting for it (see `wait_ready`)."""
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout and self.process.stderr
        self._stderr_thread = threading.Thread(
            target=self._drain, args=(self.process.stderr,), daemon=True
        )
        self._stderr_thread.start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> EngineProcess:
        """Wait for the started engine's READY line; raise EngineError with its stderr."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith("READY"):
                    self.ready_line = line.strip()
                    self.port = int(line.split("osc=")[1].split()[0].rsplit(":", 1)[1])
                    return self
                if not line:
                    break
            if self.process.poll() is not None:
                break
        self.kill()
        time.sleep(0.1)
        tail = "".join(self.stderr_tail).strip() or "(no output)"
        raise EngineError(f"the engine did not start: {tail}")

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr_tail.append(line)

    @property
    def notices(self) -> list[str]:
        """Lines the engine wrote to stderr (notices, warnings)."""
        return list(self.stderr_tail)

    def client(self) -> EngineClient:
        """A new client connected to this engine."""
        return EngineClient(self.host, self.port)

    def quit(self, timeout: float = 10.0) -> int:
        """Ask the engine to quit over OSC; kill it if it does not. Returns its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            try:
                if not self.ready_line:
                    raise EngineError("not ready: no address to ask yet")
                with self.client() as client:
                    client.quit(timeout=2.0)
            except EngineError:
                self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        """Kill the engine process at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
