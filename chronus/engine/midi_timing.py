"""How MIDI events fare on their way in, for the status: the hop from the MIDI process's
arrival to the supervisor's stamping, the part of it until the supervisor read the event
(the MIDI process's send, the kernel, the supervisor's wake-up or the work it was busy
with; the rest is its parsing and translating), the time from the stamping to the
supervisor being done with the event (its commands checked against the patch, in both
slots' command rings, logged), and the room each event had left then (from its stamp back
to the first sample a slot may be rendering; below zero it came late).

The fixed MIDI latency is the device's latency, the slots' lead and a margin for this hop:
these figures say how much of the margin the hops use on this machine.

>>> timings = MidiTimings()
>>> for hop_ms, room_ms in ((0.2, 1.9), (0.3, 1.5), (2.9, -0.4)):
...     timings.record(hop_ms, room_ms, read_ms=hop_ms - 0.1, sent_ms=0.05)
>>> summary = timings.summary()
>>> summary["events"], summary["late"], summary["hop_ms"]["max"], summary["room_ms"]["min"]
(3, 1, 2.9, -0.4)
>>> summary["read_ms"]["max"], summary["sent_ms"]["p50"]
(2.8, 0.05)
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

__all__ = ["KEPT", "MidiTimings"]

KEPT: Final = 2000
"""The latest events the figures are taken from."""


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class MidiTimings:
    """The latest MIDI events' hops and rooms (ms), and counts since the supervisor began."""

    def __init__(self, kept: int = KEPT) -> None:
        self._hops: deque[float] = deque(maxlen=kept)
        self._reads: deque[float] = deque(maxlen=kept)
        self._sends: deque[float] = deque(maxlen=kept)
        self._rooms: deque[float] = deque(maxlen=kept)
        self.events = 0
        self.late = 0

    def record(self, hop_ms: float, room_ms: float, read_ms: float, sent_ms: float) -> None:
        """One event: `hop_ms` from its arrival to its stamping (`read_ms` of it until the
        supervisor read it), `room_ms` left then, `sent_ms` from its stamping to its end."""
        self.events += 1
        self.late += room_ms < 0.0
        self._hops.append(hop_ms)
        self._reads.append(read_ms)
        self._sends.append(sent_ms)
        self._rooms.append(room_ms)

    def summary(self) -> dict[str, Any]:
        """Counts, the p50/p99/max of the hop, its read part and the send, and the room's
        min/p1/p50 (None before any event)."""
        figures: dict[str, Any] = {"events": self.events, "late": self.late}
        if not self._hops:
            return {**figures, "hop_ms": None, "read_ms": None, "sent_ms": None, "room_ms": None}
        for name, kept in (
            ("hop_ms", self._hops),
            ("read_ms", self._reads),
            ("sent_ms", self._sends),
        ):
            ordered = sorted(kept)
            figures[name] = {
                "p50": round(_quantile(ordered, 0.5), 3),
                "p99": round(_quantile(ordered, 0.99), 3),
                "max": round(ordered[-1], 3),
            }
        rooms = sorted(self._rooms)
        figures["room_ms"] = {
            "min": round(rooms[0], 3),
            "p1": round(_quantile(rooms, 0.01), 3),
            "p50": round(_quantile(rooms, 0.5), 3),
        }
        return figures
