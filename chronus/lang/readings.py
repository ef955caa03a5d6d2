"""What a frame reads as: the parts of a line the frame reader found, and the commands of the
grammar's own dialect they can be written as (`louder on hat`, `set bass volume to -9 db`,
`add a saw called bass`), one kind of action at a time.

Each action uses only some parts of a frame; a frame with a part its action has no use for
has no reading, so a reading never drops a word. What is offered when nothing fits (one
command per module of the patch, or a first module to add) is built here too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import cast

from chronus.dsp.specs import FILTER_TYPES, SYNTH_TYPES
from chronus.lang.context import Context
from chronus.lang.modules import find_param, is_modulator
from chronus.lang.vocabulary import with_article

__all__ = ["MAX_SUGGESTIONS", "Frame", "add_templates", "readings", "templates"]

_KIND_PARAM = {"level": "volume", "tone": "cutoff", "wet": "mix", "width": "width"}
_WORDS = {
    ("up", "level"): "louder", ("down", "level"): "quieter", ("up", "tone"): "brighter",
    ("down", "tone"): "darker", ("up", "wet"): "wetter", ("down", "wet"): "drier",
    ("up", "width"): "wider", ("down", "width"): "narrower",
    ("up", "tempo"): "faster", ("down", "tempo"): "slower",
}  # fmt: skip
_EFFECTS_WITH_MIX = ("reverb", "delay", "distortion")
MAX_SUGGESTIONS = 3
"""At most this many commands are offered for a line."""


@dataclass
class Frame:
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


def readings(frame: Frame, context: Context) -> list[str]:
    """The commands a frame can be written as, one list per action of it (a frame with no
    action word is read as a setting: `bass volume to -3 db`). Untried: the caller tries."""
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


def _parts(frame: Frame) -> set[str]:
    parts = {
        "modules": bool(frame.named), "types": bool(frame.types),
        "params": bool(set(frame.params) - set(frame.type_params)),
        "numbers": bool(frame.numbers), "degree": frame.degree is not None,
        "names": bool(frame.names), "focus": frame.focus_word, "everything": frame.everything,
    }  # fmt: skip
    return {part for part, present in parts.items() if present}


def _reading(family: str, value: object, frame: Frame, context: Context) -> list[str]:
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


def _add(frame: Frame) -> list[str]:
    if len(frame.types) != 1 or len(frame.names) > 1 or frame.named or frame.focus_word:
        return []
    if frame.numbers or set(frame.params) - set(frame.type_params):
        return []  # add 2 kicks, add a saw cutoff: more than an add says
    kind = frame.types[0]
    called = f" called {frame.names[0]}" if frame.names else ""
    return [f"add {with_article(kind)}{called}"]


def _targets(frame: Frame, context: Context, own_filter: bool = False) -> list[str | None]:
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


def _each(frame: Frame, context: Context, pattern: str, alone: str) -> list[str]:
    targets = _targets(frame, context)
    if frame.numbers or frame.params or not targets:
        return []
    if targets == [None]:
        return [alone]
    return ["; ".join(pattern.format(m=m) for m in targets)]


def _degree(frame: Frame) -> str:
    return {"bit": "a bit ", "much": "much "}.get(frame.degree or "", "")


def _direction(value: tuple[str, str], frame: Frame, context: Context) -> list[str]:
    way, kind = value
    if kind == "tempo" or (frame.actions and any(f == "tempo" for f, _ in frame.actions)):
        return _tempo(frame, context, way)
    out = []
    targets = _targets(frame, context, own_filter=True)
    if any(t in FILTER_TYPES for t in frame.types):
        targets = _one_per_knob(targets, frame, context, FILTER_TYPES)
    elif effects := [t for t in frame.types if t in _EFFECTS_WITH_MIX]:
        targets = _one_per_knob(targets, frame, context, effects)
    for target in targets:
        out += _adjust_one(way, kind, target, frame, context)
    if len(out) > 1 and len(targets) > 1:
        return ["; ".join(out)]
    return out


def _one_per_knob(
    targets: list[str | None], frame: Frame, context: Context, kinds: Collection[str]
) -> list[str | None]:
    """`open the filter on bass`, `more reverb on the pad`: the filter or effect meant is the
    one the named modules go through (not the focus's), and it and the sound through it are
    one knob, moved once."""
    named: list[str | None] = [t for t in targets if t in frame.named]
    if named and all(t is not None and context.sound_through(t, kinds) for t in named):
        targets = named
    kept: dict[str, str | None] = {}
    for target in sorted(targets, key=lambda t: t not in frame.named):
        knob = (context.sound_through(target, kinds) or target) if target else ""
        kept.setdefault(knob, target)
    return [t for t in targets if t in kept.values()]


def _adjust_one(
    way: str, kind: str, target: str | None, frame: Frame, context: Context
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
    way: str, kind: str, param: str | None, target: str | None, frame: Frame, context: Context
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


def _tempo(frame: Frame, context: Context, way: str | None = None) -> list[str]:
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


def _transpose(semitones: int, frame: Frame, context: Context) -> list[str]:
    if frame.params or len(frame.numbers) > 1:
        return []
    count = frame.numbers[0][0] if frame.numbers else 1
    if count != int(count):
        return []
    shift = int(count) * semitones
    return [f"transpose {m + ' ' if m else ''}{shift:+d}" for m in _targets(frame, context)]


def _through(frame: Frame) -> list[str]:
    source = frame.named[0] if frame.named else ("it" if frame.focus_word else None)
    if source is None or not frame.types or len(frame.named) > 1 or frame.numbers:
        return []
    return [f"{source} through " + " then ".join(frame.types)]


def _set(frame: Frame, context: Context) -> list[str]:
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
def add_templates(frame: Frame, context: Context) -> list[str]:
    """What to add, when the line does not say it right: commands that work by construction
    (a known type, a free name), so nothing needs trying."""
    if frame.numbers:
        return []
    if len(frame.types) == 1:
        kind = frame.types[0]
        taken = [*frame.names, *frame.named]
        called = f" called {context.free_id(taken[0])}" if taken else ""
        return [f"add {with_article(kind)}{called}"]
    if frame.types:
        return []
    return [f"add a saw called {context.free_id('bass')}", "add kick", "add a reverb"]


def templates(frame: Frame, context: Context) -> list[str]:
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
    modules = [m for m, t in context.modules.items() if not is_modulator(t)][:MAX_SUGGESTIONS]
    out = []
    for module in modules:
        trial = Frame(frame.actions, [module], [module], frame.types, frame.params,
                       frame.numbers, frame.degree)  # fmt: skip
        out += readings(trial, context)
    return out
