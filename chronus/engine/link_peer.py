"""chronus's peer in an Ableton Link session (through `aalink`), read by polling.

One object with a lifecycle: `open` joins the session (peers on this machine and network
find each other by multicast), `close` leaves it. `aalink` wants an asyncio loop for its
callbacks; the supervisor serves with a selector, not asyncio, and sets no callback, so
the peer gets a private loop that never runs, and everything is read when asked for: the
beat (`reading`), the tempo, the count of peers, whether the session plays (with start/stop
sync on). Link keeps its own thread for the network.

Link's clock is the host's raw monotonic clock; the engine's is `time.monotonic_ns`. A
reading pairs the session's beat "now" with the monotonic time between two reads of it, the
tightest of a few tries, so the two clocks never need to agree.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from chronus.engine.link_phase import LinkReading

__all__ = ["DEFAULT_QUANTUM", "LinkPeer"]

DEFAULT_QUANTUM: Final = 4
"""Beats in the phase peers agree on (Link's own default, a bar of 4/4)."""
_TRIES: Final = 3


class LinkPeer:
    """chronus in a Link session: join, read the timeline, set the tempo, leave."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link: object | None = None
        self.quantum = DEFAULT_QUANTUM
        self.start_stop = False
        """Whether the session's start/stop is shared (Link's start/stop sync)."""

    @property
    def joined(self) -> bool:
        """Whether the peer is in the session."""
        return self._link is not None

    def open(self, bpm: float, quantum: int | None = None) -> None:
        """Join the session, proposing `bpm` (a session that has peers keeps its own)."""
        if self._link is not None:
            return
        from aalink import Link  # the native library loads only when Link is used

        async def make() -> object:
            return Link(float(bpm))

        loop = asyncio.new_event_loop()
        link = loop.run_until_complete(make())
        self._loop, self._link = loop, link
        self.set_quantum(self.quantum if quantum is None else quantum)
        self.set_start_stop(self.start_stop)
        link.enabled = True  # type: ignore[attr-defined]

    def close(self) -> None:
        """Leave the session (no-op if not in one)."""
        link, loop = self._link, self._loop
        self._link = self._loop = None
        if link is not None:
            link.enabled = False  # type: ignore[attr-defined]
        if loop is not None:
            loop.close()

    def set_quantum(self, beats: int) -> None:
        """The phase peers agree on, in beats."""
        self.quantum = int(beats)
        if self._link is not None:
            self._link.quantum = float(beats)  # type: ignore[attr-defined]

    def set_start_stop(self, on: bool) -> None:
        """Share the session's start/stop (or not): kept while out of the session."""
        self.start_stop = bool(on)
        if self._link is not None:
            self._link.start_stop_sync_enabled = self.start_stop  # type: ignore[attr-defined]

    @property
    def playing(self) -> bool:
        """Whether the session plays (False when not in one)."""
        return bool(self._link.playing) if self._link is not None else False  # type: ignore[attr-defined]

    def set_playing(self, playing: bool) -> None:
        """Start or stop the session (its peers with start/stop sync follow)."""
        assert self._link is not None
        self._link.playing = bool(playing)  # type: ignore[attr-defined]

    @property
    def peers(self) -> int:
        """Other peers in the session (0 when alone or not in one)."""
        return int(self._link.num_peers) if self._link is not None else 0  # type: ignore[attr-defined]

    @property
    def bpm(self) -> float:
        """The session's tempo."""
        assert self._link is not None
        return float(self._link.tempo)  # type: ignore[attr-defined]

    def set_bpm(self, bpm: float) -> None:
        """Change the session's tempo: every peer follows."""
        assert self._link is not None
        self._link.tempo = float(bpm)  # type: ignore[attr-defined]

    def reading(self) -> LinkReading:
        """The session's beat now, at the monotonic time it was read, and its tempo."""
        link = self._link
        assert link is not None
        best_span, best = -1, (0, 0.0)
        for _ in range(_TRIES):
            before = time.monotonic_ns()
            beat = float(link.beat)  # type: ignore[attr-defined]
            after = time.monotonic_ns()
            if best_span < 0 or after - before < best_span:
                best_span, best = after - before, ((before + after) // 2, beat)
        return LinkReading(best[0], best[1], self.bpm)
