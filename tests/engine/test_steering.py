"""The engine chooses each UDP sender's socket on the port (a classic BPF program): every
sender on one socket, and a sender found flooding its socket moved to socket 0, so that the
calm senders who shared its socket by chance lose nothing more (issue 17)."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import pytest

from chronus.engine.endpoints import UDP_SOCKETS, OscEndpoints
from chronus.engine.rates import PeerRates
from chronus.engine.steering import program
from chronus.protocol import encode_raw


def _read(osc: OscEndpoints, seconds: float) -> list[tuple[int, object]]:
    """(socket index, sender) of each datagram read for `seconds`, as the serve loop reads."""
    got: list[tuple[int, object]] = []
    selector = selectors.DefaultSelector()
    osc.attach(selector)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        for key, mask in selector.select(left):
            index = osc.udps.index(key.fileobj)  # type: ignore[arg-type]
            got.extend((index, addr) for addr, _ in osc.ready(key, mask))
    osc.detach(selector)
    selector.close()
    return got


@pytest.fixture
def osc() -> Iterator[OscEndpoints]:
    endpoints = OscEndpoints.open("127.0.0.1", 0, rates=PeerRates(rate=0))
    try:
        if not endpoints.steered:
            pytest.skip("no SO_ATTACH_REUSEPORT_CBPF here")
        yield endpoints
    finally:
        endpoints.close()


def test_the_program_is_whole_instructions() -> None:
    assert len(program(4)) == 9 * 8
    assert len(program(4, [("127.0.0.1", 5000), ("10.0.0.1", 7)])) == 19 * 8


def test_each_sender_keeps_one_socket_and_none_lands_on_socket_0(osc: OscEndpoints) -> None:
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(24)]
    try:
        for sock in senders:
            sock.bind(("127.0.0.1", 0))
            for _ in range(5):
                sock.sendto(encode_raw("/engine/status"), ("127.0.0.1", osc.port))
        got = _read(osc, 0.3)
        assert len(got) == 5 * len(senders)
        places = {
            sock.getsockname(): {i for i, a in got if a == sock.getsockname()} for sock in senders
        }
        assert all(len(used) == 1 for used in places.values()), places
        used = set().union(*places.values())
        assert 0 not in used and len(used) == UDP_SOCKETS - 1  # 24 senders reach all three
    finally:
        for sock in senders:
            sock.close()


def test_a_flooder_is_moved_to_a_socket_of_its_own(osc: OscEndpoints) -> None:
    for udp in osc.udps:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # a hundred or so
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    calm = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
    engine = ("127.0.0.1", osc.port)
    packet = encode_raw("/engine/status")
    try:
        for sock in (flood, *calm):
            sock.bind(("127.0.0.1", 0))
        for _ in range(3000):
            flood.sendto(packet, engine)
        first = _read(osc, 0.3)
        assert osc.flooders == [flood.getsockname()]
        assert not first, "its backlog on the socket it overflowed is shed, not handled"
        assert osc.rates.shed > 0 and osc.rates.shed + osc.kernel_drops == 3000
        status = osc.status()
        assert status["udp_flooders_steered"] == [f"udp:127.0.0.1:{flood.getsockname()[1]}"]
        for _ in range(3000):
            flood.sendto(packet, engine)
        for sock in calm:
            sock.sendto(packet, engine)
        got = _read(osc, 0.5)
        assert {i for i, a in got if a == flood.getsockname()} == {0}
        assert sorted(a for _, a in got if a != flood.getsockname()) == sorted(
            sock.getsockname() for sock in calm
        ), "every calm sender, those that shared the flooder's socket too"
    finally:
        flood.close()
        for sock in calm:
            sock.close()
