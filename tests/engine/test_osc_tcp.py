"""The supervisor's TCP side, in process: real sockets on localhost, a real selector."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import pytest

from chronus.engine.osc_tcp import Peer, StreamServer
from chronus.engine.slip import BadFrame, SlipDecoder, encode
from chronus.protocol import encode_raw


class Loop:
    """A selector loop like the supervisor's, echoing each packet back with a prefix."""

    def __init__(self, server: StreamServer) -> None:
        self.server = server
        self.selector = selectors.DefaultSelector()
        server.attach(self.selector)
        self.received: list[tuple[Peer, bytes | BadFrame]] = []
        self.echo = 1
        """How many copies of each packet to send back."""

    def turn(self, seconds: float = 0.05) -> None:
        """Serve events for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for key, mask in self.selector.select(left):
                for peer, frame in self.server.ready(key, mask):
                    self.received.append((peer, frame))
                    if isinstance(frame, bytes):
                        for _ in range(self.echo):
                            self.server.send(peer, b"re:" + frame)


@pytest.fixture
def loop() -> Iterator[Loop]:
    server = StreamServer.listen("127.0.0.1", 0, encode_raw("/error", "", "full"))
    server.max_connections = 3
    server.max_queued = 1 << 20
    served = Loop(server)
    yield served
    server.close()
    served.selector.close()


def connect(loop: Loop) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", loop.server.port), timeout=2)
    loop.turn()
    return sock


def read_frames(sock: socket.socket, loop: Loop, count: int) -> list[bytes | BadFrame]:
    decoder = SlipDecoder(1 << 24)
    out: list[bytes | BadFrame] = []
    sock.setblocking(False)
    deadline = time.monotonic() + 5
    while len(out) < count and time.monotonic() < deadline:
        loop.turn(0.01)
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            continue
        if not data:
            break
        out += decoder.feed(data)
    return out


def test_a_packet_and_its_reply_go_over_the_same_connection(loop: Loop) -> None:
    a, b = connect(loop), connect(loop)
    a.sendall(encode(b"/from/a"))
    b.sendall(encode(b"/from/b"))
    assert read_frames(a, loop, 1) == [b"re:/from/a"]
    assert read_frames(b, loop, 1) == [b"re:/from/b"]
    assert loop.server.stats.accepted == 2


def test_packets_split_across_sends_and_many_in_one_send(loop: Loop) -> None:
    sock = connect(loop)
    stream = encode(b"/one") + encode(b"/two") + encode(b"/three")
    sock.sendall(stream[:3])
    loop.turn()
    sock.sendall(stream[3:])
    assert read_frames(sock, loop, 3) == [b"re:/one", b"re:/two", b"re:/three"]


def test_a_reply_far_larger_than_the_socket_buffer_arrives_whole(loop: Loop) -> None:
    sock = connect(loop)
    big = b"/" + bytes(range(256)) * 8000  # 2 MB, full of bytes to escape
    loop.server.max_queued = 1 << 20  # smaller than the reply: one reply alone still goes
    peer = next(iter(loop.server.peers))
    assert loop.server.send(peer, big)
    assert read_frames(sock, loop, 1) == [big]


def test_garbage_gets_bad_frames_and_the_connection_goes_on(loop: Loop) -> None:
    loop.server.max_frame = 16
    sock = connect(loop)
    sock.sendall(bytes([0xC0]) + b"/a\xdb\x00" + bytes([0xC0]) + b"x" * 100 + encode(b"/fine"))
    assert read_frames(sock, loop, 1) == [b"re:/fine"]
    bad = [frame for _, frame in loop.received if isinstance(frame, BadFrame)]
    assert len(bad) == 2


def test_a_peer_that_never_reads_is_dropped_and_others_are_served(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    silent = connect(loop)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    other = connect(loop)
    request = encode(b"/" + b"q" * 60_000)
    loop.echo = 4
    started = time.monotonic()
    for _ in range(200):  # 48 MB of replies asked for, none read
        try:
            silent.send(request)
        except OSError:
            break  # dropped: the engine closed it
        loop.turn(0.001)
        if loop.server.stats.dropped:
            break
    assert loop.server.stats.dropped == 1
    assert time.monotonic() - started < 5
    assert "left" in caplog.text and "unread" in caplog.text
    assert all(peer.queued <= loop.server.max_queued for peer in loop.server.peers)
    assert len(loop.server.peers) == 1
    other.sendall(encode(b"/still"))
    loop.echo = 1
    assert read_frames(other, loop, 1) == [b"re:/still"]


def test_connections_over_the_cap_are_told_and_closed(loop: Loop) -> None:
    kept = [connect(loop) for _ in range(3)]
    extra = connect(loop)
    extra.settimeout(2)
    assert SlipDecoder().feed(extra.recv(1000)) == [encode_raw("/error", "", "full")]
    assert extra.recv(1000) == b""
    assert loop.server.stats.refused == 1 and len(loop.server.peers) == 3
    kept[0].close()
    loop.turn()
    again = connect(loop)
    again.sendall(encode(b"/room"))
    assert read_frames(again, loop, 1) == [b"re:/room"]


def test_a_peer_that_stops_sending_still_gets_its_replies(loop: Loop) -> None:
    sock = connect(loop)
    loop.echo = 40
    sock.sendall(encode(b"/" + b"z" * 50_000))
    sock.shutdown(socket.SHUT_WR)
    frames = read_frames(sock, loop, 40)
    assert len(frames) == 40 and all(f == b"re:/" + b"z" * 50_000 for f in frames)
    loop.turn()
    assert sock.recv(10) == b"" and not loop.server.peers


def test_close_leaves_no_socket_open(loop: Loop) -> None:
    socks = [connect(loop) for _ in range(2)]
    peers = list(loop.server.peers)
    loop.server.close()
    assert all(peer.sock.fileno() == -1 for peer in peers)
    assert loop.server.sock.fileno() == -1
    for sock in socks:
        sock.settimeout(2)
        assert sock.recv(10) == b""
