"""Intents + context → canonical OSC messages. The only place besides `chronus.protocol`
that knows addresses, and the one place where units are converted.

Every message is built with `protocol.validate`, so what leaves here is canonical. Anything
that cannot be mapped (an unknown module or parameter, a value in the wrong unit, nothing in
focus) raises a `ChronusSyntaxError` subclass pointing at the word at fault.

>>> from chronus.lang.context import Context
>>> from chronus.lang.intents import AddModule, SetParam
>>> ctx = Context()
>>> [m.to_list() for m in map_intents([AddModule("saw", "bass")], ctx)[0].messages]
[['/patch/create', 'bass', 'saw'], ['/patch/connect', 'bass', 'master']]
>>> map_intents([SetParam(None, "cutoff", 1.2, "khz")], ctx)[0].messages[0].to_list()
['/mod/bass/cutoff', 1200.0]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from chronus.lang.context import PRONOUNS, Context
from chronus.lang.errors import (
    BadValueError,
    ChronusSyntaxError,
    NoFocusError,
    UnknownModuleError,
    UnknownParamError,
    did_you_mean,
)
from chronus.lang.intents import (
    AddModule,
    Duration,
    Intent,
    Panic,
    PlayNote,
    RawOsc,
    SetParam,
    SetTempo,
    ShellCommand,
    Stop,
    Wait,
    exact,
)
from chronus.lang.modules import (
    ParamSpec,
    find_param,
    is_modulator,
    module_types,
    param_names,
)
from chronus.lang.parser import COMMAND_KEYWORDS, keywords
from chronus.protocol import (
    ADDRESS_SPACE,
    ID_PATTERN,
    MASTER,
    Message,
    ProtocolError,
    canonical_param,
    find_spec,
    validate,
)

__all__ = ["DEFAULT_VELOCITY", "Mapped", "convert_value", "map_intent", "map_intents"]

DEFAULT_VELOCITY = 100.0
"""Velocity of a note when the line names none."""

# Unit → (dimension, scale to the dimension's base unit). Beat-based units are times whose
# scale depends on the tempo, so they are handled apart.
_UNITS: dict[str, tuple[str, Fraction]] = {
    "hz": ("frequency", Fraction(1)),
    "khz": ("frequency", Fraction(1000)),
    "s": ("time", Fraction(1)),
    "ms": ("time", Fraction(1, 1000)),
    "db": ("level", Fraction(1)),
    "%": ("amount", Fraction(1, 100)),
    "": ("amount", Fraction(1)),
}
_BEAT_UNITS = frozenset({"beats", "bars", "steps"})
_SPELLINGS = {
    "frequency": "hz, khz",
    "time": "ms, s, beats, bars, steps",
    "level": "db",
    "amount": "a plain number or %",
}
_NOTE_LIKE = re.compile(r"[a-z](#|b|s)?-?[0-9]+")


@dataclass(frozen=True, slots=True)
class Mapped:
    """One intent, the messages it became, the module it put in focus and the time it spans."""

    intent: Intent
    messages: tuple[Message, ...] = ()
    focus: str | None = None
    """The module this intent named or created (None leaves the focus where it was)."""
    advance: Fraction = Fraction(0)
    """Seconds a `Wait` advances script time, exact, at the tempo then in force."""


def map_intents(intents: Iterable[Intent], context: Context) -> list[Mapped]:
    """Map intents in order, updating `context` after each (so `tempo 90; play c3 for 1 beat`
    uses 90 bpm). Pass a copy of the context if the line may still fail.
    """
    out: list[Mapped] = []
    for intent in intents:
        mapped = map_intent(intent, context)
        for message in mapped.messages:
            context.observe(message)
        if mapped.focus is not None:
            context.focus = mapped.focus
        out.append(mapped)
    return out


def map_intent(intent: Intent, context: Context) -> Mapped:
    """Map one intent against the context, which is only read."""
    if isinstance(intent, SetTempo):
        message = _validate("/tempo", (intent.bpm,), intent.column("bpm"), "tempo")
        return Mapped(intent, (message,))
    if isinstance(intent, AddModule):
        return _add_module(intent, context)
    if isinstance(intent, SetParam):
        return _set_param(intent, context)
    if isinstance(intent, PlayNote):
        return _play_note(intent, context)
    if isinstance(intent, Stop):
        return Mapped(intent, (validate("/seq/stop", ()),))
    if isinstance(intent, Panic):
        return Mapped(intent, (validate("/panic", ()),))
    if isinstance(intent, RawOsc):
        return _raw_osc(intent)
    if isinstance(intent, Wait):
        return Mapped(intent, advance=intent.duration.seconds(context.tempo))
    if isinstance(intent, ShellCommand):
        return Mapped(intent)
    raise TypeError(f"not an intent: {intent!r}")


def _validate(address: str, args: tuple[object, ...], column: int, what: str) -> Message:
    try:
        return validate(address, args)
    except ProtocolError as exc:
        raise BadValueError(f"{what}: {exc}", column=column) from None


def _reserved(name: str) -> bool:
    return name in keywords() or name in PRONOUNS or name == MASTER


def _add_module(intent: AddModule, context: Context) -> Mapped:
    types = module_types()
    if intent.type not in types:
        raise UnknownModuleError(
            f'there is no module type "{intent.type}"',
            column=intent.column("type"),
            expected=list(types),
            hint=did_you_mean(intent.type, types) or "types: " + " ".join(types),
        )
    if intent.name is None:
        module_id = context.free_id(intent.type)
    else:
        module_id = intent.name
        column = intent.column("name")
        if not ID_PATTERN.fullmatch(module_id):
            raise BadValueError(
                f'"{module_id}" cannot be a module name',
                column=column,
                hint="a name is lower-case letters, digits and _, at most 32, starting "
                "with a letter",
            )
        if _reserved(module_id):
            raise BadValueError(
                f'"{module_id}" is a word of the language, not a module name',
                column=column,
                hint=f"pick another name, e.g. {intent.type}_{module_id}",
            )
        if module_id in context.modules:
            raise BadValueError(
                f'there is already a module called "{module_id}" ({context.modules[module_id]})',
                column=column,
                hint=f"pick another name, e.g. {context.free_id(module_id)}",
            )
    messages: tuple[Message, ...] = (validate("/patch/create", (module_id, intent.type)),)
    if not is_modulator(intent.type):
        messages += (validate("/patch/connect", (module_id, MASTER)),)
    return Mapped(intent, messages, focus=module_id)


def _module(name: str | None, context: Context, column: int, what: str) -> tuple[str, str]:
    """Resolve a module word (None = focus) to (id, type), or raise a pointed error."""
    module_id = context.resolve(name)
    if module_id is None:
        raise NoFocusError(
            f"which module? {what} needs one, and none is in focus yet",
            column=column,
            hint="name it (set bass cutoff 800, play c3 on bass) or add one first (add saw bass)",
        )
    kind = context.type_of(module_id)
    if kind is None:
        known = list(context.modules)
        hint = did_you_mean(module_id, known)
        if not hint and module_id in module_types():
            hint = f"add one first: add {module_id}"
        if not hint:
            hint = ("modules: " + " ".join(known)) if known else "add one first: add saw bass"
        raise UnknownModuleError(
            f'there is no module called "{module_id}"',
            column=column,
            expected=known,
            hint=hint,
        )
    return module_id, kind


def _set_param(intent: SetParam, context: Context) -> Mapped:
    param_column = intent.column("param")
    if intent.module is None and context.focus is None:
        hint = did_you_mean(intent.param, COMMAND_KEYWORDS)
        if hint:
            raise ChronusSyntaxError(
                f'"{intent.param}" is not a command', column=param_column, hint=hint
            )
    module_id, kind = _module(
        intent.module, context, intent.column("module", param_column), f'"{intent.param}"'
    )
    canonical = canonical_param(intent.param)
    spec = find_param(kind, canonical)
    if spec is None:
        names = param_names(kind)
        hint = did_you_mean(intent.param, names)
        if not hint and intent.module is None:
            hint = did_you_mean(intent.param, COMMAND_KEYWORDS)
        raise UnknownParamError(
            f'{module_id} ({kind}) has no parameter "{intent.param}"',
            column=param_column,
            expected=[s for s in names if s == canonical_param(s)],
            hint=hint or "parameters: " + " ".join(n for n in names if n == canonical_param(n)),
        )
    value = convert_value(
        intent.value, intent.unit, spec, context.tempo, intent.column("unit", param_column)
    )
    if not spec.minimum <= value <= spec.maximum:
        raise BadValueError(
            f"{spec.name} must be within {spec.range_text}, got {value:g}",
            column=intent.column("value", param_column),
            hint=f"default: {spec.default:g}{' ' + spec.unit if spec.unit else ''}",
        )
    message = _validate(
        f"/mod/{module_id}/{spec.name}", (value,), intent.column("value", 1), spec.name
    )
    return Mapped(intent, (message,), focus=module_id)


def convert_value(
    value: float, unit: str | None, spec: ParamSpec, tempo: float, column: int = 1
) -> float:
    """`value` given in `unit` (None = already in the parameter's unit), in `spec.unit`.

    Exact decimal arithmetic, so `1.2 khz` is 1200.0, not 1200.0000000000002.
    """
    if unit is None or unit == spec.unit.lower():
        return value
    target = _UNITS.get(spec.unit.lower())
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


def _play_note(intent: PlayNote, context: Context) -> Mapped:
    note_column = intent.column("note")
    column = intent.column("module", note_column)
    try:
        module_id, _ = _module(intent.module, context, column, "play")
    except UnknownModuleError as exc:
        if intent.module is not None and _NOTE_LIKE.fullmatch(intent.module):
            raise BadValueError(
                f'"{intent.module}" is neither a note nor a module',
                column=column,
                hint="notes run from c-1 to g9: c4 is middle C, eb2, f#3",
            ) from None
        raise exc from None
    args: tuple[object, ...] = (intent.note, intent.velocity)
    if intent.duration is not None:
        args += (float(intent.duration.seconds(context.tempo)),)
    column = intent.column("duration", note_column) if intent.duration else note_column
    message = _validate(f"/note/{module_id}", args, column, "note")
    return Mapped(intent, (message,), focus=module_id)


def _raw_osc(intent: RawOsc) -> Mapped:
    try:
        message = validate(intent.address, intent.args)
    except ProtocolError as exc:
        hint = ""
        try:
            spec, _ = find_spec(intent.address)
            hint = "usage: " + spec.signature
        except ProtocolError:
            hint = did_you_mean(intent.address, [spec.pattern for spec in ADDRESS_SPACE])
        raise ChronusSyntaxError(str(exc), column=intent.column("address"), hint=hint) from None
    return Mapped(intent, (message,))
