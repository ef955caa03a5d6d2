"""`EngineClient` against fake engines on real sockets: a reply without its argument is a
clear `EngineError`, and a TCP connection the kernel connects to itself (nothing listens on
the port) is refused, not read as the engine's reply."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chronus.engine import slip
from chronus.engine.client import RESYNC_S, EngineClient, EngineError
from chronus.protocol import Arg, encode_raw, find_spec, parse_packet, validate

IP_LOCAL_PORT_RANGE = 51
"""Linux ≥ 6.3: the ports a socket's connect may pick (`linux/in.h`; not in `socket`)."""


class FakeEngine:
    """Answers each request, over TCP and UDP on one port, with `/<request> *args`."""

    def __init__(self, *args: Arg) -> None:
        self.args = args
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.tcp.getsockname()[1])
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.05)
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._serve_tcp, daemon=True),
            threading.Thread(target=self._serve_udp, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _answer(self, packet: bytes) -> bytes:
        address, request = parse_packet(packet)[0]
        reply = find_spec(validate(address, request).address)[0].reply or address
        if address == "/engine/sync":  # the synced reply names the token, then the sample
            return encode_raw(reply, *request[:1], *self.args)
        return encode_raw(reply, *self.args)

    def _serve_tcp(self) -> None:
        self.tcp.settimeout(0.05)
        while not self.stopped.is_set():
            try:
                peer, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with peer:
                self._answer_each(peer)

    def _answer_each(self, peer: socket.socket) -> None:
        decoder = slip.SlipDecoder()
        while data := peer.recv(1 << 16):
            for frame in decoder.feed(data):
                assert isinstance(frame, bytes)
                peer.sendall(slip.encode(self._answer(frame)))

    def _serve_udp(self) -> None:
        while not self.stopped.is_set():
            try:
                packet, sender = self.udp.recvfrom(1 << 16)
            except TimeoutError:
                continue
            if answer := self._answer(packet):  # b"": none (a request lost on the way)
                self.udp.sendto(answer, sender)

    def close(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(1.0)
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def fake_engine(request: pytest.FixtureRequest) -> Iterator[FakeEngine]:
    engine = FakeEngine(*request.param)
    yield engine
    engine.close()


CALLS: dict[str, Callable[[EngineClient], Any]] = {
    "status": lambda c: c.status(timeout=1.0),
    "now": lambda c: c.now(timeout=1.0),
    "dump": lambda c: c.dump(timeout=1.0),
    "plugins": lambda c: c.plugins(timeout=1.0),
    "clients": lambda c: c.clients(timeout=1.0),
    "plugin_health": lambda c: c.plugin_health("gain", timeout=1.0),
}


@pytest.mark.parametrize("fake_engine", [()], indirect=True)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_reply_without_its_argument_is_an_engine_error(
    fake_engine: FakeEngine, call: str
) -> None:
    with (
        EngineClient("127.0.0.1", fake_engine.port) as client,
        pytest.raises(EngineError, match="has no argument"),
    ):
        CALLS[call](client)


@pytest.mark.parametrize("fake_engine", [("[1, 2]",)], indirect=True)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_reply_of_another_kind_is_an_engine_error(fake_engine: FakeEngine, call: str) -> None:
    with EngineClient("127.0.0.1", fake_engine.port) as client:
        if call in ("clients", "plugins"):  # these are lists
            assert CALLS[call](client) == [1, 2]
            return
        with pytest.raises(EngineError, match="is not a dict"):
            CALLS[call](client)


@pytest.mark.parametrize("fake_engine", [("{oops",)], indirect=True)
def test_a_reply_that_is_not_json_is_an_engine_error(fake_engine: FakeEngine) -> None:
    with (
        EngineClient("127.0.0.1", fake_engine.port) as client,
        pytest.raises(EngineError, match="is not JSON"),
    ):
        client.status(timeout=1.0)


@pytest.mark.parametrize("fake_engine", [()], indirect=True)
def test_a_synced_reply_without_its_sample_is_an_engine_error(fake_engine: FakeEngine) -> None:
    with (
        EngineClient("127.0.0.1", fake_engine.port) as client,
        pytest.raises(EngineError, match="names no sample"),
    ):
        client.sync(timeout=1.0)


class _LosesTheFirstSync(FakeEngine):
    """A fake engine that never gets the first `/engine/sync` (a datagram lost on the way)."""

    def __init__(self, *args: Arg) -> None:
        self.syncs = 0
        super().__init__(*args)

    def _answer(self, packet: bytes) -> bytes:
        if parse_packet(packet)[0][0] == "/engine/sync":
            self.syncs += 1
            if self.syncs == 1:
                return b""
        return super()._answer(packet)


def test_a_lost_sync_request_is_asked_again_and_answered() -> None:
    engine = _LosesTheFirstSync(4800)
    try:
        with EngineClient("127.0.0.1", engine.port) as client:
            began = time.monotonic()
            sample, notes = client.sync(timeout=5.0)
            took = time.monotonic() - began
        assert (sample, notes) == (4800, [])
        assert engine.syncs == 2 and RESYNC_S <= took < RESYNC_S + 2.0
    finally:
        engine.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connecting_from(port: int) -> Callable[..., socket.socket]:
    """`socket.create_connection` whose local port is `port`: what the kernel may choose by
    chance for a connection to a port in the ephemeral range that nothing listens on."""

    def create_connection(address: tuple[str, int], timeout: float, *_: Any) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(
                socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, struct.pack("I", port << 16 | port)
            )
        except OSError:
            sock.close()
            pytest.skip("IP_LOCAL_PORT_RANGE needs Linux 6.3")
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    return create_connection


def test_a_connection_to_itself_is_refused_and_leaves_the_port_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listens on the port and the connection gets it as its local port: the kernel
    connects it to itself, so the request would come back as its own reply (`/engine/status`
    without its argument). The client says nothing listens, and the port can be listened on
    at once (no TIME_WAIT of a socket without SO_REUSEADDR holds it)."""
    port = _free_port()
    monkeypatch.setattr(socket, "create_connection", connecting_from(port))
    with EngineClient("127.0.0.1", port) as client:
        for _ in range(3):
            with pytest.raises(EngineError, match="nothing listens on the port"):
                client.status(timeout=1.0)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
