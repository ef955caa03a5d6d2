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
from dataclasses import dataclass, field
from functools import cache
from typing import cast

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, SYNTH_TYPES
from chronus.lang.context import PRONOUNS, Context
from chronus.lang.modules import find_param, is_modulator, module_types, param_names
from chronus.lang.music import UNIT_WORDS
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
_KIND_PARAM = {"level": "volume", "tone": "cutoff", "wet": "mix"}
_WORDS = {
    ("up", "level"): "louder", ("down", "level"): "quieter", ("up", "tone"): "brighter",
    ("down", "tone"): "darker", ("up", "wet"): "wetter", ("down", "wet"): "drier",
    ("up", "tempo"): "faster", ("down", "tempo"): "slower",
}  # fmt: skip
_EFFECTS_WITH_MIX = ("reverb", "delay", "distortion")
_MAX_SUGGESTIONS = 3


@dataclass
class _Frame:
    """The words of a line, sorted into the parts of a frame."""

    actions: list[tuple[str, object]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)
    """Modules named by their id or its plural (not by a type word)."""
    types: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    numbers: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    degree: str | None = None
    names: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Types named by a word of which the patch has no module (fine for an add only)."""
    type_params: list[str] = field(default_factory=list)
    """Parameters that are also type words (`drive`, `room`): for an add, types."""
    incomplete: bool = False
    """A part is missing (`called` with no name after it): no reading."""
    stray: bool = False
    """A known word that fits no part of the frame (a unit with no number, an interval with
    no direction): no reading, since acting would drop it."""
    focus_word: bool = False
    everything: bool = False
    unknown: list[str] = field(default_factory=list)


@cache
def _phrases() -> dict[tuple[str, ...], tuple[str, object]]:
    """Every phrase of the word tables, as a tuple of words → (family, value)."""
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


@cache
def _param_words() -> frozenset[str]:
    return frozenset(name for kind in module_types() for name in param_names(kind))


@cache
def _known_words() -> dict[str, tuple[str, ...]]:
    """Single words the reader knows, by first letter, for "did you mean" on a typo (a typo
    rarely hits the first letter, and looking at one letter's words keeps it fast)."""
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
    readings = _readings(frame, context)
    working = [command for command in readings if works(command)]
    families = {family for family, _ in frame.actions}
    if len(frame.actions) == 1 and len(set(working)) == 1:
        return Reading(command=working[0])
    if not working and families <= {"add", "bring"} and families:
        working = _add_templates(frame, context)
    elif not working and len(families) == 1:
        working = [c for c in _templates(frame, context) if works(c)]
    absent: tuple[str, ...] = ()
    if not working and frame.missing and not families & {"add", "bring"}:
        absent = tuple(dict.fromkeys(t for t in frame.missing if t not in FILTER_TYPES))
    return Reading(suggestions=tuple(dict.fromkeys(working))[:_MAX_SUGGESTIONS], absent=absent)


def _settle(frame: _Frame) -> None:
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


def _sort(tokens: list[str], context: Context) -> _Frame:
    frame = _Frame()
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
    frame: _Frame,
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
        if word in context.modules:
            modules = [word]  # `kick` is the module kick, not every kick
        else:
            modules = _modules_of_type(word, kind, context)
        frame.types.append(kind)
        frame.modules.extend(m for m in modules if m not in frame.modules)
        if not modules:
            frame.missing.append(kind)
        if word in _param_words():
            frame.params.append(canonical_param(word))  # drive: the parameter, or fuzz
            frame.type_params.append(canonical_param(word))
        if after < len(tokens) and not used[after] and _free_name(tokens[after], context):
            frame.names.append(tokens[after])
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


def _word(frame: _Frame, token: str, context: Context) -> None:
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


def _read_number(tokens: list[str], i: int, frame: _Frame, used: list[bool]) -> int:
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
def _readings(frame: _Frame, context: Context) -> list[str]:
    out: list[str] = []
    for family, value in frame.actions or [("set", None)]:
        out += _reading(family, value, frame, context)
    return out


_ALLOWED: dict[str, frozenset[str]] = {
    "add": frozenset({"types", "names", "degree"}),
    "bring": frozenset({"types", "names", "modules", "focus", "everything"}),
    "mix": frozenset({"modules", "types", "focus", "everything"}),
    "remove": frozenset({"modules", "types", "focus"}),
    "rhythm": frozenset({"modules", "types", "focus"}),
    "direction": frozenset(
        {"modules", "types", "params", "numbers", "degree", "focus", "everything"}
    ),
    "tempo": frozenset({"numbers", "degree", "focus"}),
    "interval": frozenset({"modules", "types", "numbers", "focus"}),
    "through": frozenset({"modules", "types", "focus", "degree"}),
    "set": frozenset({"modules", "types", "params", "numbers", "focus"}),
}
"""The parts of a frame each action can use: a reading never drops a word, so a frame with
a part its action has no use for (`cut the bass by 3 db`, `add 2 kicks`) has no reading."""


def _parts(frame: _Frame) -> set[str]:
    parts = {
        "modules": bool(frame.named), "types": bool(frame.types),
        "params": bool(set(frame.params) - set(frame.type_params)),
        "numbers": bool(frame.numbers), "degree": frame.degree is not None,
        "names": bool(frame.names), "focus": frame.focus_word, "everything": frame.everything,
    }  # fmt: skip
    return {part for part, present in parts.items() if present}


def _reading(family: str, value: object, frame: _Frame, context: Context) -> list[str]:
    if frame.stray or not _parts(frame) <= _ALLOWED.get(family, frozenset()):
        return []
    if family == "add" or (family == "bring" and frame.types and frame.names):
        return _add(frame)
    if family == "bring":
        if frame.types and not frame.modules:
            return _add(frame)
        if frame.named and frame.types:
            return []  # bring in the bass and a saw: one of each
        return _each(frame, context, "unmute {m}", "unmute")
    if family == "mix":
        param, on = cast(tuple[str, float], value)
        verb = ("" if on else "un") + param
        return _each(frame, context, verb + " {m}", verb)
    if family == "remove":
        targets = _targets(frame, context)
        if len(targets) != 1 or frame.everything or frame.numbers or frame.params:
            return []  # one module at a time, named: a removal is never a guess
        if targets == [None]:
            return ["remove it"] if frame.focus_word else []
        return [f"remove {targets[0]}"]
    if family == "rhythm":
        return _each(frame, context, "{m} " + str(value), str(value))
    if family == "direction":
        return _direction(value, frame, context)  # type: ignore[arg-type]
    if family == "tempo":
        return _tempo(frame, context)
    if family == "interval":
        return _transpose(int(value), frame, context)  # type: ignore[call-overload]
    if family == "through":
        return _through(frame)
    if family == "set":
        return _set(frame, context)
    return []


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _add(frame: _Frame) -> list[str]:
    if len(frame.types) != 1 or len(frame.names) > 1 or frame.named or frame.focus_word:
        return []
    if frame.numbers or set(frame.params) - set(frame.type_params):
        return []  # add 2 kicks, add a saw cutoff: more than an add says
    kind = frame.types[0]
    called = f" called {frame.names[0]}" if frame.names else ""
    return [f"add {_article(kind)} {kind}{called}"]


def _targets(frame: _Frame, context: Context, own_filter: bool = False) -> list[str | None]:
    """The modules a frame acts on; [None] for the focus; [] when a type word names no module
    of the patch (`take the kick out` with no kick is no command for the focus). With
    `own_filter`, "the filter" of a synth without one is its own (open the filter)."""
    if frame.missing and not (own_filter and all(t in FILTER_TYPES for t in frame.missing)):
        return []
    if frame.everything:
        return [m for m, t in context.modules.items() if not is_modulator(t)]
    if frame.modules:
        return list(dict.fromkeys(frame.modules))
    return [None]


def _each(frame: _Frame, context: Context, pattern: str, alone: str) -> list[str]:
    targets = _targets(frame, context)
    if frame.numbers or frame.params or not targets:
        return []
    if targets == [None]:
        return [alone]
    return ["; ".join(pattern.format(m=m) for m in targets)]


def _degree(frame: _Frame) -> str:
    return {"bit": "a bit ", "much": "much "}.get(frame.degree or "", "")


def _direction(value: tuple[str, str], frame: _Frame, context: Context) -> list[str]:
    way, kind = value
    if kind == "tempo" or (frame.actions and any(f == "tempo" for f, _ in frame.actions)):
        return _tempo(frame, context, way)
    out = []
    targets = _targets(frame, context, own_filter=True)
    for target in targets:
        out += _adjust_one(way, kind, target, frame, context)
    if len(out) > 1 and len(targets) > 1:
        return ["; ".join(out)]
    return out


def _adjust_one(
    way: str, kind: str, target: str | None, frame: _Frame, context: Context
) -> list[str]:
    param = frame.params[0] if len(frame.params) == 1 else None
    if len(frame.params) > 1:
        return []
    module_type = context.modules.get(target or context.focus or "", "")
    effects = [t for t in frame.types if t in _EFFECTS_WITH_MIX]
    if param is None and effects and not frame.modules:
        return []  # more reverb, and there is none
    if param is None and effects:
        param = "mix"  # more reverb: more of the effect, not a louder effect
    filters = [t for t in frame.types if t in FILTER_TYPES]
    if filters and not frame.modules and module_type not in SYNTH_TYPES:
        return []  # the filter, and there is none: a synth's own filter is the only one
    if param is None and kind == "level" and filters:
        kind = "tone"  # turn up the filter: open it
    on = f" on {target}" if target else ""
    if frame.numbers:
        return _by_or_to(way, kind, param, target, frame, context)
    if param is not None:
        word = "more" if way == "up" else "less"
        return [f"{_degree(frame)}{word} {param}{on}"]
    return [f"{_degree(frame)}{_WORDS[(way, kind)]}{on}"]


def _by_or_to(
    way: str, kind: str, param: str | None, target: str | None, frame: _Frame, context: Context
) -> list[str]:
    if len(frame.numbers) != 1 or frame.degree is not None:
        return []  # "a bit" and "by 3 db" say the amount twice
    amount, unit, marker = frame.numbers[0]
    module = target or context.focus
    if module is None or module not in context.modules:
        return []
    name = param or _KIND_PARAM.get(kind) or "volume"
    if unit == "db" and param is None:
        name = "volume"
    spec = find_param(context.modules[module], name)
    if spec is None:
        return []
    shown = f" {unit}" if unit and unit != "%" else ("%" if unit == "%" else "")
    if marker == "to":
        return [f"set {module} {name} to {amount:g}{shown}"]
    if unit not in (None, spec.unit, "%") or (unit == "%" and spec.unit):
        return []
    step = amount / 100 * (spec.maximum - spec.minimum) if unit == "%" else amount
    current = context.params.get(module, {}).get(name, spec.default)
    value = current + step if way == "up" else current - step
    unit_text = f" {spec.unit}" if spec.unit in ("db", "hz") else ""
    return [f"set {module} {name} to {round(value, 6):g}{unit_text}"]


def _tempo(frame: _Frame, context: Context, way: str | None = None) -> list[str]:
    if frame.modules or frame.params or frame.types or frame.names:
        return []
    if not frame.numbers:
        if way is None:
            return []
        return [f"{_degree(frame)}{_WORDS[(way, 'tempo')]}"]
    if len(frame.numbers) != 1:
        return []
    amount, unit, marker = frame.numbers[0]
    if unit not in (None, "bpm"):
        return []
    if way is None or marker == "to":
        return [f"tempo {amount:g}"]
    value = context.tempo + amount if way == "up" else context.tempo - amount
    return [f"tempo {round(value, 6):g}"]


def _transpose(semitones: int, frame: _Frame, context: Context) -> list[str]:
    if frame.params or len(frame.numbers) > 1:
        return []
    count = frame.numbers[0][0] if frame.numbers else 1
    if count != int(count):
        return []
    shift = int(count) * semitones
    return [f"transpose {m + ' ' if m else ''}{shift:+d}" for m in _targets(frame, context)]


def _through(frame: _Frame) -> list[str]:
    source = frame.named[0] if frame.named else ("it" if frame.focus_word else None)
    if source is None or not frame.types or len(frame.named) > 1 or frame.numbers:
        return []
    return [f"{source} through " + " then ".join(frame.types)]


def _set(frame: _Frame, context: Context) -> list[str]:
    if len(frame.params) != 1 or len(frame.numbers) != 1 or frame.numbers[0][2] == "by":
        return []
    if len(set(frame.modules)) > 1 or (frame.types and not frame.modules):
        return []  # `lfo on bass drive at 2 hz` is no setting of a value
    amount, unit, _ = frame.numbers[0]
    shown = "%" if unit == "%" else (f" {unit}" if unit else "")
    param = frame.params[0]
    targets = _targets(frame, context)
    return [f"set {m + ' ' if m else ''}{param} to {amount:g}{shown}" for m in targets]


# ---- when nothing fits ---------------------------------------------------------------------------
def _add_templates(frame: _Frame, context: Context) -> list[str]:
    """What to add, when the line does not say it right: commands that work by construction
    (a known type, a free name), so nothing needs trying."""
    if frame.numbers:
        return []
    if len(frame.types) == 1:
        kind = frame.types[0]
        taken = [*frame.names, *frame.named]
        called = f" called {context.free_id(taken[0])}" if taken else ""
        return [f"add {_article(kind)} {kind}{called}"]
    if frame.types:
        return []
    return [f"add a saw called {context.free_id('bass')}", "add kick", "add a reverb"]


def _templates(frame: _Frame, context: Context) -> list[str]:
    """Complete commands for an action whose target is missing: one per module of the patch."""
    if frame.numbers or frame.everything:
        return []
    effects = [t for t in frame.types if t in _EFFECTS_WITH_MIX]
    directions = any(family == "direction" for family, _ in frame.actions)
    if effects and directions and not frame.modules and not frame.params:
        # more reverb, with none: put one after the module in focus
        return [f"{context.focus} through {effects[0]}"] if context.focus else []
    if frame.types and not frame.type_params:
        return []  # a module named by its type and not there: no other module is meant
    modules = [m for m, t in context.modules.items() if not is_modulator(t)][:_MAX_SUGGESTIONS]
    out = []
    for module in modules:
        trial = _Frame(frame.actions, [module], [module], frame.types, frame.params,
                       frame.numbers, frame.degree)  # fmt: skip
        out += _readings(trial, context)
    return out


def _typo_suggestions(
    tokens: list[str], frame: _Frame, context: Context, works: Works
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
    working = [c for c in _readings(again, context) if works(c)]
    return tuple(dict.fromkeys(working))[:_MAX_SUGGESTIONS]
