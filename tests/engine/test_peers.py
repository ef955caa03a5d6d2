"""Which peers the engine reads, and how much a peer it cannot verify gets back: the filter
as data, and the endpoints on real sockets (from this machine's non-loopback address, when
it has one, since loopback is always allowed)."""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator

import pytest

from chronus.engine.client import parse_endpoint
from chronus.engine.endpoints import OscEndpoints
from chronus.engine.peers import (
    AMPLIFICATION,
    REPLY_FLOOR,
    PeerFilter,
    family_of,
    listens_everywhere,
    parse_network,
    reply_budget,
)
from chronus.protocol import encode_raw, parse_packet


def test_networks_parse_or_say_why() -> None:
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_network("192.0.2.7")) == "192.0.2.7/32"
    for bad in ("10.0.0.0/33", "lan", ""):
        with pytest.raises(ValueError, match="not an address or ADDR/MASK"):
            parse_network(bad)


def test_the_filter_allows_loopback_and_its_networks_and_counts_the_rest() -> None:
    assert PeerFilter().allows("203.0.113.9")  # no --allow: every peer
    peers = PeerFilter(["192.0.2.0/24", "2001:db8::/32"])
    assert peers.allows("127.0.0.1") and peers.allows("::1")
    assert peers.allows("192.0.2.200") and peers.allows("2001:db8::5")
    assert not peers.allows("192.0.3.1")
    assert not peers.allows("not-an-address")
    assert peers.refused == 2
    assert peers.describe() == "loopback, 192.0.2.0/24, 2001:db8::/32"


def test_only_remote_udp_peers_have_a_reply_budget() -> None:
    assert reply_budget("127.0.0.1", 20) is None
    assert reply_budget("192.0.2.9", 20) == AMPLIFICATION * 20 + REPLY_FLOOR
    assert listens_everywhere("0.0.0.0") and listens_everywhere("")
    assert not listens_everywhere("127.0.0.1") and not listens_everywhere("192.0.2.2")


def _own_address() -> str:
    """This machine's address on its default route, or skip."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: it only picks a route
        host = str(probe.getsockname()[0])
    except OSError:
        host = "127.0.0.1"
    finally:
        probe.close()
    if host.startswith("127."):
        pytest.skip("no non-loopback address to send from")
    return host


def unanswered_from(host: str, port: int) -> None:
    """Send `/engine/status` from `host` (this machine's own address) to `port` there and
    check that no answer comes within a second."""
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stranger.bind((host, 0))
        stranger.settimeout(1.0)
        stranger.sendto(encode_raw("/engine/status"), (host, port))
        with pytest.raises(TimeoutError):
            stranger.recv(65536)
    finally:
        stranger.close()


@pytest.fixture
def remote() -> Iterator[tuple[str, socket.socket]]:
    """A UDP socket bound to this machine's non-loopback address."""
    host = _own_address()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.5)
    yield host, sock
    sock.close()


def _serve(osc: OscEndpoints, reply: bytes) -> list[bytes]:
    """Handle what arrives within 0.3 s, as the supervisor's loop does; answer each packet
    with `reply` (as an `/engine/status` would)."""
    received = []
    selector = selectors.DefaultSelector()
    osc.attach(selector)
    deadline = time.monotonic() + 0.3
    while (left := deadline - time.monotonic()) > 0:
        for key, mask in selector.select(left):
            for addr, data in osc.ready(key, mask):
                assert isinstance(data, bytes)
                received.append(data)
                osc.reply(addr, "/engine/status", reply.decode())
    osc.detach(selector)
    selector.close()
    return received


def test_a_peer_outside_allow_is_not_read_nor_answered(
    remote: tuple[str, socket.socket],
) -> None:
    host, sock = remote
    osc = OscEndpoints.open("0.0.0.0", 0, PeerFilter(["198.51.100.0/24"]))
    try:
        sock.sendto(encode_raw("/engine/status"), (host, osc.port))
        stream = socket.create_connection((host, osc.port), timeout=1)
        assert _serve(osc, b"{}") == []
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        assert stream.recv(100) == b""  # closed at once, unanswered
        stream.close()
        assert osc.status()["refused_peers"] == 2  # the datagram and the connection
        assert osc.status()["tcp"]["accepted"] == 0
    finally:
        osc.close()


def test_a_remote_udp_peer_gets_no_reply_much_larger_than_its_request(
    remote: tuple[str, socket.socket],
) -> None:
    host, sock = remote
    osc = OscEndpoints.open("0.0.0.0", 0, PeerFilter([f"{host}/32"]))
    try:
        request = encode_raw("/engine/status")
        small, big = json.dumps({"ok": 1}).encode(), json.dumps({"x": "y" * 2200}).encode()
        sock.sendto(request, (host, osc.port))
        assert _serve(osc, small) == [request]
        assert parse_packet(sock.recv(65536)) == [("/engine/status", ('{"ok": 1}',))]
        sock.sendto(request, (host, osc.port))
        _serve(osc, big)
        reply = sock.recv(65536)
        assert len(reply) <= AMPLIFICATION * len(request) + REPLY_FLOOR
        [(address, args)] = parse_packet(reply)
        assert address == "/error" and "ask over TCP" in str(args[1])
        assert osc.status()["replies_cut"] == 1
        loop = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # loopback: no budget
        loop.settimeout(0.5)
        loop.sendto(request, ("127.0.0.1", osc.port))
        _serve(osc, big)
        assert len(loop.recv(65536)) > 2200
        loop.close()
    finally:
        osc.close()


def test_ipv6_hosts_bind_ipv6_and_ipv4_peers_of_a_dual_stack_socket_are_judged_as_ipv4() -> None:
    assert family_of("::1") == family_of("::") == socket.AF_INET6
    assert family_of("127.0.0.1") == family_of("") == family_of("localhost") == socket.AF_INET
    assert listens_everywhere("::")
    peers = PeerFilter(["192.0.2.0/24"])
    assert peers.allows("::ffff:127.0.0.1") and peers.allows("::ffff:192.0.2.9")
    assert not peers.allows("::ffff:198.51.100.1") and peers.refused == 1
    assert reply_budget("::ffff:127.0.0.1", 20) is None
    assert peers.permits("fe80::1%eth0") is False and peers.refused == 1  # permits never counts
    assert parse_endpoint("[::1]:57120") == ("::1", 57120)
    assert parse_endpoint("::1:57120") == ("::1", 57120)
    assert parse_endpoint("[::]:0", any_port=True) == ("::", 0)
