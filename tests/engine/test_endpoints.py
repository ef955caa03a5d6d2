"""The engine's two OSC sockets, in process: one port, replies the way requests came."""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import chronus.engine.endpoints as endpoints_module
from chronus.engine.endpoints import UDP_REPLY_LIMIT, OscEndpoints, too_large_text
from chronus.engine.osc_tcp import Peer
from chronus.engine.slip import SlipDecoder, encode
from chronus.protocol import encode_raw, parse_packet


@pytest.fixture
def endpoints() -> Iterator[tuple[OscEndpoints, selectors.BaseSelector]]:
    osc = OscEndpoints.open("127.0.0.1", 0)
    selector = selectors.DefaultSelector()
    osc.attach(selector)
    yield osc, selector
    osc.detach(selector)
    selector.close()
    osc.close()


def serve(osc: OscEndpoints, selector: selectors.BaseSelector) -> list[tuple[object, bytes]]:
    got: list[tuple[object, bytes]] = []
    deadline = time.monotonic() + 2
    while not got and time.monotonic() < deadline:
        for key, mask in selector.select(0.05):
            assert osc.owns(key)
            got += [(addr, data) for addr, data in osc.ready(key, mask) if isinstance(data, bytes)]
    return got


def test_udp_and_tcp_listen_on_one_port(
    endpoints: tuple[OscEndpoints, selectors.BaseSelector],
) -> None:
    osc, selector = endpoints
    assert osc.streams.port == osc.port
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.sendto(encode_raw("/over/udp"), ("127.0.0.1", osc.port))
    [(addr, data)] = serve(osc, selector)
    assert data == encode_raw("/over/udp") and addr == udp.getsockname()
    tcp = socket.create_connection(("127.0.0.1", osc.port), timeout=2)
    tcp.sendall(encode(encode_raw("/over/tcp")))
    [(peer, data)] = serve(osc, selector)
    assert data == encode_raw("/over/tcp") and isinstance(peer, Peer)
    osc.reply(peer, "/back", "on tcp")
    assert SlipDecoder().feed(tcp.recv(1000)) == [encode_raw("/back", "on tcp")]
    udp.close()
    tcp.close()


def test_a_udp_reply_too_large_for_a_datagram_is_an_error_and_counted(
    endpoints: tuple[OscEndpoints, selectors.BaseSelector],
) -> None:
    osc, _ = endpoints
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(2)
    osc.reply(udp.getsockname(), "/engine/dump", "x" * UDP_REPLY_LIMIT)
    size = len(encode_raw("/engine/dump", "x" * UDP_REPLY_LIMIT))
    assert parse_packet(udp.recv(65536)) == [("/error", ("/engine/dump", too_large_text(size)))]
    assert osc.reply_errors == 1
    osc.reply(udp.getsockname(), "/engine/dump", "x" * (UDP_REPLY_LIMIT - 100))
    assert parse_packet(udp.recv(65536))[0][0] == "/engine/dump"
    assert osc.reply_errors == 1
    udp.close()


def test_a_reply_to_a_tcp_peer_that_is_gone_is_counted(
    endpoints: tuple[OscEndpoints, selectors.BaseSelector],
) -> None:
    osc, selector = endpoints
    tcp = socket.create_connection(("127.0.0.1", osc.port), timeout=2)
    tcp.sendall(encode(encode_raw("/ask")))
    [(peer, _)] = serve(osc, selector)
    tcp.close()
    deadline = time.monotonic() + 2
    while isinstance(peer, Peer) and peer.open and time.monotonic() < deadline:
        for key, mask in selector.select(0.05):
            list(osc.ready(key, mask))
    osc.reply(peer, "/late", "answer")
    assert osc.reply_errors == 1
    assert osc.status()["tcp"] == {"open": 0, "accepted": 1, "refused": 0, "dropped": 0}


def test_a_port_taken_for_tcp_only_is_refused_or_skipped() -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)
    port = squatter.getsockname()[1]
    with pytest.raises(OSError):
        OscEndpoints.open("127.0.0.1", port)
    free = OscEndpoints.open("127.0.0.1", 0)
    assert free.port != port and free.streams.port == free.port
    free.close()
    squatter.close()


def test_a_port_another_programs_shared_udp_socket_holds_is_refused_with_its_pid() -> None:
    """A UDP socket with SO_REUSEPORT on the port (another engine's, of the same user) would
    let the engine's own sockets join it and share its datagrams: refused instead, naming it."""
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    port = other.getsockname()[1]
    try:
        with pytest.raises(OSError) as refused:
            OscEndpoints.open("127.0.0.1", port)
        assert refused.value.errno == errno.EADDRINUSE
        assert str(refused.value.strerror).startswith(
            f"port {port} is in use by pid {os.getpid()} ("
        )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", port))  # the TCP port it took first was given back
    finally:
        other.close()


def test_a_port_in_use_with_no_holder_in_sight_is_tried_again_until_it_is_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel once in a while calls a port in use that no process holds a socket on;
    the engine tries again for a while. Here a listener this test holds is hidden from
    `holders` and closed after 0.3 s."""
    unseen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    unseen.bind(("127.0.0.1", 0))
    unseen.listen(1)
    port = unseen.getsockname()[1]
    monkeypatch.setattr(endpoints_module, "holders", lambda port: [])
    gone = threading.Timer(0.3, unseen.close)
    gone.start()
    began = time.monotonic()
    osc = OscEndpoints.open("127.0.0.1", port)
    try:
        assert osc.port == port
        assert time.monotonic() - began >= 0.3
    finally:
        gone.join()
        osc.close()


def test_a_port_a_process_holds_fails_at_once() -> None:
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    try:
        began = time.monotonic()
        with pytest.raises(OSError, match=r"in use by pid .* \(TCP\)"):
            OscEndpoints.open("127.0.0.1", held.getsockname()[1])
        assert time.monotonic() - began < endpoints_module.UNSEEN_HOLDER_WAIT_S
    finally:
        held.close()
