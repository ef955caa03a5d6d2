"""Which OSC peers the engine answers, and how much a peer it cannot verify may get back.

OSC listens on 127.0.0.1 unless `--host` says otherwise. Listening wider, `--allow ADDR/MASK`
(repeatable) names the networks whose packets are read; others are dropped unanswered and
counted. The machine itself (loopback) is always allowed. A UDP sender's address can be forged,
so a UDP peer that is not loopback gets replies to one packet of at most `AMPLIFICATION` times
its size plus `REPLY_FLOOR` bytes: a larger reply becomes an `/error` that says to ask over TCP,
whose handshake proves the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = [
    "AMPLIFICATION",
    "REPLY_FLOOR",
    "PeerFilter",
    "listens_everywhere",
    "parse_network",
    "reply_budget",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

AMPLIFICATION = 2
"""Reply bytes per request byte a UDP peer that is not loopback may get."""
REPLY_FLOOR = 96
"""Reply bytes any request may get, so that a short one can still be told why it failed."""


def parse_network(text: str) -> Network:
    """`ADDR/MASK` (or one address) as a network; ValueError with the reason if it is not one.

    >>> str(parse_network("192.168.1.7/24"))
    '192.168.1.0/24'
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"not an address or ADDR/MASK: {text!r} ({exc})") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def listens_everywhere(host: str) -> bool:
    """Whether binding `host` listens on every interface."""
    return host in ("", "0.0.0.0", "::", "*")


def reply_budget(host: str, request_size: int) -> int | None:
    """How many reply bytes one UDP packet from `host` may earn; None: no limit (loopback)."""
    if _is_loopback(host):
        return None
    return AMPLIFICATION * request_size + REPLY_FLOOR


class PeerFilter:
    """The networks whose packets the engine reads (`--allow`); none given: every peer."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        self.networks = tuple(parse_network(text) for text in allow)
        self.refused = 0
        """Packets and connections dropped because their peer is not allowed."""

    def allows(self, host: str) -> bool:
        """Whether to read what `host` sends (counted as refused if not)."""
        if not self.networks or _is_loopback(host):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            allowed = False
        else:
            allowed = any(address in network for network in self.networks)
        if not allowed:
            self.refused += 1
        return allowed

    def describe(self) -> str:
        """The allowed networks, for the log (`every peer` if unrestricted)."""
        if not self.networks:
            return "every peer"
        return ", ".join(["loopback", *(str(network) for network in self.networks)])
