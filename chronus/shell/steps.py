"""Where a track is in its pattern at a beat, and what each step of a cycle holds.

The same arithmetic as `chronus.seq.track`, read backwards: a track plays cycle 0 of its
pattern from its anchor (a bar line: beat 0 when the transport started, else the bar its
pattern came in on), one step every 4/division beats, `steps` per cycle. Swing lengthens the
first step of each pair (counted from the anchor) by `swing` of a step and shortens the second
as much. A lane has its own length and is read at the absolute step, so it drifts against a
pattern of another length (polymeter).

>>> at = position(parse_cached("c2 <eb2 g2>"), Fraction(1, 4), Fraction(1, 4), 0, Fraction(0))
>>> at.step, at.cycle, at.absolute
(0, 1, 2)
>>> step_cells(parse_cached("x [x x] c3 ."), 0)
('x', 'xx', 'c3', '·')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from chronus.lang.music import note_name
from chronus.seq.notation import ACCENT_VELOCITY, PatternError, parse_cached
from chronus.seq.pattern import Pattern

__all__ = [
    "REST",
    "Position",
    "TrackView",
    "lane_cells",
    "parse_cached",
    "position",
    "step_cells",
    "step_widths",
    "track_view",
]

REST = "·"
"""What an empty step shows."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a track is: the cycle of its period, the step in that cycle, and the step
    counted from the anchor (what lanes are read at)."""

    cycle: int
    step: int
    absolute: int


def position(
    pattern: Pattern, beat: Fraction, step_beats: Fraction, swing: float, anchor: Fraction
) -> Position | None:
    """The step sounding at `beat`, or None before the anchor."""
    since = beat - anchor
    if since < 0:
        return None
    pair = math.floor(since / (2 * step_beats))
    within = since - pair * 2 * step_beats
    late = 1 if within >= (1 + Fraction(swing)) * step_beats else 0
    absolute = 2 * pair + late
    cycle, step = divmod(absolute, pattern.steps)
    return Position(cycle % pattern.period, step, absolute)


@lru_cache(maxsize=1024)
def step_cells(pattern: Pattern, cycle: int) -> tuple[str, ...]:
    """What each step of one cycle plays, short: `x`/`X` hits, note names, `·` rests;
    a split step lists its parts (`xx`, `eb2 g2`), a chord its root and `+` the rest.
    Kept for the next frame of a live grid."""
    parts: list[list[str]] = [[] for _ in range(pattern.steps)]
    for event in pattern.events(cycle):
        step = math.floor(event.onset)
        if not event.notes:
            parts[step].append("X" if event.velocity >= ACCENT_VELOCITY else "x")
        elif len(event.notes) == 1:
            parts[step].append(note_name(event.notes[0]))
        else:
            parts[step].append(f"{note_name(event.notes[0])}+{len(event.notes) - 1}")
    cells = []
    for words in parts:
        if not words:
            cells.append(REST)
        elif all(word in ("x", "X") for word in words):
            cells.append("".join(words) if len(words) <= 4 else f"{len(words)}x")
        else:
            cells.append(" ".join(words) if len(words) <= 2 else f"{words[0]} …{len(words)}")
    return tuple(cells)


@lru_cache(maxsize=256)
def step_widths(pattern: Pattern) -> tuple[int, ...]:
    """Each step's widest cell over the cycles of the pattern's period."""
    cycles = [step_cells(pattern, cycle) for cycle in range(pattern.period)]
    return tuple(max(len(cells[step]) for cells in cycles) for step in range(pattern.steps))


@lru_cache(maxsize=1024)
def lane_cells(text: str) -> tuple[str, ...]:
    """A lane's values, short (1600 → 1.6k), `·` where a step keeps the last value."""
    cells = []
    for word in text.split():
        try:
            value = float(word)
        except ValueError:
            cells.append(REST)
            continue
        cells.append(f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}")
    return tuple(cells)


@dataclass(frozen=True, slots=True)
class TrackView:
    """One track of a dump as the grid shows it."""

    module_id: str
    pattern: Pattern
    division: int
    swing: float
    running: bool
    lanes: tuple[tuple[str, tuple[str, ...]], ...]
    anchor: Fraction

    @property
    def step_beats(self) -> Fraction:
        """One step in beats."""
        return Fraction(4, self.division)

    def at(self, beat: float | None) -> Position | None:
        """The step sounding at `beat`; None when stopped, before its anchor, or unknown."""
        if beat is None or not self.running or not math.isfinite(beat):
            return None
        return position(self.pattern, Fraction(beat), self.step_beats, self.swing, self.anchor)


def track_view(module_id: str, entry: Any) -> TrackView | None:
    """A dump's track entry as a `TrackView`; None if it has no pattern (or a bad one).

    The engine's dump does not say where a pattern's cycle 0 is; an entry's `anchor` (beat,
    which `anchors.Anchors` adds) is read where present, else cycle 0 is taken to start at
    beat 0, as when the transport started with the pattern in it.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("pattern"), str):
        return None
    try:
        pattern = parse_cached(entry["pattern"])
    except PatternError:
        return None
    division = entry.get("division", 16)
    division = int(division) if isinstance(division, int | float) and division >= 1 else 16
    swing = entry.get("swing", 0.0)
    swing = float(swing) if isinstance(swing, int | float) and 0 <= swing < 1 else 0.0
    anchor = entry.get("anchor", 0)
    anchor = Fraction(anchor) if isinstance(anchor, int | float) else Fraction(0)
    lanes = entry.get("lanes")
    lanes = lanes if isinstance(lanes, dict) else {}
    return TrackView(
        module_id,
        pattern,
        division,
        swing,
        entry.get("running", True) is not False,
        tuple((str(name), lane_cells(str(text))) for name, text in lanes.items()),
        anchor,
    )
