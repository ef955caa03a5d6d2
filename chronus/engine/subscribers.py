"""The clients that asked to hear of every change (`/notify 1`), as scsynth's clients do.

Each subscriber is a reply address (a UDP sender on this machine, or a TCP connection) with a
name its client chose, the port it sends its commands from (a shell listens on one socket
and plays from another), when it subscribed, when it was last heard and the sequence number
of the last change sent to it. The registry only keeps this table: the supervisor sends.

It is bounded: at most `MAX_SUBSCRIBERS`, each dropped once not heard for `EXPIRY_S`
(a client renews by sending `/notify 1` again, or anything else from either of its
addresses). A change goes to every subscriber but the client that made it, numbered per
subscriber (1, 2, 3 …): a gap tells a client it missed one.

>>> subs = Subscribers()
>>> subs.subscribe(("127.0.0.1", 5000), "ana", 5001, now=0.0).name
'ana'
>>> subs.subscribe(("127.0.0.1", 6000), "ben", 0, now=0.0).name
'ben'
>>> [(addr[1], seq) for addr, seq in subs.targets(("127.0.0.1", 5001))]
[(6000, 1)]
>>> subs.name_of(("127.0.0.1", 5001)), subs.name_of(("127.0.0.1", 7))
('ana', '127.0.0.1:7')
>>> [s.name for s in subs.expire(now=EXPIRY_S + 1)]
['ana', 'ben']
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPIRY_S",
    "MAX_NAME",
    "MAX_SENDERS",
    "MAX_SUBSCRIBERS",
    "RENEW_S",
    "Subscriber",
    "SubscriberError",
    "Subscribers",
    "clean_name",
    "peer_text",
]

MAX_SUBSCRIBERS = 32
"""The most clients subscribed at once; one more is refused with an `/error`."""
EXPIRY_S = 30.0
"""A subscriber not heard for this long is dropped."""
RENEW_S = 10.0
"""How often a client renews its subscription (a third of `EXPIRY_S`: two may be lost)."""
MAX_NAME = 32
"""The longest client name kept (characters)."""
MAX_SENDERS = 8
"""The most names kept of clients that send changes without subscribing."""
_UNSAFE = re.compile(r"[^\w@.:+-]+")


class SubscriberError(ValueError):
    """A subscription the registry refuses (it is full)."""


def clean_name(name: str, fallback: str) -> str:
    """A client's name as shown to others: printable, short; `fallback` if nothing is left.

    >>> clean_name("ana\\x1b[31m", "x"), clean_name("", "127.0.0.1:5000")
    ('ana_31m', '127.0.0.1:5000')
    """
    cleaned = _UNSAFE.sub("_", name.strip())[:MAX_NAME].strip("_")
    return cleaned or fallback


def peer_text(addr: Any) -> str:
    """`host:port` of a UDP sender, `tcp:host:port` of a TCP connection."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(getattr(addr, "name", addr))


@dataclass(slots=True)
class Subscriber:
    """One subscribed client."""

    addr: Any
    """Where its changes go: a UDP `(host, port)` or a TCP peer."""
    name: str
    commands: Hashable | None
    """The UDP address its commands come from, if not `addr` itself."""
    since: float
    """When it subscribed (wall clock, s)."""
    seen: float
    """When it was last heard (monotonic, s)."""
    seq: int = 0
    """The number of the last change sent to it."""

    def row(self, now: float) -> dict[str, Any]:
        """Its line in `/clients`: name, address, since (Unix s), idle (s), changes sent."""
        return {
            "name": self.name,
            "address": peer_text(self.addr),
            "commands": None if self.commands is None else peer_text(self.commands),
            "since": round(self.since, 3),
            "idle_s": round(max(0.0, now - self.seen), 3),
            "sent": self.seq,
        }


class Subscribers:
    """The subscribed clients, keyed by the address their changes go to."""

    def __init__(self, limit: int = MAX_SUBSCRIBERS, expiry_s: float = EXPIRY_S) -> None:
        self.limit = limit
        self.expiry_s = expiry_s
        self._by_addr: dict[Any, Subscriber] = {}
        self._by_commands: dict[Hashable, Subscriber] = {}
        self._senders: dict[Any, str] = {}
        """Names of clients that send changes without subscribing (the MIDI process)."""
        self.dropped = 0
        """Subscribers dropped because they went silent or their connection failed."""

    def __len__(self) -> int:
        return len(self._by_addr)

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(list(self._by_addr.values()))

    def subscribe(
        self, addr: Any, name: str, commands_port: int, now: float, wall: float = 0.0
    ) -> Subscriber:
        """Subscribe `addr` (or renew it: its numbering goes on) and return it.

        `commands_port` (0: none) is the port on `addr`'s host its commands come from.
        Raises `SubscriberError` when full."""
        commands = _commands_addr(addr, commands_port)
        known = self._by_addr.get(addr)
        if known is None and len(self._by_addr) >= self.limit:
            raise SubscriberError(
                f"at most {self.limit} clients may subscribe; nothing changed "
                f"(`/clients` lists them; a silent one is dropped after {self.expiry_s:g} s)"
            )
        shown = clean_name(name, peer_text(addr))
        if known is None:
            known = Subscriber(addr, shown, commands, wall, now)
            self._by_addr[addr] = known
        else:
            self._forget_commands(known)
            known.name, known.commands, known.seen = shown, commands, now
        if commands is not None:
            self._by_commands[commands] = known
        return known

    def unsubscribe(self, addr: Any) -> bool:
        """End `addr`'s subscription; False if it had none."""
        known = self._by_addr.pop(addr, None)
        if known is None:
            return False
        self._forget_commands(known)
        return True

    def drop(self, addr: Any) -> None:
        """Drop a subscriber that cannot be reached (counted)."""
        if self.unsubscribe(addr):
            self.dropped += 1

    def _forget_commands(self, known: Subscriber) -> None:
        if known.commands is not None and self._by_commands.get(known.commands) is known:
            del self._by_commands[known.commands]

    def owner(self, addr: Any) -> Subscriber | None:
        """The subscriber `addr` is (its changes' address or its commands')."""
        if not self._by_addr:
            return None
        return self._by_addr.get(addr) or self._by_commands.get(addr)

    def seen(self, addr: Any, now: float) -> None:
        """`addr` sent something: its subscriber, if any, is alive."""
        known = self.owner(addr)
        if known is not None:
            known.seen = now

    def name_of(self, addr: Any) -> str:
        """The name a change from `addr` is told with: its client's, else the name it was
        given (`name_sender`), else its address."""
        known = self.owner(addr)
        if known is not None:
            return known.name
        return self._senders.get(addr) or peer_text(addr)

    def name_sender(self, addr: Any, name: str) -> None:
        """Tell the changes from `addr`, a client of the engine's own that does not
        subscribe, as `name` (printable: made by the engine); the latest `MAX_SENDERS` are
        kept."""
        if self._senders.get(addr) == name:
            return
        self._senders.pop(addr, None)
        self._senders[addr] = name
        while len(self._senders) > MAX_SENDERS:
            del self._senders[next(iter(self._senders))]

    def targets(self, origin: Any) -> list[tuple[Any, int]]:
        """Where a change from `origin` goes, each with its next number (counted as sent)."""
        mover = self.owner(origin)
        out = []
        for known in self._by_addr.values():
            if known is not mover:
                known.seq += 1
                out.append((known.addr, known.seq))
        return out

    def expire(self, now: float) -> list[Subscriber]:
        """Drop (and return) the subscribers not heard for `expiry_s`."""
        gone = [s for s in self._by_addr.values() if now - s.seen > self.expiry_s]
        for known in gone:
            self.drop(known.addr)
        return gone

    def listing(self, now: float) -> list[dict[str, Any]]:
        """Every subscriber's row, oldest first."""
        return [known.row(now) for known in self._by_addr.values()]


def _commands_addr(addr: Any, port: int) -> Hashable | None:
    """The UDP address on `addr`'s host that sends its commands (None: none named)."""
    if port <= 0 or not isinstance(addr, tuple):
        return None
    return (addr[0], port, *addr[2:])
