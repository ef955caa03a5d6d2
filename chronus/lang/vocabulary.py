"""The words musicians use, as data: synonyms and idioms, one table per family.

The grammar's keyword alternations are generated from these tables (`grammar_terminals`,
filled into the `@NAME@` slots of `grammar/chronus.lark`), the transformer turns the matched
words into canonical ones with the look-ups below, and the frame reader
(`chronus.lang.frames`) reads lines the grammar does not cover with the same tables. A word
added here is understood everywhere at once; nothing else in the language lists these words.

>>> module_type("echo"), module_type("hi-hat"), module_type("808 kick"), module_type("bass")
('delay', 'hat', 'kick', None)
>>> INTERVALS["fifth"], mute_word("take out"), comparative("warmer")
(7, ('mute', 1.0), 'darker')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import TypeVar

_T = TypeVar("_T")

__all__ = [
    "ADD_OR_UNMUTE",
    "ADJECTIVES",
    "CHORD_QUALITIES",
    "COMPARATIVES",
    "DEGREES",
    "DIRECTIONS",
    "EVERYTHING",
    "FAMILIES",
    "FILLERS",
    "INTERVALS",
    "MAKING_VERBS",
    "MIX_WORDS",
    "MODULE_WORDS",
    "PARTICLES",
    "REMOVE_WORDS",
    "RHYTHMS",
    "ROUTE_VERBS",
    "SIZES",
    "TEMPO_CHANGES",
    "TEMPO_WORDS",
    "VAGUE",
    "chord_quality",
    "comparative",
    "degree",
    "grammar_phrases",
    "grammar_terminals",
    "interval",
    "known_words",
    "module_type",
    "mute_word",
    "phrase_regex",
    "rhythm",
    "tempo_change",
    "with_article",
]

# ---- verbs of making ------------------------------------------------------------------------
MAKING_VERBS: tuple[str, ...] = (
    "add", "create", "make", "give me", "gimme", "i want", "i need", "i'd like", "id like",
    "let's have", "lets have", "let's add", "lets add", "let's get", "lets get",
    "can i have", "can i get", "can we have", "can we get", "put in", "throw in", "insert",
    "add in", "get me",
)  # fmt: skip
"""Verbs that create a module: `give me a saw bass` is `add a saw bass`."""

ADD_OR_UNMUTE: tuple[str, ...] = ("bring in",)
"""Verbs that add a module of a type, or unmute one the patch has (`bring in the kick`):
only the patch tells which, so the frame reader reads them, never the grammar."""

ROUTE_VERBS: tuple[str, ...] = ("run", "send", "put", "pass", "feed", "route")
"""Verbs before a through-chain: `run it through some distortion`."""

# ---- module words -----------------------------------------------------------------------------
MODULE_WORDS: dict[str, str] = {
    "sawtooth": "saw", "saw wave": "saw", "sine wave": "sine", "square wave": "square",
    "triangle wave": "triangle", "white noise": "noise",
    "pink noise": "pink",
    "echo": "delay", "echoes": "delay", "delays": "delay",
    "space": "reverb", "room": "reverb", "hall": "reverb", "verb": "reverb",
    "reverbs": "reverb",
    "drive": "distortion", "fuzz": "distortion", "overdrive": "distortion",
    "dirt": "distortion", "crunch": "distortion", "dist": "distortion",
    "saturation": "distortion",
    "filter": "lowpass", "lpf": "lowpass", "low pass": "lowpass", "low-pass": "lowpass",
    "hpf": "highpass", "high pass": "highpass", "high-pass": "highpass",
    "bpf": "bandpass", "band pass": "bandpass", "band-pass": "bandpass",
    "acid filter": "acid",
    "bass drum": "kick", "bd": "kick", "808 kick": "kick", "kick drum": "kick",
    "kicks": "kick",
    "hats": "hat", "hi-hat": "hat", "hi-hats": "hat", "hihat": "hat", "hihats": "hat",
    "hi hat": "hat", "hi hats": "hat", "hh": "hat",
    "clap": "snare", "claps": "snare", "snare drum": "snare", "sd": "snare",
    "snares": "snare",
}  # fmt: skip
"""Words for a module type → the type (the type names themselves need no entry)."""

SIZES: dict[str, dict[str, tuple[tuple[str, float], ...]]] = {
    "reverb": {
        "big": (("room", 0.9),), "large": (("room", 0.9),), "long": (("room", 0.9),),
        "huge": (("room", 0.97), ("mix", 0.45)), "massive": (("room", 0.97), ("mix", 0.45)),
        "small": (("room", 0.25),), "short": (("room", 0.25),), "tight": (("room", 0.15),),
        "little": (("mix", 0.15),),  # `add a little reverb`: a little of it
    },
    "delay": {
        "long": (("feedback", 0.65),), "big": (("feedback", 0.65),),
        "short": (("feedback", 0.2),), "little": (("mix", 0.2),),
        "slapback": (("time", 110.0), ("feedback", 0.1)),
    },
}  # fmt: skip
"""Words of size before an effect (`add a big reverb`) → the values it starts with."""

# ---- quantities ---------------------------------------------------------------------------------
DEGREES: dict[str, str] = {
    "bit": "bit", "little": "bit", "slightly": "bit", "tad": "bit", "touch": "bit",
    "smidge": "bit", "tiny": "bit",
    "much": "much", "lot": "much", "way": "much", "far": "much", "heaps": "much",
    "loads": "much", "lots": "much", "tons": "much",
}  # fmt: skip
"""How much: "bit" is small (half the normal step), "much" large (2.5 times it)."""

# ---- directions ------------------------------------------------------------------------------
COMPARATIVES: dict[str, str] = {
    "darker": "darker", "warmer": "darker", "duller": "darker", "mellower": "darker",
    "brighter": "brighter", "sharper": "brighter", "crisper": "brighter",
    "louder": "louder", "quieter": "quieter", "softer": "quieter",
    "wetter": "wetter", "drier": "drier", "dryer": "drier",
    "faster": "faster", "slower": "slower", "quicker": "faster",
    "wider": "wider", "broader": "wider", "narrower": "narrower",
    "dirtier": "dirtier", "grittier": "dirtier", "fuzzier": "dirtier", "cleaner": "cleaner",
    "squelchier": "squelchier", "more squelchy": "squelchier", "more resonant": "squelchier",
    "less squelchy": "less squelchy", "less resonant": "less squelchy",
}  # fmt: skip
"""One-word changes → the relative change they make (see `chronus.lang.relative`)."""

DIRECTIONS: dict[str, tuple[str, str]] = {
    "turn up": ("up", "level"), "turn down": ("down", "level"),
    "bring up": ("up", "level"), "bring down": ("down", "level"),
    "push up": ("up", "level"), "push": ("up", "level"), "pull back": ("down", "level"),
    "pull down": ("down", "level"), "crank up": ("up", "level"), "crank": ("up", "level"),
    "raise": ("up", "level"), "lower": ("down", "level"),
    "boost": ("up", "level"), "reduce": ("down", "level"),
    "more": ("up", "level"), "less": ("down", "level"),
    "increase": ("up", "level"), "decrease": ("down", "level"),
    "up": ("up", "level"), "down": ("down", "level"),
    "louder": ("up", "level"), "quieter": ("down", "level"), "softer": ("down", "level"),
    "open": ("up", "tone"), "open up": ("up", "tone"), "close": ("down", "tone"),
    "close down": ("down", "tone"),
    "brighter": ("up", "tone"), "darker": ("down", "tone"), "warmer": ("down", "tone"),
    "duller": ("down", "tone"), "mellower": ("down", "tone"), "sharper": ("up", "tone"),
    "crisper": ("up", "tone"),
    "too loud": ("down", "level"), "too quiet": ("up", "level"), "too soft": ("up", "level"),
    "too bright": ("down", "tone"), "too harsh": ("down", "tone"), "too dark": ("up", "tone"),
    "too dull": ("up", "tone"), "too muddy": ("up", "tone"), "too wet": ("down", "wet"),
    "too dry": ("up", "wet"), "too fast": ("down", "tempo"), "too slow": ("up", "tempo"),
    "wetter": ("up", "wet"), "drier": ("down", "wet"), "dryer": ("down", "wet"),
    "speed up": ("up", "tempo"), "slow down": ("down", "tempo"),
    "faster": ("up", "tempo"), "slower": ("down", "tempo"), "quicker": ("up", "tempo"),
    "wider": ("up", "width"), "broader": ("up", "width"), "narrower": ("down", "width"),
    "too wide": ("down", "width"), "too narrow": ("up", "width"),
}  # fmt: skip
"""Phrasal verbs and comparatives → (up or down, what they move when no parameter is named:
the level, the tone (a cutoff), the wet mix, the stereo width, or the tempo). The frame
reader reads them, in either order: `turn up the hats`, `turn the hats up`; "too …" says
which way to go back (`the hats are too loud` is quieter)."""

ADJECTIVES: dict[str, tuple[str, str]] = {
    "loud": ("up", "level"), "quiet": ("down", "level"), "soft": ("down", "level"),
    "bright": ("up", "tone"), "dark": ("down", "tone"), "warm": ("down", "tone"),
    "wet": ("up", "wet"), "dry": ("down", "wet"),
    "wide": ("up", "width"), "narrow": ("down", "width"),
}  # fmt: skip
"""Adjectives after "make" (`make it loud` is louder); alone they are no command."""

VAGUE: frozenset[str] = frozenset({
    "more", "less", "up", "down", "increase", "decrease", "raise", "lower", "boost", "reduce",
    "push", "crank",
})  # fmt: skip
"""Directions that need something to move: a bare `more` or `up` is no command."""

FAMILIES: dict[str, str] = {
    "filter": "filter", "filters": "filter", "drums": "drum", "drum": "drum", "beat": "drum",
    "synth": "synth", "synths": "synth",
}  # fmt: skip
"""Words for every module of a kind (`kill the drums`, `open the filter`)."""

PARTICLES: dict[str, tuple[str, ...]] = {
    "turn": ("up", "down", "off", "on"), "bring": ("up", "down", "back", "in"), "push": ("up",),
    "pull": ("back", "down"), "crank": ("up",), "open": ("up",), "close": ("down",),
    "speed": ("up",), "slow": ("down",), "take": ("out",), "put": ("back", "in"),
    "cut": ("out",), "knock": ("out",), "switch": ("off", "on"),
}  # fmt: skip
"""Phrasal verbs that may be split by their object: `bring the kick back` is `bring back`."""

# ---- mute words --------------------------------------------------------------------------------
MIX_WORDS: dict[str, tuple[str, float]] = {
    "mute": ("mute", 1.0), "drop": ("mute", 1.0), "kill": ("mute", 1.0),
    "cut": ("mute", 1.0), "lose": ("mute", 1.0), "silence": ("mute", 1.0),
    "take out": ("mute", 1.0), "cut out": ("mute", 1.0), "knock out": ("mute", 1.0),
    "turn off": ("mute", 1.0), "switch off": ("mute", 1.0), "off": ("mute", 1.0),
    "unmute": ("mute", 0.0), "bring back": ("mute", 0.0), "put back": ("mute", 0.0),
    "back": ("mute", 0.0),
    "turn on": ("mute", 0.0), "switch on": ("mute", 0.0),
    "solo": ("solo", 1.0), "unsolo": ("solo", 0.0),
}  # fmt: skip
"""Words that mute, unmute or solo a module → (parameter, value)."""

REMOVE_WORDS: tuple[str, ...] = ("remove", "delete", "get rid of", "throw out", "ditch")
"""Words that take a module out of the patch (`get rid of the reverb`); the frame reader
reads them when the module is named by a type word or a plural."""

EVERYTHING: tuple[str, ...] = ("everything", "all", "whole thing", "the whole thing", "the lot")
"""Words for every module at once (`mute everything`)."""

# ---- tempo ----------------------------------------------------------------------------------
TEMPO_WORDS: tuple[str, ...] = ("tempo", "speed", "pace")
"""Nouns for the tempo (`speed 128`, `set the pace to 90`); "bpm" is the unit."""

TEMPO_CHANGES: dict[str, str] = {
    "speed up": "faster", "speed it up": "faster", "speed things up": "faster",
    "pick up the pace": "faster", "pick it up": "faster",
    "slow down": "slower", "slow it down": "slower", "slow things down": "slower",
}  # fmt: skip
"""Phrases that change the tempo like `faster` and `slower` do."""

# ---- intervals and chords ---------------------------------------------------------------------
INTERVALS: dict[str, int] = {
    "semitone": 1, "semitones": 1, "semi": 1, "semis": 1, "st": 1, "half step": 1,
    "half steps": 1, "tone": 2, "tones": 2, "whole tone": 2, "whole step": 2,
    "whole steps": 2, "minor third": 3, "major third": 4, "third": 4, "fourth": 5,
    "perfect fourth": 5, "tritone": 6, "fifth": 7, "perfect fifth": 7, "minor sixth": 8,
    "major sixth": 9, "sixth": 9, "octave": 12, "octaves": 12,
}  # fmt: skip
"""Interval words → semitones (a bare "third" is a major third). A count multiplies them:
`up 2 octaves`, `down 3 semitones`."""

CHORD_QUALITIES: dict[str, str] = {
    "major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor",
    "dim": "dim", "diminished": "dim", "aug": "aug", "augmented": "aug",
    "sus2": "sus2", "sus4": "sus4", "suspended": "sus4",
    "maj7": "maj7", "major seventh": "maj7", "major 7th": "maj7", "major 7": "maj7",
    "min7": "min7", "m7": "min7", "minor seventh": "min7", "minor 7th": "min7",
    "minor 7": "min7",
    "dom7": "dom7", "7": "dom7", "7th": "dom7", "seventh": "dom7",
    "dominant seventh": "dom7", "dominant 7th": "dom7",
    "dim7": "dim7", "diminished seventh": "dim7",
}  # fmt: skip
"""Chord quality words → the names of `chronus.lang.music.CHORDS`."""

# ---- rhythm idioms -----------------------------------------------------------------------------
_FOUR = "x . . . x . . . x . . . x . . ."
_OFF = ". . x . . . x . . . x . . . x ."
_BACK = ". . . . x . . . . . . . x . . ."
_HALF = "x . . . . . . . x . . . . . . ."

RHYTHMS: dict[str, str] = {
    "four on the floor": _FOUR, "four to the floor": _FOUR, "on every beat": _FOUR,
    "on the beat": _FOUR, "every beat": _FOUR,
    "on the off-beats": _OFF, "on the off-beat": _OFF, "off-beats": _OFF,
    "on the upbeats": _OFF, "on the ands": _OFF,
    "backbeat": _BACK, "on the backbeat": _BACK, "on 2 and 4": _BACK,
    "on two and four": _BACK,
    "every other beat": _HALF, "on every other beat": _HALF,
    "on 1 and 3": _HALF, "on one and three": _HALF,
}  # fmt: skip
"""Rhythm idioms → a one-bar pattern of 16th steps (`kick four on the floor`). In a phrase,
"the" may be left out and "off-beats" written "offbeats" or "off beats"."""

FILLERS: frozenset[str] = frozenset({
    "a", "an", "the", "please", "now", "just", "some", "could", "would", "you", "can",
    "lets", "let's", "pls", "plz", "ok", "okay", "yeah", "hey", "maybe", "of",
    "me", "us", "we", "i", "to", "on", "in", "with", "for", "by", "at", "my", "our", "its",
    "it's", "sound", "sounds", "again", "too", "also", "there", "really", "go", "get", "and",
    "is", "are", "kinda",
})  # fmt: skip
"""Words the frame reader may skip: they carry no meaning of their own in a command."""


# ---- look-ups -------------------------------------------------------------------------------
def with_article(word: str) -> str:
    """`a saw`, `an acid`: a word with its indefinite article."""
    return f"{'an' if word[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {word}"


def _find(table: dict[str, _T], text: str) -> _T:
    """The entry of a phrase as the grammar matched it: any case and blanks, "-" or not,
    an article left out."""
    index = _INDEXES.get(id(table))
    if index is None:
        index = _INDEXES[id(table)] = {_squash(phrase): value for phrase, value in table.items()}
    return index[_squash(text)]  # type: ignore[return-value]


_INDEXES: dict[int, dict[str, object]] = {}
_ARTICLES = re.compile(r"\b(?:the|an?)\b|[^a-z0-9'#%]")


def _squash(text: str) -> str:
    """A phrase as one key: lower case, without articles, blanks or hyphens."""
    return _ARTICLES.sub("", text.lower())


@cache
def known_words() -> frozenset[str]:
    """Every single word of the tables (a word the language knows is no misspelt command)."""
    tables: tuple[Iterable[str], ...] = (
        MAKING_VERBS, ADD_OR_UNMUTE, ROUTE_VERBS, MODULE_WORDS, DEGREES, COMPARATIVES,
        DIRECTIONS, MIX_WORDS, EVERYTHING, TEMPO_WORDS, TEMPO_CHANGES, INTERVALS, RHYTHMS,
        REMOVE_WORDS, ADJECTIVES, FAMILIES,
    )  # fmt: skip
    return frozenset(word for table in tables for phrase in table for word in phrase.split())


def module_type(word: str) -> str | None:
    """The module type a word names (`echo` → delay), or None: a type's own name is not
    in the table, so `module_type("saw")` is None (it is a type already)."""
    try:
        return _find(MODULE_WORDS, word)
    except KeyError:
        return None


def mute_word(word: str) -> tuple[str, float]:
    """(parameter, value) of a mute word: `take out` → ("mute", 1.0)."""
    return _find(MIX_WORDS, word)


def comparative(word: str) -> str:
    """The canonical comparative of a word (`warmer` → darker)."""
    return _find(COMPARATIVES, word)


def degree(word: str) -> str:
    """ "bit" or "much" for a degree word (`touch` → bit)."""
    return _find(DEGREES, word)


def tempo_change(phrase: str) -> str:
    """ "faster" or "slower" for a tempo phrase (`slow it down` → slower)."""
    return _find(TEMPO_CHANGES, phrase)


def interval(word: str) -> int:
    """Semitones of an interval word (`perfect fifth` → 7)."""
    return _find(INTERVALS, word)


def chord_quality(word: str) -> str:
    """The chord name of a quality word (`minor seventh` → min7)."""
    return _find(CHORD_QUALITIES, word)


def rhythm(phrase: str) -> str:
    """The pattern of a rhythm idiom as typed (`Four on floor`)."""
    return _find(RHYTHMS, phrase)


# ---- the grammar's alternations --------------------------------------------------------------
_OPTIONAL = frozenset({"the", "a", "an"})


def phrase_regex(phrases: Iterable[str]) -> str:
    """One regex alternation of phrases, longest first: any blanks between words, "-", a
    blank or nothing inside a hyphenated word, and an article that may be left out.

    >>> import re
    >>> bool(re.fullmatch(phrase_regex(["four on the floor"]), "four on  floor"))
    True
    """
    out = []
    for phrase in sorted(set(phrases), key=lambda p: (-len(p), p)):
        words = phrase.split()
        parts = [_word_regex(words[0])]
        for word in words[1:]:
            if word in _OPTIONAL:
                parts.append(f"(?:[ \\t]+{_word_regex(word)})?")
            else:
                parts.append(f"[ \\t]+{_word_regex(word)}")
        out.append("".join(parts))
    return "(?:" + "|".join(out) + ")"


def _word_regex(word: str) -> str:
    return r"[- \t]?".join(re.escape(piece) for piece in word.split("-"))


def grammar_phrases() -> dict[str, tuple[str, ...]]:
    """The `@NAME@` slots of the grammar → the words and phrases each matches."""
    multi_word_types = [w for w in MODULE_WORDS if " " in w or "-" in w or w[0].isdigit()]
    return {
        "MAKING": tuple(v for v in MAKING_VERBS if v not in ("add", "create", "make")),
        "TYPE_PHRASES": tuple(multi_word_types),
        "ROUTE_VERBS": tuple(ROUTE_VERBS),
        "DEGREE_BIT": tuple(w for w, d in DEGREES.items() if d == "bit"),
        "DEGREE_MUCH": tuple(w for w, d in DEGREES.items() if d == "much"),
        "COMPARATIVES": tuple(COMPARATIVES),
        "MIX_WORDS": tuple(MIX_WORDS),
        "TEMPO_WORDS": tuple(TEMPO_WORDS),
        "TEMPO_CHANGES": tuple(TEMPO_CHANGES),
        "INTERVALS": tuple(INTERVALS),
        "QUALITIES": tuple(CHORD_QUALITIES),
        "RHYTHMS": tuple(RHYTHMS),
    }


def grammar_terminals() -> dict[str, str]:
    """The `@NAME@` slots of the grammar → their regex alternations, from the tables."""
    return {slot: phrase_regex(phrases) for slot, phrases in grammar_phrases().items()}
