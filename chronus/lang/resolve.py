"""Shared by the mapper's parts: what an intent became (`Mapped`), resolving module words,
checking names and values, converting units, and building note messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from chronus.dsp.specs import FILTER_TYPES
from chronus.lang.context import FILTER_WORD, PRONOUNS, Context, PatchState
from chronus.lang.errors import (
    BadValueError,
    NoFocusError,
    UnknownModuleError,
    did_you_mean,
)
from chronus.lang.intents import (
    Duration,
    Intent,
    exact,
)
from chronus.lang.modules import ParamSpec, is_modulator, module_types
from chronus.lang.parser import COMMAND_KEYWORDS, keywords
from chronus.lang.vocabulary import module_type, with_article
from chronus.protocol import (
    ID_PATTERN,
    MASTER,
    Message,
    ProtocolError,
    validate,
)

__all__ = [
    "Mapped",
    "absent_hint",
    "check_name",
    "check_type",
    "checked",
    "convert_value",
    "focus_hint",
    "module_of",
    "note_messages",
    "reserved",
]

_UNITS: dict[str, tuple[str, Fraction]] = {
    "hz": ("frequency", Fraction(1)),
    "khz": ("frequency", Fraction(1000)),
    "s": ("time", Fraction(1)),
    "ms": ("time", Fraction(1, 1000)),
    "db": ("level", Fraction(1)),
    "%": ("amount", Fraction(1, 100)),
    "": ("amount", Fraction(1)),
}
"""Unit → (dimension, scale to the dimension's base unit). Beat-based units are times whose
scale depends on the tempo, so they are handled apart."""
_BEAT_UNITS = frozenset({"beats", "bars", "steps"})
_SPELLINGS = {
    "frequency": "hz, khz",
    "time": "ms, s, beats, bars, steps",
    "level": "db",
    "amount": "a plain number or %",
}


@dataclass(frozen=True, slots=True)
class Mapped:
    """One intent, the messages it became, the module it put in focus and the time it spans."""

    intent: Intent
    messages: tuple[Message, ...] = ()
    focus: str | None = None
    """The module this intent named or created (None leaves the focus where it was)."""
    advance: Fraction = Fraction(0)
    """Seconds a `Wait` advances script time, exact, at the tempo then in force."""
    note: str = ""
    """What the shell should tell the musician (e.g. `acid1 cutoff 400 → 280 Hz`)."""
    aside: bool = False
    """The note is told beside the line's change, not instead of it (`bass: swing 0 → 0.2
    (the track playing into acid1)`)."""
    path: tuple[PatchState, ...] = ()
    """For an undo or a redo: the state after each line it went back (or forward) over, in
    order, so that what each one undid can be told."""


def checked(address: str, args: tuple[object, ...], column: int, what: str) -> Message:
    try:
        return validate(address, args)
    except ProtocolError as exc:
        raise BadValueError(f"{what}: {exc}", column=column) from None


def reserved(name: str) -> bool:
    return name in keywords() or name in PRONOUNS or name == MASTER


def module_of(name: str | None, context: Context, column: int, what: str) -> tuple[str, str]:
    """Resolve a module word (None or a pronoun = focus) to (id, type), or raise a pointed
    error."""
    module_id = context.resolve(name)
    if module_id is None:
        raise NoFocusError(
            f"which module? {what} needs one, and none is in focus yet",
            column=column,
            hint=focus_hint(context),
        )
    kind = context.type_of(module_id)
    if kind is None and module_id == FILTER_WORD:
        where = f"{context.focus} goes through none" if context.focus else "none is in focus"
        raise UnknownModuleError(
            f"which filter? {where}",
            column=column,
            expected=[m for m, t in context.modules.items() if t in FILTER_TYPES],
            hint="name it (cutoff 800 on acid1) or add one (bass through lowpass)",
        )
    if kind is None:
        known = list(context.modules)
        hint = did_you_mean(module_id, known)
        if not hint and module_id in module_types():
            hint = f"add one first: add {module_id}"
        if not hint and (kind_said := module_type(module_id)) is not None:
            hint = absent_hint(kind_said)  # `pan the hats left` with no hat
        if not hint and name is not None:
            # `plya c3` reads as a pattern for a module "plya": the slip is the command.
            hint = did_you_mean(module_id, COMMAND_KEYWORDS)
        if not hint:
            hint = ("modules: " + " ".join(known)) if known else "add one first: add saw bass"
        raise UnknownModuleError(
            f'there is no module called "{module_id}"',
            column=column,
            expected=known,
            hint=hint,
        )
    return module_id, kind


def absent_hint(kind: str) -> str:
    """What to do when a line names a kind of module the patch has none of."""
    return f"there is no {kind} in the patch: add one first (add {with_article(kind)})"


def focus_hint(context: Context, fits: list[str] | None = None, line: str = "") -> str:
    """What to do when nothing is in focus, from the patch there is: put one of its modules
    in focus (`fits`: those the line works on, if known), else add a first one."""
    modules = [m for m, kind in context.modules.items() if not is_modulator(kind)]
    if not modules:
        return "add one first (add a saw called bass), then name it: set bass cutoff 800"
    first, *others = (fits or modules)[:MAX_OFFERED]
    offer = f"focus {first}" + (f" (or {', '.join(others)})" if others else "")
    then = f", then {line.strip()} works" if fits and line.strip() else ""
    return f"{offer}{then}; or name the module (modules: {' '.join(modules)})"


MAX_OFFERED = 3
"""Modules offered by name when nothing is in focus."""


def check_name(name: str, kind: str, column: int, context: Context, taken: set[str]) -> None:
    if not ID_PATTERN.fullmatch(name):
        raise BadValueError(
            f'"{name}" cannot be a module name',
            column=column,
            hint="a name is lower-case letters, digits and _, at most 32, starting with a letter",
        )
    if reserved(name):
        raise BadValueError(
            f'"{name}" is a word of the language, not a module name',
            column=column,
            hint=f"pick another name, e.g. {kind}_{name}",
        )
    if name in context.modules or name in taken:
        what = context.modules.get(name, kind)
        raise BadValueError(
            f'there is already a module called "{name}" ({what})',
            column=column,
            hint=f"pick another name, e.g. {context.free_id(name, frozenset(taken))}",
        )


def check_type(kind: str, column: int, also: tuple[str, ...] = ()) -> None:
    """Raise unless `kind` is a module type; `also` are other words the hint may offer."""
    types = module_types()
    if kind not in types:
        raise UnknownModuleError(
            f'there is no module type "{kind}"',
            column=column,
            expected=[*types, *also],
            hint=did_you_mean(kind, [*types, *also]) or "types: " + " ".join(types),
        )


def convert_value(
    value: float, unit: str | None, spec: ParamSpec, tempo: float, column: int = 1
) -> float:
    """`value` given in `unit` (None = already in the parameter's unit), in `spec.unit`.

    Exact decimal arithmetic, so `1.2 khz` is 1200.0, not 1200.0000000000002.
    """
    if unit is None or unit == spec.unit.lower():
        return value
    target = _UNITS.get(spec.unit.lower())
    if spec.unit.lower() in _BEAT_UNITS and unit in _BEAT_UNITS:
        # Both count beats: no tempo involved (2 bars of sync are 8 beats).
        return float(exact(value) * Duration(1, unit).seconds(60))
    if unit in _BEAT_UNITS:
        given: tuple[str, Fraction] | None = ("time", Duration(1, unit).seconds(tempo))
    else:
        given = _UNITS.get(unit)
    if target is None or given is None or target[0] != given[0]:
        kind = target[0] if target is not None else spec.unit
        allowed = _SPELLINGS.get(kind, spec.unit or "a plain number")
        raise BadValueError(
            f'{spec.name} is set in {spec.unit or "plain numbers"}, not "{unit}"',
            column=column,
            expected=[part.strip() for part in allowed.split(",")],
            hint=f"{spec.name} takes {allowed}",
        )
    return float(exact(value) * given[1] / target[1])


def note_messages(
    module_id: str,
    notes: tuple[float, ...],
    velocity: float,
    seconds: float | None,
    column: int,
) -> tuple[Message, ...]:
    """One `/note/<id>` per note."""
    out = []
    for note in notes:
        args: tuple[object, ...] = (note, velocity)
        if seconds is not None:
            args += (seconds,)
        out.append(checked(f"/note/{module_id}", args, column, "note"))
    return tuple(out)
