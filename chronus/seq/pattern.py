"""A parsed pattern as flat integer tables: cheap to play, to ship and to load.

`notation.parse` evaluates every cycle of a pattern's period once; `Pattern` keeps the result
as one table of int64 (the cycles' events one after another), so the sequencer reads an event
in O(1) and never builds a cycle. `to_bytes` / `from_bytes` carry that table between
processes: the engine's supervisor parses a new pattern, and a slot loads it in the time of a
copy, whatever the pattern (see `chronus.engine.prepared`).

>>> from chronus.seq.notation import parse
>>> p = parse("c3 <[eb3 g3] .>")
>>> again = Pattern.from_bytes(p.to_bytes())
>>> again == p and again.timed(1) == p.timed(1) == ((0, 2, (48,), 100),)
True
>>> [again.ahead[c] for c in range(again.period)]
[0, 0]
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["FORMAT_VERSION", "Event", "Pattern", "Raw"]

FORMAT_VERSION = 1
_HEADER = struct.Struct("=7q")  # version, steps, period, unit, events, notes, text bytes

Raw = tuple[int, int, tuple[int, ...], int]
"""One event in integers: (onset, length, notes, velocity), onset and length in 1/unit steps."""


@dataclass(frozen=True, slots=True)
class Event:
    """One onset within a cycle: a hit (`notes == ()`) or notes sounding together."""

    onset: Fraction  # in steps from the start of the cycle, 0 <= onset < pattern.steps
    length: Fraction  # in steps: the span this event occupies
    notes: tuple[int, ...]  # MIDI notes, ascending; () for a hit
    velocity: int  # 1..127


@dataclass(frozen=True, eq=False)
class Pattern:
    """A parsed pattern: `steps` per cycle, repeating exactly every `period` cycles.

    The events of cycle `c` (of the period) are `starts[c]` to `starts[c + 1]` (exclusive) in
    `onsets`, `lengths` (both in 1/`unit` steps; onsets ascending), `velocities` and
    `note_starts` (event `i`'s notes are `notes[note_starts[i]:note_starts[i + 1]]`, none
    for a hit). `ahead[c]` is how many cycles after `c` the next one with events comes (0 if
    `c` has some), or -1 when no cycle has any. Two patterns are equal when their texts are.
    """

    text: str
    steps: int
    period: int
    unit: int
    starts: memoryview = field(repr=False)
    ahead: memoryview = field(repr=False)
    onsets: memoryview = field(repr=False)
    lengths: memoryview = field(repr=False)
    velocities: memoryview = field(repr=False)
    note_starts: memoryview = field(repr=False)
    notes: memoryview = field(repr=False)
    _table: memoryview = field(repr=False)
    _events: dict[int, tuple[Event, ...]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def build(cls, text: str, steps: int, unit: int, cycles: Sequence[Sequence[Raw]]) -> Pattern:
        """The pattern whose period is `cycles` (each sorted by onset)."""
        starts, onsets, lengths, velocities, note_starts = [0], [], [], [], [0]
        notes: list[int] = []
        for cycle in cycles:
            for onset, length, chord, velocity in cycle:
                onsets.append(onset)
                lengths.append(length)
                velocities.append(velocity)
                notes.extend(chord)
                note_starts.append(len(notes))
            starts.append(len(onsets))
        period = len(cycles)
        filled = [c for c in range(period) if starts[c + 1] > starts[c]]
        ahead = [-1] * period
        if filled:
            following = filled[0] + period
            for c in reversed(range(period)):
                if starts[c + 1] > starts[c]:
                    following = c
                ahead[c] = following - c
        table = array("q", [*starts, *ahead, *onsets, *lengths, *velocities, *note_starts])
        table.extend(notes)
        return cls._of(text, steps, period, unit, len(onsets), memoryview(table))

    @classmethod
    def _of(
        cls, text: str, steps: int, period: int, unit: int, events: int, table: memoryview
    ) -> Pattern:
        views, at = [], 0
        for size in (period + 1, period, events, events, events, events + 1):
            views.append(table[at : at + size])
            at += size
        starts, ahead, onsets, lengths, velocities, note_starts = views
        return cls(
            text, steps, period, unit, starts, ahead, onsets, lengths, velocities,
            note_starts, table[at:], table,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return Pattern.from_bytes, (self.to_bytes(),)

    def to_bytes(self) -> bytes:
        """The whole pattern as bytes that `from_bytes` loads (same machine: native order)."""
        text = self.text.encode()
        events = len(self.onsets)
        head = _HEADER.pack(
            FORMAT_VERSION, self.steps, self.period, self.unit, events, len(self.notes), len(text)
        )
        return head + self._table.tobytes() + text

    @classmethod
    def from_bytes(cls, data: bytes) -> Pattern:
        """Load `to_bytes`' output without copying its tables; raises ValueError if it is not
        one (wrong version or size). Costs the same for any pattern: no event is read."""
        if len(data) < _HEADER.size:
            raise ValueError("not a pattern: too short")
        version, steps, period, unit, events, notes, text_bytes = _HEADER.unpack_from(data)
        words = 2 * period + 1 + 4 * events + 1 + notes
        end = _HEADER.size + 8 * words
        if version != FORMAT_VERSION or min(steps, period, unit) < 1 or events < 0 or notes < 0:
            raise ValueError(f"not a pattern of format {FORMAT_VERSION}")
        if len(data) != end + text_bytes or text_bytes < 0:
            raise ValueError("not a pattern: its size does not match its header")
        table = memoryview(data)[_HEADER.size : end].cast("q")
        text = bytes(data[end:]).decode()
        return cls._of(text, steps, period, unit, events, table)

    def timed(self, cycle: int) -> tuple[Raw, ...]:
        """The events of one cycle (any int) as integers: (onset, length, notes, velocity),
        onset and length in 1/`unit` steps."""
        index = cycle % self.period
        notes, ns = self.notes, self.note_starts
        return tuple(
            (self.onsets[i], self.lengths[i], tuple(notes[ns[i] : ns[i + 1]]), self.velocities[i])
            for i in range(self.starts[index], self.starts[index + 1])
        )

    def events(self, cycle: int) -> tuple[Event, ...]:
        """The events of one cycle (any int), sorted by onset then notes, with exact fractions."""
        index = cycle % self.period
        found = self._events.get(index)
        if found is None:
            unit = self.unit
            found = tuple(
                Event(Fraction(on, unit), Fraction(ln, unit), ns, vel)
                for on, ln, ns, vel in self.timed(index)
            )
            self._events[index] = found
        return found
