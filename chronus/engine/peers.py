"""Which OSC peers the engine answers, and how much a peer it cannot verify may get back.

OSC listens on 127.0.0.1 unless `--host` says otherwise (`::1`, `::` listen on IPv6; `::`
takes IPv4 peers too, as `::ffff:a.b.c.d`, judged as IPv4). Listening wider, `--allow
ADDR/MASK` (repeatable, IPv4 or IPv6) names the networks whose packets are read; others are
dropped unanswered and counted; the HTTP API obeys the same networks. The machine itself
(loopback) is always allowed. A UDP sender's address can be forged, so a UDP peer that is not
loopback gets replies to one packet of at most `AMPLIFICATION` times its size plus
`REPLY_FLOOR` bytes: a larger reply becomes an `/error` that says to ask over TCP, whose
handshake proves the address.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Sequence

__all__ = [
    "AMPLIFICATION",
    "REPLY_FLOOR",
    "PeerFilter",
    "family_of",
    "is_loopback",
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


@functools.lru_cache(maxsize=1024)  # asked for every datagram read, of a few hosts
def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an address (an IPv4 peer of a dual-stack IPv6 socket as IPv4); None if it
    is not one."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (`localhost`, 127.0.0.0/8, ::1, and 127.x seen
    through a dual-stack socket as `::ffff:127.x`)."""
    address = _address(host)
    return host == "localhost" if address is None else address.is_loopback


def family_of(host: str) -> socket.AddressFamily:
    """The socket family to bind or reach `host` with: IPv6 for an IPv6 address (`::1`,
    `::`), else IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listens_everywhere(host: str) -> bool:
    """Whether binding `host` listens on every interface."""
    return host in ("", "0.0.0.0", "::", "*")


def reply_budget(host: str, request_size: int) -> int | None:
    """How many reply bytes one UDP packet from `host` may earn; None: no limit (loopback)."""
    if is_loopback(host):
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
        allowed = self.permits(host)
        if not allowed:
            self.refused += 1
        return allowed

    def permits(self, host: str) -> bool:
        """Whether `host` is loopback or in an allowed network (nothing counted)."""
        if not self.networks or is_loopback(host):
            return True
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)

    def describe(self) -> str:
        """The allowed networks, for the log (`every peer` if unrestricted)."""
        if not self.networks:
            return "every peer"
        return ", ".join(["loopback", *(str(network) for network in self.networks)])
