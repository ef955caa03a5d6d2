"""The engine's OSC sockets: UDP and TCP (OSC 1.1, SLIP-framed) on one host and port.

A request's sender is its reply address: a `(host, port)` pair for UDP, a `Peer` for TCP, so
a reply goes back the way its request came. A UDP reply too large for a datagram becomes an
`/error` that says to ask over TCP; every reply that cannot be sent is counted. Each peer's
packets pass its rate (`rates`) before they are handled: a flood is shed here, unparsed.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

from chronus.engine.osc_tcp import MAX_CONNECTIONS, Peer, StreamServer
from chronus.engine.peers import PeerFilter, family_of, reply_budget
from chronus.engine.port_owner import holders, in_use_text
from chronus.engine.rates import ADMIT, TELL, PeerRates, rate_text
from chronus.engine.slip import BadFrame
from chronus.engine.steering import MAX_FLOODERS, dropped_so_far, steer
from chronus.protocol import Arg, encode_raw

__all__ = ["UDP_BURST", "UDP_REPLY_LIMIT", "UDP_SOCKETS", "OscEndpoints", "too_large_text"]

UDP_REPLY_LIMIT = 60_000
"""The largest reply sent as one datagram (the UDP limit is 65,507 bytes of payload)."""
_OUTGROWN = "reply larger than its request to a remote UDP peer; ask over TCP"
UDP_BURST = 256
"""Datagrams read per selector event: a flood waits in the kernel (which counts what it
drops) while the serve loop keeps its timers, commits and children in hand between bursts."""
FLOODED_BURST = 32
"""Datagrams read per selector event from socket 0 once flooders are steered to it."""
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
"""Linux: each datagram read carries how many the kernel dropped so far on this socket."""
_DROPS_SPACE = socket.CMSG_SPACE(4)
log = logging.getLogger("chronus.engine")
UDP_SOCKETS = 4
"""UDP sockets on the one port (SO_REUSEPORT), each with a receive buffer of its own, read in
turn: a flood faster than the engine reads overflows its own socket's buffer. Where it can
(Linux, IPv4: `steering`) the engine chooses each sender's socket: socket 0 for the senders
found flooding, one of the others for everyone else, so that a calm sender that shared a
flooder's socket loses nothing once the flooder is found (else the kernel's hash chooses,
and one sender in `UDP_SOCKETS` shares the flooder's). One sender's datagrams all go to one
socket: their order is kept."""
UNSEEN_HOLDER_WAIT_S = 2.0
"""How long a given port that is in use with no process holding it is tried again."""
_BIND_TRIES = 20
"""Free UDP ports tried (with port 0) until the same TCP port is free too."""


def too_large_text(size: int) -> str:
    """The `/error` text of a UDP reply that does not fit in a datagram."""
    return (
        f"reply of {size} bytes is too large for UDP; ask over TCP (OSC 1.1, SLIP) on the same port"
    )


def _refusal() -> bytes:
    """What a TCP connection over the cap gets before it is closed."""
    return encode_raw("/error", "", f"too many OSC connections ({MAX_CONNECTIONS} open); close one")


def _ask_for_drops(udp: socket.socket) -> bool:
    """Ask the kernel to count the datagrams it drops (Linux); whether it will."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        udp.setsockopt(socket.SOL_SOCKET, _SO_RXQ_OVFL, 1)
    except OSError:
        return False
    return True


def _udp_socket(host: str) -> socket.socket:
    """A UDP socket for `host`, not yet bound, that may share its port with its twins."""
    udp = socket.socket(family_of(host), socket.SOCK_DGRAM)
    # Bursts (a script's first beat, a controller) must queue, not drop; the kernel caps.
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    if hasattr(socket, "SO_REUSEPORT"):
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return udp


def _more_udp(host: str, port: int) -> tuple[socket.socket, ...]:
    """The other `UDP_SOCKETS - 1` sockets on `host:port`; none where the system has no
    SO_REUSEPORT (one socket then: what overflows it is still counted)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return ()
    more: list[socket.socket] = []
    for _ in range(UDP_SOCKETS - 1):
        udp = _udp_socket(host)
        try:
            udp.bind((host, port))
        except OSError:
            udp.close()
            break
        more.append(udp)
    return tuple(more)


def _taken(exc: OSError, port: int, kind: str) -> OSError:
    """`exc`, or for a port in use (for `kind`, TCP or UDP), an error that says who holds
    it."""
    if exc.errno != errno.EADDRINUSE:
        return exc
    return OSError(errno.EADDRINUSE, f"{in_use_text(port)} ({kind})")


def _claim(
    host: str, port: int, refusal: bytes, peers: PeerFilter
) -> tuple[socket.socket, StreamServer]:
    """`_claim_once`, tried again for up to `UNSEEN_HOLDER_WAIT_S` while the port is in use
    but no process holds a socket on it: the engine's bind met that, on a port free a moment
    before and after, in about 1 boot in 50 beside other engines on this VM (cause unknown).
    A port a process holds fails at once."""
    deadline = time.monotonic() + UNSEEN_HOLDER_WAIT_S
    while True:
        try:
            return _claim_once(host, port, refusal, peers)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or holders(port) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _claim_once(
    host: str, port: int, refusal: bytes, peers: PeerFilter
) -> tuple[socket.socket, StreamServer]:
    """TCP, then UDP on a given port, each only if nobody holds it.

    The UDP sockets share the port (SO_REUSEPORT), so a second engine of the same user could
    bind it too and take a share of the first one's datagrams. TCP comes first because its
    listener cannot be shared: whoever holds it holds the port. Then a UDP socket without
    SO_REUSEPORT probes that no other program's UDP socket is on it, before the group joins.
    """
    try:
        streams = StreamServer.listen(host, port, refusal, peers.allows)
    except OSError as exc:
        raise _taken(exc, port, "TCP") from exc
    udp = _udp_socket(host)
    try:
        with socket.socket(family_of(host), socket.SOCK_DGRAM) as probe:
            probe.bind((host, port))
        udp.bind((host, port))
    except OSError as exc:
        udp.close()
        streams.close()
        raise _taken(exc, port, "UDP") from exc
    return udp, streams


class OscEndpoints:
    """Both sockets, driven by the supervisor's selector; see the module's doc."""

    def __init__(
        self,
        udp: socket.socket,
        streams: StreamServer,
        peers: PeerFilter | None = None,
        rates: PeerRates | None = None,
        more_udp: tuple[socket.socket, ...] = (),
    ) -> None:
        self.udp = udp
        """The UDP socket replies go out of (any on the port would do)."""
        self.udps = (udp, *more_udp)
        self.streams = streams
        self.peers = peers or PeerFilter()
        self.rates = rates or PeerRates()
        self.reply_errors = 0
        """Replies not sent: too large for UDP, the sender gone, or a TCP peer dropped."""
        self.replies_cut = 0
        """Replies not sent to a remote UDP peer because they outgrew its request."""
        self._budget: int | None = None
        """Reply bytes left for the UDP packet being handled (None: no limit)."""
        self._drops = dict.fromkeys(self.udps, 0)
        """Per UDP socket: datagrams the kernel dropped, its buffer full (Linux)."""
        self._drops_told = all([_ask_for_drops(sock) for sock in self.udps])
        for sock in self.udps:
            sock.setblocking(False)
        self.flooders: list[tuple[str, int]] = []
        """UDP senders that overflowed their socket, steered to socket 0 (the latest last)."""
        self._overflows: dict[socket.socket, int] = {}
        """Per UDP socket: the kernel's drop count at its last burst (`steering`)."""
        self.steered = self._drops_told and steer(udp, len(self.udps))
        """Whether the engine, not the kernel's hash, chooses each sender's socket."""

    @classmethod
    def open(
        cls, host: str, port: int, peers: PeerFilter | None = None, rates: PeerRates | None = None
    ) -> OscEndpoints:
        """Bind UDP and TCP on `host:port` (port 0: a free port, the same for both; an IPv6
        host binds IPv6); read only what `peers` allows, at the rates `rates` allows.

        OSError if either is taken; its text says who holds the port (`port_owner`).
        """
        peers = peers or PeerFilter()
        refusal = _refusal()
        if port:
            udp, streams = _claim(host, port, refusal, peers)
            return cls(udp, streams, peers, rates, _more_udp(host, port))
        for _ in range(_BIND_TRIES):
            udp = _udp_socket(host)
            try:
                udp.bind((host, 0))
                bound = int(udp.getsockname()[1])
                streams = StreamServer.listen(host, bound, refusal, peers.allows)
            except OSError as exc:
                udp.close()
                if exc.errno == errno.EADDRINUSE:
                    continue  # the free UDP port is taken for TCP: try another
                raise
            return cls(udp, streams, peers, rates, _more_udp(host, bound))
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    @classmethod
    def adopt(
        cls,
        sockets: list[socket.socket],
        peers: PeerFilter | None = None,
        rates: PeerRates | None = None,
    ) -> OscEndpoints:
        """Serve on sockets bound already (`held_sockets`: those of a supervisor that died,
        in the order of `sockets()`): the TCP listener, then the UDP sockets."""
        peers = peers or PeerFilter()
        listener, udp, *more = sockets
        if listener.type != socket.SOCK_STREAM or udp.type != socket.SOCK_DGRAM:
            raise OSError(errno.EINVAL, "the held sockets are not a TCP listener and UDP")
        streams = StreamServer(listener, _refusal(), allowed=peers.allows)
        return cls(udp, streams, peers, rates, tuple(more))

    def sockets(self) -> list[socket.socket]:
        """The listening sockets, for another supervisor to `adopt`: TCP, then UDP."""
        return [self.streams.sock, *self.udps]

    @property
    def kernel_drops(self) -> int:
        """Datagrams the kernel dropped because a receive buffer was full (Linux)."""
        return sum(self._drops.values())

    @property
    def port(self) -> int:
        """The port both sockets listen on."""
        return int(self.udp.getsockname()[1])

    def attach(self, selector: selectors.BaseSelector) -> None:
        """Serve from `selector`; its events for these sockets go to `ready`."""
        for sock in self.udps:
            selector.register(sock, selectors.EVENT_READ, self)
        self.streams.attach(selector)

    def detach(self, selector: selectors.BaseSelector) -> None:
        """Stop serving from `selector` (before it is closed)."""
        for sock in self.udps:
            selector.unregister(sock)
        self.streams.detach()

    def owns(self, key: selectors.SelectorKey) -> bool:
        """Whether a selector event is for these sockets."""
        return key.data is self or self.streams.owns(key)

    def ready(
        self, key: selectors.SelectorKey, mask: int
    ) -> Iterator[tuple[Any, bytes | BadFrame]]:
        """The packets (or bad frames) one event brings, each with its reply address.

        A TCP peer that is dropped while its packets are handled gets no more of them.
        """
        now = time.monotonic()
        if key.data is not self:
            for peer, frame in self.streams.ready(key, mask):
                if peer.open and self._admitted(peer, 0, now):
                    yield peer, frame
            return
        udp = key.fileobj
        assert isinstance(udp, socket.socket)
        batch = self._read_burst(udp)
        if self.steered and batch:
            self._steer_flooder(udp, batch)
        for addr, data in batch:
            if self.steered and udp is not self.udp and addr in self.flooders:
                self.rates.count_shed(addr)  # its backlog here: it overflowed this socket
                continue
            if not self.peers.allows(addr[0]) or not self._admitted(addr, len(data), now):
                continue
            self._budget = reply_budget(addr[0], len(data))
            try:
                yield addr, data
            finally:
                self._budget = None

    def _read_burst(self, udp: socket.socket) -> list[tuple[Any, bytes]]:
        """The datagrams waiting on `udp`, up to a burst (`FLOODED_BURST` on socket 0 once
        it holds flooders, so that they wait and the others are read), with their senders."""
        batch: list[tuple[Any, bytes]] = []
        burst = FLOODED_BURST if udp is self.udp and self.flooders else UDP_BURST
        while len(batch) < burst:
            try:
                if self._drops_told:
                    data, ancillary, _, addr = udp.recvmsg(65536, _DROPS_SPACE)
                    self._read_drops(udp, ancillary)
                else:
                    data, addr = udp.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionError:
                continue  # an earlier reply's sender was gone (ICMP), not this read's fault
            batch.append((addr, data))
        return batch

    def _steer_flooder(self, udp: socket.socket, batch: list[tuple[Any, bytes]]) -> None:
        """If the kernel dropped datagrams on `udp` since its last burst and one sender made
        most of this one, give that sender socket 0 from now on: those who share its socket
        by chance lose nothing more to its flood, and what it left queued here is shed."""
        drops = dropped_so_far(udp)
        overflowed = drops > self._overflows.get(udp, 0)
        self._overflows[udp] = drops
        self._drops[udp] = max(self._drops[udp], drops)  # known now, not with a later datagram
        if not overflowed or udp is self.udp:
            return
        heard: dict[Any, int] = {}
        for addr, _ in batch:
            heard[addr] = heard.get(addr, 0) + 1
        addr, count = max(heard.items(), key=lambda item: item[1])
        if 2 * count < len(batch) or addr in self.flooders:
            return
        self.flooders = [*self.flooders, (str(addr[0]), int(addr[1]))][-MAX_FLOODERS:]
        if steer(self.udp, len(self.udps), self.flooders):
            log.warning("UDP from %s:%s overflows its socket: given a socket of its own", *addr)

    def _admitted(self, addr: Any, size: int, now: float) -> bool:
        """Whether `addr`'s packet (of `size` bytes, 0 over TCP) is within its rate; if not,
        it is shed, before anything else is spent on it (the peer told at most once a second,
        within its reply budget; the log at most once a second, whoever the peer)."""
        verdict = self.rates.admit(addr, now)
        if verdict == ADMIT:
            return True
        if verdict == TELL:
            if size:
                self._budget = reply_budget(addr[0], size)
            try:
                self.reply(addr, "/error", "", rate_text(self.rates.rate))
            finally:
                self._budget = None
            if self.rates.log_due(now):
                log.warning(
                    "shedding OSC from %s: more than %d messages a second (%d shed in all)",
                    getattr(addr, "name", addr), self.rates.rate, self.rates.shed,
                )  # fmt: skip
        return False

    def charge(self, addr: Any, messages: int) -> None:
        """Charge `addr` for the other `messages` of a bundle it sent (see `rates`)."""
        self.rates.charge(addr, messages)

    def _read_drops(self, udp: socket.socket, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_RXQ_OVFL and len(payload) >= 4:
                self._drops[udp] = int.from_bytes(payload[:4], sys.byteorder)

    def reply(self, addr: Any, address: str, *args: Arg) -> None:
        """Send a reply to whoever sent the request; count it if it cannot be sent."""
        packet = encode_raw(address, *args)
        if isinstance(addr, Peer):
            if not self.streams.send(addr, packet):
                self.reply_errors += 1
            return
        if len(packet) > UDP_REPLY_LIMIT:
            self._too_large(addr, address, len(packet))
            return
        if self._budget is not None:
            if len(packet) > self._budget:
                self._outgrown(addr, address)
                return
            self._budget -= len(packet)
        try:
            self.udp.sendto(packet, addr)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self._too_large(addr, address, len(packet))
            else:
                self.reply_errors += 1  # the sender is gone

    def tell(self, addr: Any, packet: bytes) -> bool:
        """Send `packet` to a subscriber, unasked: no request's budget applies (a subscriber
        is on this machine or on TCP), and nothing waits. False if it could not be sent now
        (its TCP connection is gone or full, its UDP port refuses, the socket's buffer is
        full)."""
        if isinstance(addr, Peer):
            return self.streams.send(addr, packet)
        try:
            self.udp.sendto(packet, addr)
        except OSError:
            return False
        return True

    def spent(self, addr: Any) -> bool:
        """Whether replies to `addr`'s packet are cut from now on (its budget is spent): a
        reply that costs work to make need not be made. Counts the reply as cut."""
        if isinstance(addr, Peer) or self._budget is None or self._budget > 0:
            return False
        self.replies_cut += 1
        return True

    def _outgrown(self, addr: Any, address: str) -> None:
        """A reply larger than what is left of its request's budget: an `/error` instead,
        if even that fits (once per packet)."""
        assert self._budget is not None
        self.replies_cut += 1
        left, self._budget = self._budget, 0  # nothing more for this packet
        error = encode_raw("/error", address, _OUTGROWN)
        if len(error) > left:
            return
        try:
            self.udp.sendto(error, addr)
        except OSError:
            self.reply_errors += 1

    def _too_large(self, addr: Any, address: str, size: int) -> None:
        self.reply_errors += 1
        try:
            self.udp.sendto(encode_raw("/error", address, too_large_text(size)), addr)
        except OSError:
            pass  # already counted

    def status(self) -> dict[str, Any]:
        """Reply errors and TCP connections, for `/engine/status`."""
        stats = self.streams.stats
        return {
            "reply_errors": self.reply_errors,
            "kernel_drops": self.kernel_drops,
            "replies_cut": self.replies_cut,
            "refused_peers": self.peers.refused,
            "shed": self.rates.shed,
            "udp_flooders_steered": [f"udp:{host}:{port}" for host, port in self.flooders],
            "rate": self.rates.status(),
            "tcp": {
                "open": len(self.streams.peers),
                "accepted": stats.accepted,
                "refused": stats.refused,
                "dropped": stats.dropped,
            },
        }

    def close(self) -> None:
        """Close every socket (TCP peers get what their sockets take at once)."""
        self.streams.close()
        for sock in self.udps:
            sock.close()
