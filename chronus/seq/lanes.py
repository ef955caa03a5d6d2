"""Parameter lanes: one value per step of a track, `.` or `~` keeping the last one.

>>> parse_lane("400 800 . 1.6k")
Traceback (most recent call last):
...
ValueError: lane value 4 is '1.6k'; give plain numbers, or . or ~ to keep the last value
>>> parse_lane("400 800 . 1600")
(400.0, 800.0, None, 1600.0)
"""

from __future__ import annotations

import math

__all__ = ["MAX_LANE_STEPS", "parse_lane"]

MAX_LANE_STEPS = 128
HOLD = frozenset({".", "~"})


def parse_lane(text: str) -> tuple[float | None, ...]:
    """The values of a lane, None where a step keeps the previous value.

    Raises `ValueError` with a message a musician can act on.
    """
    words = text.split()
    if not words:
        raise ValueError("a lane needs at least one value")
    if len(words) > MAX_LANE_STEPS:
        raise ValueError(f"a lane has at most {MAX_LANE_STEPS} steps, got {len(words)}")
    values: list[float | None] = []
    for i, word in enumerate(words, 1):
        if word in HOLD:
            values.append(None)
            continue
        try:
            value = float(word)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(
                f"lane value {i} is {word!r}; give plain numbers, or . or ~ to keep the last value"
            )
        values.append(value)
    return tuple(values)
