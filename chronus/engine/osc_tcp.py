"""OSC 1.1 over TCP for the supervisor: SLIP-framed packets on non-blocking connections.

The supervisor's selector loop drives it: `attach` registers the listening socket, `ready`
handles one selector event (accept, read or write) and returns the packets that arrived,
`send` queues a reply on the connection it answers. Nothing here blocks, and every peer is
bounded: a frame is at most `max_frame` bytes, replies queued and unread at most
`max_queued` bytes (past that the peer is dropped), and at most `max_connections` peers.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from chronus.engine.peers import family_of
from chronus.engine.slip import BadFrame, SlipDecoder, encode

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_FRAME",
    "MAX_QUEUED",
    "Peer",
    "StreamServer",
    "StreamStats",
]

MAX_CONNECTIONS = 32
MAX_FRAME = 1 << 16
"""The largest packet a peer may send: what one UDP read takes."""
MAX_QUEUED = 8 << 20
"""Reply bytes a peer may leave unread before it is dropped (one reply larger than this is
still sent, alone)."""
_READ = 1 << 16
"""Bytes read from one peer per event, so one busy peer cannot hold the loop."""
log = logging.getLogger("chronus.engine")


class Peer:
    """One TCP connection: its socket, its partial frame, and the replies it has not read."""

    __slots__ = ("decoder", "events", "name", "open", "out", "queued", "reading", "sock")

    def __init__(self, sock: socket.socket, name: str, max_frame: int) -> None:
        self.sock = sock
        self.name = name
        """`tcp:host:port` of the client, for logs."""
        self.decoder = SlipDecoder(max_frame)
        self.out: deque[memoryview] = deque()
        self.queued = 0
        """Bytes in `out`."""
        self.open = True
        self.reading = True
        """False once the peer has finished sending: it is closed when its replies are out."""
        self.events = selectors.EVENT_READ
        """What the selector watches the socket for."""

    def __repr__(self) -> str:
        return f"Peer({self.name})"


@dataclass(slots=True)
class StreamStats:
    """What the TCP side has seen, for `/engine/status`."""

    accepted: int = 0
    refused: int = 0
    """Connections closed at once because `max_connections` were open."""
    dropped: int = 0
    """Peers dropped for leaving more than `max_queued` bytes of replies unread."""


class StreamServer:
    """The listening socket and its peers; see the module's doc."""

    def __init__(
        self,
        sock: socket.socket,
        refusal: bytes,
        max_connections: int = MAX_CONNECTIONS,
        max_frame: int = MAX_FRAME,
        max_queued: int = MAX_QUEUED,
        allowed: Callable[[str], bool] | None = None,
    ) -> None:
        self.sock = sock
        self.allowed = allowed
        """Whether a peer's host may connect (None: every host); others are closed at once."""
        self.refusal = encode(refusal)
        """The packet a connection over the cap gets before it is closed."""
        self.max_connections = max_connections
        self.max_frame = max_frame
        self.max_queued = max_queued
        self.peers: set[Peer] = set()
        self.stats = StreamStats()
        self._selector: selectors.BaseSelector | None = None
        sock.setblocking(False)

    @classmethod
    def listen(
        cls, host: str, port: int, refusal: bytes, allowed: Callable[[str], bool] | None = None
    ) -> StreamServer:
        """Bind and listen on `host:port`; OSError if the port is taken."""
        sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        try:
            # A restarted engine must get its port back while old connections sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        return cls(sock, refusal, allowed=allowed)

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self.sock.getsockname()[1])

    def attach(self, selector: selectors.BaseSelector) -> None:
        """Serve from `selector`; its events for this server go to `ready`."""
        self._selector = selector
        selector.register(self.sock, selectors.EVENT_READ, self)
        for peer in self.peers:
            peer.events = self._wanted(peer)
            selector.register(peer.sock, peer.events, peer)

    def detach(self) -> None:
        """Stop serving from the selector (before it is closed); the peers stay open."""
        selector, self._selector = self._selector, None
        if selector is None:
            return
        for sock in (self.sock, *(peer.sock for peer in self.peers)):
            try:
                selector.unregister(sock)
            except (KeyError, ValueError):
                pass  # the selector was closed already

    def owns(self, key: selectors.SelectorKey) -> bool:
        """Whether a selector event is this server's to handle."""
        return key.data is self or isinstance(key.data, Peer)

    def ready(self, key: selectors.SelectorKey, mask: int) -> list[tuple[Peer, bytes | BadFrame]]:
        """Handle one event; return the frames that arrived, with the peer each came from."""
        if key.data is self:
            self._accept()
            return []
        peer = key.data
        assert isinstance(peer, Peer)
        if mask & selectors.EVENT_WRITE and peer.open:
            self._flush(peer)
        if mask & selectors.EVENT_READ and peer.open and peer.reading:
            return [(peer, frame) for frame in self._read(peer)]
        return []

    def send(self, peer: Peer, packet: bytes) -> bool:
        """Queue `packet` for `peer` and send what the socket takes now.

        False if the peer is gone, or has left so much unread that it is dropped now.
        """
        if not peer.open:
            return False
        frame = encode(packet)
        if peer.queued and peer.queued + len(frame) > self.max_queued:
            self.stats.dropped += 1
            log.warning(
                "dropped OSC client %s: it left %d bytes of replies unread (at most %d)",
                peer.name,
                peer.queued,
                self.max_queued,
            )
            self._close(peer)
            return False
        waiting = bool(peer.out)
        peer.out.append(memoryview(frame))
        peer.queued += len(frame)
        if not waiting:
            self._flush(peer)
        return peer.open

    def close(self) -> None:
        """Send what each peer's socket takes at once, then close every socket."""
        self.detach()
        for peer in list(self.peers):
            self._flush(peer)
            self._close(peer)
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.sock.accept()  # IPv6 adds flow and scope to the pair
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again on the next event
                log.warning("cannot accept an OSC connection: %s", exc.strerror)
                return
            host, port = address[0], address[1]
            if self.allowed is not None and not self.allowed(host):
                sock.close()  # not answered: the filter counted it
                continue
            sock.setblocking(False)
            name = f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"
            if len(self.peers) >= self.max_connections:
                self.stats.refused += 1
                log.warning("refused OSC client %s: %d connections are open", name, len(self.peers))
                try:
                    sock.send(self.refusal)
                except OSError:
                    pass
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = Peer(sock, name, self.max_frame)
            self.peers.add(peer)
            self.stats.accepted += 1
            if self._selector is not None:
                self._selector.register(sock, selectors.EVENT_READ, peer)

    def _read(self, peer: Peer) -> list[bytes | BadFrame]:
        try:
            data = peer.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            peer.reading = False
            self._flush(peer)  # a peer that only stopped sending still gets its replies
            return []
        return peer.decoder.feed(data)

    def _flush(self, peer: Peer) -> None:
        while peer.out:
            head = peer.out[0]
            try:
                sent = peer.sock.send(head)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                    log.warning("OSC client %s: %s", peer.name, exc.strerror)
                self._close(peer)
                return
            peer.queued -= sent
            if sent < len(head):
                peer.out[0] = head[sent:]
                break
            peer.out.popleft()
        if not peer.out and not peer.reading:
            self._close(peer)
        else:
            self._watch(peer)

    def _watch(self, peer: Peer) -> None:
        wanted = self._wanted(peer)
        if self._selector is not None and wanted != peer.events:
            peer.events = wanted
            self._selector.modify(peer.sock, wanted, peer)

    @staticmethod
    def _wanted(peer: Peer) -> int:
        read = selectors.EVENT_READ if peer.reading else 0
        return read | (selectors.EVENT_WRITE if peer.out else 0)

    def _close(self, peer: Peer) -> None:
        if not peer.open:
            return
        peer.open = False
        self.peers.discard(peer)
        if self._selector is not None:
            self._selector.unregister(peer.sock)
        peer.out.clear()
        peer.queued = 0
        peer.sock.close()
