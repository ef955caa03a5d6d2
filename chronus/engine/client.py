"""Talking to an engine: an OSC client (UDP, and TCP for replies of any size), and the engine
subprocess as one object."""

from __future__ import annotations

import errno
import itertools
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from chronus.engine import slip
from chronus.engine.peers import family_of
from chronus.protocol import (
    Arg,
    Message,
    ProtocolError,
    encode,
    encode_raw,
    find_spec,
    parse_packet,
    validate,
)

__all__ = [
    "DEFAULT_ENGINE",
    "EngineClient",
    "EngineError",
    "EngineProcess",
    "Reply",
    "parse_endpoint",
]

DEFAULT_ENGINE = ("127.0.0.1", 57120)
RESYNC_S = 1.0
"""How long a sync waits for its answer before it asks again (over UDP, either may be lost)."""

Reply = tuple[str, tuple[Arg, ...]]
_MAX_REPLY = 1 << 26
"""The largest reply read over TCP (a dump of tens of thousands of modules)."""


class EngineError(RuntimeError):
    """The engine did not answer, refused a message, or could not be started."""


def parse_endpoint(text: str, any_port: bool = False) -> tuple[str, int]:
    """`HOST:PORT` (or `PORT`) → (host, port); ValueError with a readable message. An IPv6
    host is written as it is or in brackets: `::1:57120`, `[::1]:57120`.

    With `any_port`, port 0 (any free port, for a server) is allowed.
    """
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"expected HOST:PORT, got {text!r}") from None
    lowest = 0 if any_port else 1
    if not lowest <= number < 65536:
        raise ValueError(f"port must be {lowest}–65535, got {number}")
    return host or "127.0.0.1", number


def _local_end(host: str, family: socket.AddressFamily) -> str:
    """Where this client's UDP socket binds to reach `host`: loopback for an engine on
    loopback (nothing else can send to it then), else every interface."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return "::1" if family == socket.AF_INET6 else "127.0.0.1"
    return "::" if family == socket.AF_INET6 else ""


def _reply_of(packet: bytes) -> Reply:
    try:
        return parse_packet(packet)[0]
    except (ProtocolError, IndexError):
        return ("/error", ("", "unreadable reply from the engine"))


def _json_of(address: str, args: tuple[Arg, ...], kind: type[Any]) -> Any:
    """The JSON value of `kind` that a reply to `address` carries as its first argument;
    EngineError if it carries none, or something else."""
    if not args:
        raise EngineError(f"the engine's reply to {address} has no argument (expected JSON)")
    try:
        value = json.loads(str(args[0]))
    except ValueError as exc:
        raise EngineError(f"the engine's reply to {address} is not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise EngineError(
            f"the engine's reply to {address} is not a {kind.__name__}: {value!r:.80}"
        )
    return value


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    """A TCP connection to `address`; ConnectionRefusedError if nothing listens there.

    While nothing listens (an engine stopped; a supervisor being replaced keeps its port,
    which the engine's parent holds), the kernel may pick the port as this connection's local
    one (it is in the ephemeral range) and connect it to itself: what it sends then comes
    back as the reply. Such a connection is aborted (no TIME_WAIT, which would keep the port
    from an engine started again) and refused.
    """
    sock = socket.create_connection(address, timeout=max(timeout, 0.001))
    if sock.getsockname()[:2] != sock.getpeername()[:2]:
        return sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    raise ConnectionRefusedError(
        errno.ECONNREFUSED, "nothing listens on the port (the connection met itself)"
    )


class _Stream:
    """One TCP connection to the engine, carrying SLIP-framed OSC (OSC 1.1)."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.sock = _connect(address, timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = slip.SlipDecoder(_MAX_REPLY)
        self.frames: deque[bytes | slip.BadFrame] = deque()

    def send(self, packet: bytes, timeout: float) -> None:
        self.sock.settimeout(max(timeout, 0.001))
        self.sock.sendall(slip.encode(packet))

    def receive(self, timeout: float) -> Reply:
        """The next reply; TimeoutError, or ConnectionError if the engine closed it."""
        while not self.frames:
            self.sock.settimeout(max(timeout, 0.001))
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionResetError("the engine closed the connection")
            self.frames.extend(self.decoder.feed(data))
        frame = self.frames.popleft()
        if isinstance(frame, slip.BadFrame):
            return ("/error", ("", f"unreadable reply from the engine: {frame.reason}"))
        return _reply_of(frame)


class EngineClient:
    """A client of one engine: commands over UDP, replies to this client's own port; requests
    whose replies can be large (`dump`, `status`, `ask`) over TCP on the engine's same port."""

    def __init__(self, host: str = DEFAULT_ENGINE[0], port: int = DEFAULT_ENGINE[1]) -> None:
        self.address = (host, port)
        family = family_of(host)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind((_local_end(host, family), 0))
        self._tokens = itertools.count(1)
        self._stream: _Stream | None = None
        self._unsynced = False
        """Whether something went over UDP since the last sync (TCP requests wait for it)."""
        self.pending: deque[Reply] = deque(maxlen=1000)
        """Replies that arrived while waiting for something else (errors, warnings)."""

    @property
    def local_port(self) -> int:
        """The port this client's UDP datagrams come from."""
        return int(self._sock.getsockname()[1])

    def close(self) -> None:
        """Close the sockets."""
        self._sock.close()
        self._drop_stream()

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.sock.close()
            self._stream = None

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, messages: Iterable[Message]) -> None:
        """Send canonical messages, one datagram each, in order."""
        for message in messages:
            self._unsynced = True
            self._sock.sendto(encode(message), self.address)

    def send_raw(self, address: str, *args: Arg) -> None:
        """Send any address (used for tests of the engine's error handling)."""
        self.send_bytes(encode_raw(address, *args))

    def send_bytes(self, data: bytes) -> None:
        """Send a datagram as it is."""
        self._unsynced = True
        self._sock.sendto(data, self.address)

    def receive(self, timeout: float) -> Reply | None:
        """The next reply, or None after `timeout` seconds."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return None
        return _reply_of(self._sock.recv(65536))

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
        raise self._no_answer(f"waited {timeout:g} s for {address}")

    def _no_answer(self, why: str) -> EngineError:
        return EngineError(
            f"no answer from the engine at {self.address[0]}:{self.address[1]} "
            f"({why}); is `chronus engine` running? (one whose supervisor is being replaced "
            "answers again within a second, and applies what was sent to it meanwhile)"
        )

    def request(self, address: str, timeout: float = 2.0) -> tuple[Arg, ...]:
        """Send an argument-less request over UDP and wait for the reply of the same address
        (a reply too large for a datagram comes as `/error`: use `ask`)."""
        self.send_raw(address)
        return self.wait_for(address, timeout)

    def ask(self, address: str, *args: Arg, timeout: float = 2.0) -> tuple[Arg, ...]:
        """Send a request over TCP and wait there for its reply (the address the address
        space names for it, e.g. `/engine/synced` for `/engine/sync`; else the same address).

        A reply of any size arrives whole. What this client sent over UDP before is handled
        first (a sync goes ahead). An `/error` for the request raises `EngineError`; other
        replies on the way are kept in `pending`.
        """
        deadline = time.monotonic() + timeout
        if self._unsynced:
            self._synced(timeout)
        packet = encode_raw(address, *args)
        try:
            canonical = validate(address, args).address
            answer = find_spec(canonical)[0].reply or canonical
        except ProtocolError:
            answer = address  # the engine will say what is wrong with it
        while True:
            fresh = self._stream is None
            try:
                if self._stream is None:
                    self._stream = _Stream(self.address, deadline - time.monotonic())
                self._stream.send(packet, deadline - time.monotonic())
                return self._stream_reply(address, answer, deadline)
            except TimeoutError:
                self._drop_stream()  # a late reply must not answer the next request
                raise self._no_answer(f"waited {timeout:g} s for {address} over TCP") from None
            except OSError as exc:
                self._drop_stream()
                if fresh:
                    raise self._no_answer(f"TCP: {exc.strerror or exc}") from None
                # The connection had worked: the engine restarted, or dropped it; once more.

    def _stream_reply(self, address: str, answer: str, deadline: float) -> tuple[Arg, ...]:
        assert self._stream is not None
        while True:
            reply_address, args = self._stream.receive(deadline - time.monotonic())
            if reply_address == answer:
                return args
            if reply_address == "/error" and args and args[0] in (address, ""):
                raise EngineError(f"the engine refused {address}: {args[-1]}")
            self.pending.append((reply_address, args))

    def status(self, timeout: float = 2.0) -> dict[str, Any]:
        """The engine's health (`/engine/status`, over TCP)."""
        return dict(_json_of("/engine/status", self.ask("/engine/status", timeout=timeout), dict))

    def now(self, timeout: float = 0.5) -> dict[str, Any]:
        """What plays now (`/engine/now`, over UDP: a small reply, for a live toolbar).

        Keys: `sample`, `beat` (None while the transport is stopped), `bpm`, `running`,
        `peak_db` and `rms_db` (per channel, dBFS, last 100 ms), `dsp_load`, `xruns`,
        `underruns`, `failovers`, `active`, `recording` (None or `path` and `seconds`),
        `events` (each `serial`, `kind`, `text`) and `boot` (new when the engine restarts).
        A late answer to an earlier call is dropped, not taken for this one's.
        """
        while (stale := self.receive(0.0)) is not None:
            if stale[0] != "/engine/now":
                self.pending.append(stale)
        return dict(_json_of("/engine/now", self.request("/engine/now", timeout), dict))

    def dump(self, timeout: float = 2.0) -> dict[str, Any]:
        """The engine's whole state (`/engine/dump`, over TCP: it outgrows a datagram)."""
        return dict(_json_of("/engine/dump", self.ask("/engine/dump", timeout=timeout), dict))

    def plugins(self, timeout: float = 2.0) -> list[Any]:
        """The engine's plugins, their states and health (`/plugins`, over TCP)."""
        return list(_json_of("/plugins", self.ask("/plugins", timeout=timeout), list))

    def clients(self, timeout: float = 2.0) -> list[Any]:
        """The clients subscribed with `/notify`, by name (`/clients`, over TCP)."""
        return list(_json_of("/clients", self.ask("/clients", timeout=timeout), list))

    def plugin_health(self, name: str, timeout: float = 2.0) -> dict[str, Any]:
        """One plugin in detail, with its transitions (`/plugins/<name>/health`, over TCP)."""
        address = f"/plugins/{name}/health"
        return dict(_json_of(address, self.ask(address, timeout=timeout), dict))

    def sync(self, timeout: float = 2.0) -> tuple[int, list[Reply]]:
        """Wait until the engine has handled everything sent before.

        Returns the sample at which those messages apply and the errors and warnings that
        came back for them.
        """
        stamp = self._synced(timeout)
        notes = [r for r in self.pending if r[0] in ("/error", "/warning")]
        self.pending.clear()
        return stamp, notes

    def _synced(self, timeout: float) -> int:
        """Sync over UDP, leaving `pending` as it is; the sample the messages apply at. The
        request is sent again every `RESYNC_S` until answered: a datagram may be lost (the
        engine answers each; the first answer to this token is taken)."""
        token = next(self._tokens)
        deadline = time.monotonic() + timeout
        args: tuple[Arg, ...] | None = None
        while args is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._no_answer(f"waited {timeout:g} s for /engine/synced")
            self.send_raw("/engine/sync", token)
            args = self._answer_to(token, min(left, RESYNC_S))
        if len(args) < 2 or not isinstance(args[1], int):
            raise EngineError(f"the engine's /engine/synced names no sample: {args!r:.80}")
        self._unsynced = False
        return args[1]

    def _answer_to(self, token: int, timeout: float) -> tuple[Arg, ...] | None:
        """The `/engine/synced` that answers `token`, or None after `timeout` seconds; other
        replies are kept in `pending`, other syncs' answers dropped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self.receive(left)
            if reply is None:
                return None
            if reply[0] != "/engine/synced":
                self.pending.append(reply)
            elif reply[1] and reply[1][0] == token:
                return reply[1]
        return None

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
        block: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        detached: bool = False,
        own_group: bool = False,
    ) -> None:
        self.host = host
        self.detached = detached
        """Whether the engine runs in a session of its own (it outlives whoever started it)."""
        self.own_group = own_group
        """Whether the engine leads a process group of its own (to signal the whole engine)."""
        self.env = dict(env or {})
        """Environment variables set for the engine on top of this process's own."""
        self.port = port
        self.args = [
            sys.executable, "-m", "chronus", "engine",
            "--host", host, "--port", str(port), "--backend", backend,
            "--rate", str(rate), *(("--block", str(block)) if block is not None else ()),
            *extra_args,
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
            start_new_session=self.detached,
            process_group=0 if self.own_group and not self.detached else None,
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
    def http(self) -> tuple[str, int] | None:
        """Where the engine serves its HTTP API (from the READY line), or None if it does not."""
        for word in self.ready_line.split():
            if word.startswith("http="):
                host, _, port = word[5:].rpartition(":")
                return host, int(port)
        return None

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
