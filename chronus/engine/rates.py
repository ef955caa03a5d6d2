"""How many OSC messages each peer may send: a token bucket per peer, so that one peer's flood
is shed (dropped unread and counted) while the others are served as before.

A peer is a UDP sender's `(host, port)` or one TCP connection. Each has `rate` messages a
second and may save up `burst` of them (a script's first beat, a snapshot loaded at once). A
packet costs one message when it is read; a bundle's other messages are charged once it is
parsed, so a bundle of thousands leaves its peer in debt and its next packets are shed. A shed
peer is told at most once a second, with an `/error` whose text starts with `rate`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

__all__ = ["ADMIT", "PEER_BURST_S", "PEER_RATE", "SHED", "TELL", "PeerRates", "rate_text"]

PEER_RATE: Final = 5000
"""Messages a second one peer may send (the default of `chronus engine --peer-rate`)."""
PEER_BURST_S: Final = 4.0
"""Seconds of its rate a peer may save up and send at once."""
ADMIT: Final = 0
SHED: Final = 1
TELL: Final = 2
"""`admit`'s verdicts: read the packet; drop it; drop it and tell the peer why."""
_TELL_EVERY_S: Final = 1.0
_MAX_PEERS: Final = 1024
"""Buckets kept; past that, idle (full) ones are forgotten, then new peers share one."""
_MAX_NAMED: Final = 32
"""Shed peers named in the status; others are summed under `others`."""
_OTHERS: Final = "others"


def rate_text(rate: int) -> str:
    """The `/error` text a shed peer gets (at most once a second)."""
    return (
        f"rate: more than {rate} messages a second from this peer; "
        "what comes faster is dropped unread and counted"
    )


class _Bucket:
    __slots__ = ("at", "tokens", "told")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at
        self.told = -_TELL_EVERY_S


def _name(key: Hashable) -> str:
    if isinstance(key, tuple) and len(key) >= 2:
        host, port = key[0], key[1]
        return f"udp:[{host}]:{port}" if ":" in str(host) else f"udp:{host}:{port}"
    return str(getattr(key, "name", key))


class PeerRates:
    """The buckets of the peers seen lately; see the module's doc. `rate` 0: no limit."""

    def __init__(self, rate: int = PEER_RATE, burst_s: float = PEER_BURST_S) -> None:
        self.rate = rate
        self.burst = max(1.0, rate * burst_s)
        self._buckets: dict[Hashable, _Bucket] = {}
        self.shed = 0
        """Packets dropped because their peer was over its rate."""
        self.shed_by: dict[str, int] = {}
        """Packets shed per peer (`udp:host:port`, `tcp:host:port`), the first few named."""
        self._logged = -_TELL_EVERY_S

    def admit(self, key: Hashable, now: float) -> int:
        """`ADMIT` a packet from `key` at `now` (monotonic seconds), or `SHED` it, or `TELL`
        (shed, and the peer has not been told for a second)."""
        if self.rate <= 0:
            return ADMIT
        bucket = self._bucket(key, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return ADMIT
        self.count_shed(key)
        if now - bucket.told < _TELL_EVERY_S:
            return SHED
        bucket.told = now
        return TELL

    def count_shed(self, key: Hashable) -> None:
        """Count a packet of `key` as shed (here, or by the endpoints for a reason of theirs)."""
        self.shed += 1
        name = _name(key)
        if name not in self.shed_by and len(self.shed_by) >= _MAX_NAMED:
            name = _OTHERS
        self.shed_by[name] = self.shed_by.get(name, 0) + 1

    def charge(self, key: Hashable, messages: int) -> None:
        """Charge `key` for `messages` more of an admitted packet (a bundle's others)."""
        bucket = self._buckets.get(key)
        if bucket is not None and messages > 0:
            bucket.tokens -= messages

    def log_due(self, now: float) -> bool:
        """Whether a shed may be logged now (at most once a second, whoever the peer)."""
        if now - self._logged < _TELL_EVERY_S:
            return False
        self._logged = now
        return True

    def _bucket(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is not None:
            return bucket
        if len(self._buckets) >= _MAX_PEERS:
            self._forget_idle(now)
            if len(self._buckets) >= _MAX_PEERS:  # that many busy peers: the new ones share
                key = _OTHERS
                if (bucket := self._buckets.get(key)) is not None:
                    return bucket
        bucket = self._buckets[key] = _Bucket(self.burst, now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Forget the buckets that are full by now: a new one is the same."""
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]

    def status(self) -> dict[str, object]:
        """The limit and what was shed, for `/engine/status` (`osc.rate`)."""
        return {
            "per_peer": self.rate,
            "burst": int(self.burst),
            "shed_by_peer": dict(self.shed_by),
        }
