"""Engine events for clients: what happened, each once, in order.

The supervisor keeps the latest few; `/engine/now` carries them, so a client that polls
shows each event once (by its `serial`, which only rises while the engine runs) and one
that attaches late skips what came before it.

>>> news = News(keep=2)
>>> news.add("failover", "slot A died; slot B took over")
>>> news.add("recording", "recorded 2.0 s to take.wav")
>>> news.add("plugin", "plugin fuzz quarantined")
>>> [(e["serial"], e["kind"]) for e in news.latest()]
[(2, 'recording'), (3, 'plugin')]
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = ["KINDS", "News"]

KINDS: Final = ("failover", "quarantine", "recording", "plugin", "slot", "engine", "midi")
"""What an event is about: a slot taken over by its standby, a module quarantined, a
recording that ended, a plugin suspended or quarantined, any other slot event (a respawn,
a rejoin), anything else of the engine's (its template), MIDI in (a port read, or lost)."""


class News:
    """The latest `keep` events, each a dict: `serial` (int, rising from 1), `kind` (one of
    `KINDS`), `text` (one human line), and `about` when told (what the event concerns, as a
    client named it: a recording's file name)."""

    def __init__(self, keep: int = 16) -> None:
        self._events: deque[dict[str, int | str]] = deque(maxlen=keep)
        self._serial = 0

    def add(self, kind: str, text: str, about: str = "") -> None:
        """Tell an event. A kind not in `KINDS` is told as the engine's, with its name in
        the text: an event is worth more than the exactness of its kind, and telling one must
        never stop the supervisor that tells it."""
        if kind not in KINDS:
            text, kind = f"({kind}) {text}", "engine"
        self._serial += 1
        event: dict[str, int | str] = {"serial": self._serial, "kind": kind, "text": text}
        if about:
            event["about"] = about
        self._events.append(event)

    @property
    def serial(self) -> int:
        """The serial of the last event told (0: none yet)."""
        return self._serial

    def latest(self) -> list[dict[str, int | str]]:
        """The events kept, oldest first (copies)."""
        return [dict(event) for event in self._events]
