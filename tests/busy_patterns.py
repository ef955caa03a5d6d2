"""Busy but valid patterns of a few hundred characters, from a seed: the worst a musician types.

Deep nesting, `x*16`, `[x*4]*4`, `<…>` alternations of many cycles, chords, Euclid and
velocities, added one element at a time for as long as the pattern still parses, so that most
of them sit near the notation's limits (period, work, length).

>>> import random
>>> text = busy_pattern(random.Random(1))
>>> 200 <= len(text) <= 500
True
"""

from __future__ import annotations

import random

from chronus.seq.notation import PatternError, parse

__all__ = ["busy_pattern", "busy_patterns", "parses"]

_ATOMS = ("c3", "eb3", "g3", "bb2", "f#3", "d4", "c2", "36", "x", "X", ".", "~")
_PITCHED = _ATOMS[:6]


def _element(rng: random.Random, depth: int = 0) -> str:
    r = rng.random()
    if depth > 4 or r < 0.25:
        text = rng.choice(_ATOMS)
    elif r < 0.35:
        text = "x*16" if rng.random() < 0.5 else f"{rng.choice(_PITCHED)}*{rng.randint(2, 16)}"
    elif r < 0.45:
        inner = f"{_element(rng, depth + 1)} {_element(rng, depth + 1)}"
        text = "[x*4]*4" if rng.random() < 0.5 else f"[{inner}]*{rng.randint(2, 4)}"
    elif r < 0.6:
        items = (_element(rng, depth + 1) for _ in range(rng.randint(2, 8)))
        text = "<" + " ".join(items) + ">"
    elif r < 0.7:
        text = "[" + ",".join(rng.choice(_PITCHED) for _ in range(rng.randint(2, 5))) + "]"
    elif r < 0.8:
        steps = rng.randint(5, 16)
        hit = rng.choice(("x", "c3", "X"))
        return f"{hit}({rng.randint(1, steps)},{steps},{rng.randint(0, 3)})"
    else:
        items = (_element(rng, depth + 1) for _ in range(rng.randint(2, 5)))
        text = "[" + " ".join(items) + "]"
    if rng.random() < 0.2:
        text += f":{rng.randint(1, 127)}"
    return text


def busy_pattern(rng: random.Random, shortest: int = 200, longest: int = 500) -> str:
    """One valid pattern of `shortest`..`longest` characters, grown element by element."""
    while True:
        parts: list[str] = []
        misses = 0
        while misses <= 60:
            element = _element(rng)
            text = " ".join([*parts, element])
            if len(text) > longest or not parses(text):
                misses += 1
                continue
            parts.append(element)
            if len(text) >= shortest:
                return text


def parses(text: str) -> bool:
    """Whether `text` is a pattern the notation accepts."""
    try:
        parse(text)
    except PatternError:
        return False
    return True


def busy_patterns(count: int, seed: int = 13) -> list[str]:
    """`count` busy patterns, the same for the same seed."""
    rng = random.Random(seed)
    return [busy_pattern(rng) for _ in range(count)]
