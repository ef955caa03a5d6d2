"""The musical vocabulary of the language: units, note names, chords, note values and how
much "faster" is. Pure functions and tables; the transformer and the mapper read them.
"""

from __future__ import annotations

import re

from chronus.lang.vocabulary import CHORD_QUALITIES

__all__ = [
    "CHORDS",
    "QUALITY_WORDS",
    "SCALES",
    "TEMPO_FACTORS",
    "UNIT_WORDS",
    "division_of",
    "is_note",
    "note_name",
    "note_to_midi",
    "pitch_class",
]

UNIT_WORDS: dict[str, str] = {
    "hz": "hz", "khz": "khz", "k": "khz",
    "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "db": "db", "%": "%",
    "beat": "beats", "beats": "beats", "bar": "bars", "bars": "bars",
    "step": "steps", "steps": "steps", "16th": "steps", "16ths": "steps",
}  # fmt: skip
"""Every unit spelling the grammar accepts → its canonical name."""

TEMPO_FACTORS: dict[tuple[str, str | None], float] = {
    ("faster", None): 1.10, ("faster", "bit"): 1.05, ("faster", "much"): 1.25,
    ("slower", None): 0.90, ("slower", "bit"): 0.95, ("slower", "much"): 0.75,
}  # fmt: skip
"""Relative tempo: ±10 %, "a bit" ±5 %, "much" ±25 %."""

CHORDS: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 7), "minor": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
    "dom7": (0, 4, 7, 10), "dim7": (0, 3, 6, 9),
}  # fmt: skip
"""Chord qualities → semitones above the root."""

QUALITY_WORDS = {word: name for word, name in CHORD_QUALITIES.items() if word != name}
"""Other spellings of chord qualities (the table is `vocabulary.CHORD_QUALITIES`)."""

SCALES = {"major": "major", "minor": "minor"}

_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}

_NOTE_RE = re.compile(r"([a-g])(#|b|s)?(-?[0-9]{1,2})", re.IGNORECASE)

_PITCH_RE = re.compile(r"([a-g])(#|b|[ \t]*-?sharp|[ \t]*-?flat)?", re.IGNORECASE)

_DIVISIONS = {
    "quarter": 4, "quarters": 4, "eighth": 8, "eighths": 8, "sixteenth": 16,
    "sixteenths": 16, "thirtysecond": 32, "thirtyseconds": 32,
}  # fmt: skip


def note_to_midi(text: str) -> int:
    """MIDI number of a note name, c4 = 60 (`eb2` → 39, `f#3` → 54); may fall outside 0–127.

    >>> note_to_midi("C#4"), note_to_midi("bb1"), note_to_midi("c-1")
    (61, 34, 0)
    """
    match = _NOTE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a note: {text!r}")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "s": 1, "b": -1}.get((accidental or "").lower(), 0)
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter.lower()] + shift


def note_name(midi: float) -> str:
    """The name of a MIDI note (60 → c4, 63 → eb4).

    >>> note_name(39), note_name(61)
    ('eb2', 'c#4')
    """
    letters = ("c", "c#", "d", "eb", "e", "f", "f#", "g", "ab", "a", "bb", "b")
    return f"{letters[int(midi) % 12]}{int(midi) // 12 - 1}"


def pitch_class(text: str) -> int:
    """0–11 for a pitch without octave (`c` → 0, `eb` → 3, `f#` → 6, `f sharp` → 6).

    >>> pitch_class("B flat"), pitch_class("c-sharp")
    (10, 1)
    """
    match = _PITCH_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a pitch: {text!r}")
    letter, accidental = match.groups()
    sign = (accidental or "").lower().lstrip(" \t-")
    shift = {"#": 1, "sharp": 1, "b": -1, "flat": -1}.get(sign, 0)
    return (_PITCH_CLASS[letter.lower()] + shift) % 12


def division_of(text: str, triplet: bool) -> int:
    """Steps per whole note of a note value: `16th` → 16, `1/8` → 8, `8th` triplet → 12.

    >>> division_of("16th", False), division_of("1/8", False), division_of("8th", True)
    (16, 8, 12)
    """
    word = re.sub(r"[ \t]+notes?$", "", text.strip().lower()).replace("-", "")
    if word.startswith("1/"):
        straight = int(word[2:])
    elif word in _DIVISIONS:
        straight = _DIVISIONS[word]
    else:
        straight = int(re.match(r"[0-9]+", word).group())  # type: ignore[union-attr]
    return straight * 3 // 2 if triplet else straight


def is_note(text: str) -> bool:
    """Whether `text` is one note name with an octave (`c3`, `eb2`, `f#-1`)."""
    return _NOTE_RE.fullmatch(text) is not None
