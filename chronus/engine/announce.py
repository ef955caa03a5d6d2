"""Telling subscribed clients what others changed (`/notify`, `/clients`, `/changed`).

The supervisor calls `changed` with each command the slots have taken (never one it
refused) and the address it came from; every other subscriber gets one datagram (or TCP
frame) `/changed <seq> <client> <address> <args…>` at once, from the control plane: the
slots and the audio I/O never see it. Sending never waits: a UDP datagram the socket cannot
take now is lost (the subscriber sees a gap in its numbers), a TCP subscriber whose
connection is gone, or holds 8 MiB unread, is dropped, and a silent one is dropped after
`EXPIRY_S`.

Only a client on this machine may subscribe over UDP: a datagram's sender address can be
forged, and a forged `/notify` must not turn the engine into an amplifier aimed at someone
else. Another machine subscribes over TCP, whose handshake proves its address.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from chronus.engine.peers import is_loopback
from chronus.engine.subscribers import EXPIRY_S, SubscriberError, Subscribers, peer_text
from chronus.protocol import Arg, Message, encode_raw

__all__ = ["ENGINE_NAME", "EXPIRY_ENV", "LINK_NAME", "QUIET", "Announcer"]

ENGINE_NAME = "engine"
"""The client name of changes the engine makes itself (a crashing module taken out)."""
LINK_NAME = "link"
"""The client name of a tempo the Ableton Link session moved to (another app's)."""
QUIET = ("/note/", "/gate/")
"""Commands that are played, not changes to the patch: not told to others (a keyboard's
notes would flood their prompts)."""
_EXPIRE_EVERY_S = 1.0
_SEQ = struct.Struct(">i")
EXPIRY_ENV = "CHRONUS_NOTIFY_EXPIRY_S"
"""Seconds after which a silent subscriber is dropped, if not `EXPIRY_S` (for tests)."""

Send = Callable[[Any, bytes], bool]
Reply = Callable[..., None]


class Announcer:
    """The subscribers and what is sent to them; `send(addr, packet)` sends unasked."""

    def __init__(self, send: Send, reply: Reply, error: Callable[[Any, str, str], None]) -> None:
        self.subscribers = Subscribers(expiry_s=_expiry())
        self._send = send
        self._reply = reply
        self._error = error
        self.sent = 0
        """`/changed` datagrams and frames sent."""
        self.lost = 0
        """`/changed` that could not be sent at once (a full buffer, a gone peer)."""
        self._next_expiry = 0.0

    def request(self, message: Message, addr: Any) -> None:
        """Answer `/notify` or `/clients`."""
        if message.address == "/clients":
            rows = self.subscribers.listing(time.monotonic())
            self._reply(addr, "/clients", json.dumps(rows))
            return
        on = bool(message.args[0])
        if not on:
            self.subscribers.unsubscribe(addr)
            self._reply(addr, "/notify", 0, peer_text(addr))
            return
        if isinstance(addr, tuple) and not is_loopback(str(addr[0])):
            self._error(
                addr, "/notify",
                "a client on another machine subscribes over TCP (OSC 1.1, SLIP, on the same "
                "port): a UDP sender's address could be forged; nothing changed",
            )  # fmt: skip
            return
        name = str(message.args[1]) if len(message.args) > 1 else ""
        port = int(message.args[2]) if len(message.args) > 2 else 0
        try:
            known = self.subscribers.subscribe(addr, name, port, time.monotonic(), wall=time.time())
        except SubscriberError as exc:
            self._error(addr, "/notify", str(exc))
            return
        self._reply(addr, "/notify", 1, known.name, known.seq)

    def heard(self, addr: Any) -> None:
        """A packet came from `addr` (cheap when nobody subscribed)."""
        if len(self.subscribers):
            self.subscribers.seen(addr, time.monotonic())

    def changed(self, message: Message, origin: Any, name: str = ENGINE_NAME) -> None:
        """Tell every other subscriber that `message` (taken by the slots) was played by
        `origin` (None: by the engine itself, told as `name`)."""
        subscribers = self.subscribers
        if not len(subscribers) or message.address.startswith(QUIET):
            return
        if origin is not None:
            name = subscribers.name_of(origin)
        args: tuple[Arg, ...] = (name, message.address, *message.args)
        packet = bytearray(encode_raw("/changed", 0, *args))
        at = _first_arg(packet)  # encoded once; each subscriber's number written in place
        for addr, seq in subscribers.targets(origin):
            _SEQ.pack_into(packet, at, seq)
            if self._send(addr, bytes(packet)):
                self.sent += 1
            else:
                self.lost += 1
                if not isinstance(addr, tuple):
                    subscribers.drop(addr)  # a TCP connection gone or full: no use waiting

    def tick(self) -> None:
        """Drop the subscribers that went silent (looked at once a second)."""
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + _EXPIRE_EVERY_S
            self.subscribers.expire(now)

    def status(self) -> dict[str, Any]:
        """For `/engine/status`: subscribers now, dropped, sent and lost notifications."""
        return {
            "subscribers": len(self.subscribers),
            "dropped": self.subscribers.dropped,
            "sent": self.sent,
            "lost": self.lost,
        }


def _first_arg(packet: bytearray) -> int:
    """Where an OSC message's first argument starts: after its address and type tags.

    >>> packet = bytearray(encode_raw("/changed", 7, "ana"))
    >>> at = _first_arg(packet)
    >>> at, _SEQ.unpack_from(packet, at)
    (16, (7,))
    """
    tags = packet.index(b",")
    return (packet.index(b"\0", tags) + 4) & ~3


def _expiry() -> float:
    """`EXPIRY_S`, or what `CHRONUS_NOTIFY_EXPIRY_S` says (read once, at start)."""
    try:
        return max(0.1, float(os.environ.get(EXPIRY_ENV, EXPIRY_S)))
    except ValueError:
        return EXPIRY_S
