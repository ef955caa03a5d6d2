"""The frame reader: a line the grammar does not take, read as a frame from known words only.

A frame is an action (add, mute, a change up or down, a tempo, a rhythm, a transposition,
a value), a target (modules of the patch, by name, plural, type word or pronoun), a parameter,
a direction and an amount. The reader writes each reading as a command of the grammar's own
dialect, and keeps only the readings that `works` (the interpreter tries them on a copy of
the patch). It acts only when every word is known, one action is meant and exactly one
reading works; otherwise it offers up to three commands that would work, and never guesses.

>>> from chronus.lang.interpreter import Interpreter
>>> band = Interpreter()
>>> band.interpret("add saw bass; add hat").ok
True
>>> result = band.interpret("turn the hats up a bit")
>>> result.notes, [m.to_list() for m in result.messages]
(['read as: a bit louder on hat'], [['/mod/hat/volume', -4.5]])
>>> band.interpret("make it sound like a cathedral full of cats").error.hint
'I do not know the words "like", "cathedral", "full", "cats"; `help` shows what I know'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, SYNTH_TYPES
from chronus.lang.context import FILTER_WORD, PRONOUNS, Context
from chronus.lang.modules import PluginsKey, module_types, param_names, plugins_key
from chronus.lang.music import UNIT_WORDS
from chronus.lang.readings import MAX_SUGGESTIONS, Frame, add_templates, readings, templates
from chronus.lang.vocabulary import (
    ADD_OR_UNMUTE,
    ADJECTIVES,
    DEGREES,
    DIRECTIONS,
    EVERYTHING,
    FAMILIES,
    FILLERS,
    INTERVALS,
    MAKING_VERBS,
    MIX_WORDS,
    MODULE_WORDS,
    PARTICLES,
    REMOVE_WORDS,
    RHYTHMS,
    ROUTE_VERBS,
    TEMPO_CHANGES,
    TEMPO_WORDS,
    VAGUE,
)
from chronus.protocol import canonical_param

__all__ = ["Reading", "read_frame"]

Works = Callable[[str], bool]
"""Whether a command maps without error on a copy of the patch."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What the reader made of a line: the one command to run, or commands to offer."""

    command: str | None = None
    suggestions: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    """Words it does not know (then it never acts)."""
    absent: tuple[str, ...] = ()
    """Module types the line names that the patch has none of (`take the kick out`)."""


_TOKEN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|[a-z][a-z0-9_'#-]*|%|\S", re.I)
_PUNCTUATION = frozenset(".,!?")
_UNITS = {**UNIT_WORDS, "decibels": "db", "percent": "%", "bpm": "bpm"}
_FAMILY_TYPES = {
    word: {"filter": FILTER_TYPES, "drum": DRUM_TYPES, "synth": SYNTH_TYPES}[family]
    for word, family in FAMILIES.items()
}


def _phrases() -> dict[tuple[str, ...], tuple[str, object]]:
    """Every phrase of the word tables, as a tuple of words → (family, value)."""
    return _phrases_for(plugins_key())


# The tables below are built from the module types, which plugins change: one per set of them.
@lru_cache(maxsize=4)
def _phrases_for(plugins: PluginsKey) -> dict[tuple[str, ...], tuple[str, object]]:
    table: dict[tuple[str, ...], tuple[str, object]] = {}

    def put(phrase: str, family: str, value: object) -> None:
        for variant in _variants(phrase):
            table.setdefault(variant, (family, value))

    for phrase in MAKING_VERBS:
        put(phrase, "add", phrase)
    for phrase in ADD_OR_UNMUTE:
        put(phrase, "bring", None)
    for phrase, value in MIX_WORDS.items():
        put(phrase, "mix", value)
    for phrase, change in TEMPO_CHANGES.items():
        put(phrase, "direction", ("up" if change == "faster" else "down", "tempo"))
    for phrase in VAGUE:
        put(phrase, "vague", DIRECTIONS[phrase])
    for phrase, direction in DIRECTIONS.items():
        put(phrase, "direction", direction)
    for phrase, direction in ADJECTIVES.items():
        put(phrase, "adjective", direction)
    for phrase, degree in DEGREES.items():
        put(phrase, "degree", degree)
    for phrase, semitones in INTERVALS.items():
        put(phrase, "interval", semitones)
    for phrase in RHYTHMS:
        put(phrase, "rhythm", phrase)
    for phrase in EVERYTHING:
        put(phrase, "everything", None)
    for phrase in REMOVE_WORDS:
        put(phrase, "remove", None)
    for phrase in (*TEMPO_WORDS, "bpm"):
        put(phrase, "tempo", None)
    for phrase, kind in MODULE_WORDS.items():
        put(phrase, "type", kind)
    for kind in module_types():
        put(kind, "type", kind)
    for word in ("called", "named"):
        put(word, "called", None)
    for word in ("through", "thru", "into"):
        put(word, "through", None)
    for word in ROUTE_VERBS:
        put(word, "route", None)
    put("set", "set", None)
    return table


def _variants(phrase: str) -> list[tuple[str, ...]]:
    """A phrase as the tokenizer may see it: with and without "the", hyphens kept, split
    or joined (`off-beats`, `off beats`, `offbeats`)."""
    words = phrase.lower().split()
    forms = [words, [w for w in words if w not in ("the", "a", "an")]]
    out: list[tuple[str, ...]] = []
    for form in forms:
        if not form:
            continue
        out.append(tuple(form))
        split = [piece for word in form for piece in word.split("-")]
        out.append(tuple(split))
        out.append(tuple(word.replace("-", "") for word in form))
    return out


def _param_words() -> frozenset[str]:
    return _param_words_for(plugins_key())


@lru_cache(maxsize=4)
def _param_words_for(plugins: PluginsKey) -> frozenset[str]:
    return frozenset(name for kind in module_types() for name in param_names(kind))


def _known_words() -> dict[str, tuple[str, ...]]:
    """Single words the reader knows, by first letter, for "did you mean" on a typo (a typo
    rarely hits the first letter, and looking at one letter's words keeps it fast)."""
    return _known_words_for(plugins_key())


@lru_cache(maxsize=4)
def _known_words_for(plugins: PluginsKey) -> dict[str, tuple[str, ...]]:
    words = {word for phrase in _phrases() for word in phrase}
    by_letter: dict[str, list[str]] = {}
    for word in sorted(words | _param_words() | FILLERS | set(_UNITS)):
        by_letter.setdefault(word[:1], []).append(word)
    return {letter: tuple(group) for letter, group in by_letter.items()}


def read_frame(line: str, context: Context, works: Works) -> Reading:
    """Read `line` as a frame against `context`; see the module's docstring."""
    tokens = _tokens(line)
    if tokens is None:
        return Reading()
    frame = _sort(tokens, context)
    if frame.unknown:
        return Reading(suggestions=_typo_suggestions(tokens, frame, context, works),
                       unknown=tuple(frame.unknown))  # fmt: skip
    _settle(frame)
    if frame.incomplete:
        return Reading()
    working = [command for command in readings(frame, context) if works(command)]
    families = {family for family, _ in frame.actions}
    if len(frame.actions) == 1 and len(set(working)) == 1:
        return Reading(command=working[0])
    if not working and families <= {"add", "bring"} and families:
        working = add_templates(frame, context)
    elif not working and len(families) == 1:
        working = [c for c in templates(frame, context) if works(c)]
    absent: tuple[str, ...] = ()
    if not working and frame.missing and not families & {"add", "bring"}:
        absent = tuple(dict.fromkeys(t for t in frame.missing if t not in FILTER_TYPES))
    return Reading(suggestions=tuple(dict.fromkeys(working))[:MAX_SUGGESTIONS], absent=absent)


def _settle(frame: Frame) -> None:
    """Words that only qualify another action stop counting as actions of their own: "make"
    with a change (`make the hats louder`), a tempo word with a direction (`turn the tempo
    up`), a direction with an interval (`bring the bass up a fifth`), "set" with anything."""
    families = {family for family, _ in frame.actions}
    something = frame.modules or frame.params or frame.types or frame.focus_word
    vague = [("direction", v) for f, v in frame.actions if f == "vague"]
    frame.actions = [a for a in frame.actions if a[0] != "vague"]
    if vague and (something or frame.numbers or "tempo" in families):
        frame.actions += vague
    elif vague:
        frame.incomplete = True
    adjectives = [("direction", v) for f, v in frame.actions if f == "adjective"]
    frame.actions = [a for a in frame.actions if a[0] != "adjective"]
    if adjectives and ("add", "make") in frame.actions:
        frame.actions += adjectives
    elif adjectives:
        frame.incomplete = True
    families = {family for family, _ in frame.actions}

    def drop(family: str, value: object = None) -> None:
        frame.actions = [
            a for a in frame.actions if a[0] != family or (value is not None and a[1] != value)
        ]

    if "direction" in families:
        drop("add", "make")
        if "tempo" in families:
            frame.actions = [
                ("direction", (v[0], "tempo")) if f == "direction" else (f, v)  # type: ignore[index]
                for f, v in frame.actions
                if f != "tempo"
            ]
    if "interval" in families:
        # Only up and down move a pitch: `slower a semitone` is no transposition.
        moves = [v for f, v in frame.actions if f == "direction"]
        ways = {str(v[0]) for v in moves if v[1] == "level"}  # type: ignore[index]
        if len(ways) != len(moves):
            ways = set()
        sizes = [int(v) for f, v in frame.actions if f == "interval"]  # type: ignore[call-overload]
        drop("direction")
        drop("interval")
        if len(ways) == 1 and len(sizes) == 1:
            sign = 1 if ways == {"up"} else -1
            frame.actions.append(("interval", sign * sizes[0]))
        else:
            frame.stray = True
    if "through" in families:
        drop("route")  # run it through: the verb only leads to "through"
        drop("add", "put in")
    if len(families) > 1:
        drop("set")


def _tokens(line: str) -> list[str] | None:
    """Lower-case words and numbers; None for a line with `;` or raw syntax in it."""
    text = line.split("#", 1)[0].replace("’", "'").lower()
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token in _PUNCTUATION:
            continue
        if len(token) == 1 and not token.isalnum() and token != "%":
            return None
        out.append(token)
    return out or None


def _sort(tokens: list[str], context: Context) -> Frame:
    frame = Frame()
    phrases = _phrases()
    used = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        if used[i]:
            i += 1
            continue
        token = tokens[i]
        if _number(token) is not None:
            i = _read_number(tokens, i, frame, used)
            continue
        match = _longest(tokens, i, phrases, used)
        if match is not None:
            length, (family, value) = match
            split = _split_phrasal(tokens, i, used) if length == 1 else None
            if split is not None:
                family, value = split
            _take(frame, family, value, tokens, (i, i + length), used, context)
            for k in range(i, i + length):
                used[k] = True
            i += length
            continue
        split = _split_phrasal(tokens, i, used)
        if split is not None:
            _take(frame, *split, tokens, (i, i + 1), used, context)
            used[i] = True
            i += 1
            continue
        used[i] = True
        _word(frame, token, context)
        i += 1
    return frame


def _longest(
    tokens: list[str], i: int, phrases: dict[tuple[str, ...], tuple[str, object]], used: list[bool]
) -> tuple[int, tuple[str, object]] | None:
    for length in (4, 3, 2, 1):
        if i + length <= len(tokens) and not any(used[i : i + length]):
            entry = phrases.get(tuple(tokens[i : i + length]))
            if entry is not None:
                return length, entry
    return None


def _split_phrasal(tokens: list[str], i: int, used: list[bool]) -> tuple[str, object] | None:
    """`bring the kick back`: a verb whose particle comes after its object (marked used)."""
    particles = PARTICLES.get(tokens[i])
    if not particles:
        return None
    for j in range(i + 1, len(tokens)):
        if not used[j] and tokens[j] in particles and j > i + 1:
            entry = _phrases().get((tokens[i], tokens[j]))
            if entry is not None:
                used[j] = True
                return entry
    return None


def _take(
    frame: Frame,
    family: str,
    value: object,
    tokens: list[str],
    span: tuple[int, int],
    used: list[bool],
    context: Context,
) -> None:
    after = span[1]
    if family == "degree":
        frame.degree = frame.degree or str(value)
    elif family == "everything":
        frame.everything = True
    elif family == "type":
        kind = str(value)
        word = " ".join(tokens[span[0] : after])
        near = context.filter_near(context.focus) if word == FILTER_WORD else None
        if word in context.modules:
            modules = [word]  # `kick` is the module kick, not every kick
        elif near is not None:
            modules = [near]  # `the filter`: the one the focus goes through (targets.py)
        elif word == FILTER_WORD and context.modules.get(context.focus or "") in SYNTH_TYPES:
            modules = []  # a synth through no filter: its own (see `readings`)
        else:
            modules = _modules_of_type(word, kind, context)
        frame.types.append(kind)
        frame.modules.extend(m for m in modules if m not in frame.modules)
        if not modules:
            frame.missing.append(kind)
        if word in _param_words():
            frame.params.append(canonical_param(word))  # drive: the parameter, or fuzz
            frame.type_params.append(canonical_param(word))
        definite = span[0] > 0 and tokens[span[0] - 1] in _DEFINITE
        if (after < len(tokens) and not used[after] and not definite
                and _free_name(tokens[after], context)):  # fmt: skip
            frame.names.append(tokens[after])  # `saw bass`; not `the kick punchier`
            used[after] = True
    elif family == "called":
        if after < len(tokens) and not used[after]:
            frame.names.append(tokens[after])
            used[after] = True
        else:
            frame.incomplete = True
    elif family == "through":
        frame.actions.append(("through", None))
    else:
        frame.actions.append((family, value))


_DEFINITE = frozenset({"the", "my", "that", "this", "your"})
"""Words before a type that make it one already there: no new name follows."""


def _free_name(word: str, context: Context) -> bool:
    """A word that can only be a new module's name (`saw bass` when there is no bass)."""
    return (
        re.fullmatch(r"[a-z][a-z0-9_]{0,31}", word) is not None
        and word not in context.modules
        and word not in FILLERS
        and (word,) not in _phrases()
        and word not in _param_words()
        and word not in PRONOUNS
    )


def _modules_of_type(word: str, kind: str, context: Context) -> list[str]:
    """The modules a type word stands for: of that type, or of its family (`the filter`)."""
    kinds = _FAMILY_TYPES.get(word, (kind,))
    return [m for m, t in context.modules.items() if t in kinds]


def _word(frame: Frame, token: str, context: Context) -> None:
    if token in context.modules or _plural(token, context) is not None:
        module = token if token in context.modules else str(_plural(token, context))
        frame.modules.append(module)
        frame.named.append(module)
    elif token in _FAMILY_TYPES:
        frame.modules.extend(_modules_of_type(token, "", context))
    elif token in _param_words():
        frame.params.append(canonical_param(token))
    elif token in PRONOUNS:
        frame.focus_word = True
    elif token in FILLERS:
        pass
    elif token in _UNITS:
        frame.stray = True  # a unit with no number before it
    else:
        frame.unknown.append(token)


def _plural(token: str, context: Context) -> str | None:
    for cut in (1, 2):
        if token.endswith("s") and token[:-cut] in context.modules:
            return token[:-cut]
    return None


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if abs(value) < 1e9 else None


def _read_number(tokens: list[str], i: int, frame: Frame, used: list[bool]) -> int:
    value = _number(tokens[i])
    assert value is not None
    marker = None
    for back in range(i - 1, max(-1, i - 3), -1):
        if tokens[back] in ("by", "to", "at"):
            marker = "by" if tokens[back] == "by" else "to"
            break
    unit = None
    j = i + 1
    if j < len(tokens) and tokens[j] in _UNITS:
        unit = _UNITS[tokens[j]]
        used[j] = True
        j += 1
    used[i] = True
    frame.numbers.append((value, unit, marker))
    if unit == "bpm":
        frame.actions.append(("tempo", None))
    return j


# ---- readings ---------------------------------------------------------------------------------
def _typo_suggestions(
    tokens: list[str], frame: Frame, context: Context, works: Works
) -> tuple[str, ...]:
    """Commands the line would be with its unknown words spelt as known ones (offered, never
    run: a typo is a guess)."""
    if len(frame.unknown) > 2:
        return ()
    fixed = list(tokens)
    for word in frame.unknown:
        known = (*_known_words().get(word[:1], ()), *context.modules)
        near = [k for k in known if abs(len(k) - len(word)) <= 2 and k[:1] == word[:1]]
        matches = difflib.get_close_matches(word, near, n=1, cutoff=0.75)
        if not matches:
            return ()
        fixed = [matches[0] if t == word else t for t in fixed]
    again = _sort(fixed, context)
    if again.unknown:
        return ()
    families = {family for family, _ in again.actions}
    if len(families) > 1:
        return ()
    working = [c for c in readings(again, context) if works(c)]
    return tuple(dict.fromkeys(working))[:MAX_SUGGESTIONS]
