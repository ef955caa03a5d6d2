"""Mapping notes, chords and the sequencer: `/note/<id>` messages, patterns (checked with the
sequencer's own notation parser, its column mapped into the line), steps, lanes, and starting,
stopping and clearing tracks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chronus.lang.context import Context
from chronus.lang.errors import (
    BadValueError,
    ChronusSyntaxError,
    UnknownModuleError,
    UnknownParamError,
    did_you_mean,
)
from chronus.lang.intents import (
    Clear,
    PlayChord,
    PlayNote,
    SetLane,
    SetPattern,
    SetStep,
    Start,
    Stop,
)
from chronus.lang.modules import (
    find_param,
    is_modulator,
    is_processor,
    module_types,
    param_names,
)
from chronus.lang.music import note_name
from chronus.lang.parser import COMMAND_KEYWORDS
from chronus.lang.resolve import Mapped, checked, module_of, note_messages
from chronus.lang.targets import reach, sources_into
from chronus.lang.vocabulary import with_article
from chronus.protocol import (
    Message,
    canonical_param,
    validate,
)

__all__ = [
    "clear",
    "play_chord",
    "play_note",
    "set_lane",
    "set_pattern",
    "set_step",
    "start",
    "stop",
]

_NOTE_LIKE = re.compile(r"[a-z](#|b|s)?-?[0-9]+")


def _player(module: str | None, context: Context, column: int) -> str:
    try:
        module_id, kind = module_of(module, context, column, "play")
    except UnknownModuleError as exc:
        if module is not None and _NOTE_LIKE.fullmatch(module):
            raise BadValueError(
                f'"{module}" is neither a note nor a module',
                column=column,
                hint="notes run from c-1 to g9: c4 is middle C, eb2, f#3",
            ) from None
        raise exc from None
    if is_modulator(kind):
        raise BadValueError(f"{module_id} is an {kind}: it plays no notes", column=column)
    return module_id


def _feeder(
    module_id: str, context: Context, column: int, said: str, works: Callable[[str], str]
) -> str:
    """The module that plays what is `said` (a note, a chord, a pattern) of a filter or an
    effect: the one sound that goes into it (whose notes still reach the processor: an acid
    filter's envelope retriggers). Refused when none or several do, `works(module)` being
    the line that would work."""
    kind = with_article(context.modules[module_id])
    sources = sources_into(module_id, context)
    if len(sources) == 1:
        return sources[0]
    if not sources:
        players = [m for m, k in context.modules.items()
                   if not is_processor(k) and not is_modulator(k)]  # fmt: skip
        raise BadValueError(
            f"{module_id} is {kind}: it makes no sound of its own, and nothing plays into it",
            column=column,
            hint=(f"{works(players[0])}, or route it: {players[0]} through {module_id}"
                  if players else f"add a saw called bass through {module_id}, then "
                  f"{works('bass')}"),
        )  # fmt: skip
    listed = ", ".join(sources[:-1]) + f" and {sources[-1]}"
    raise BadValueError(
        f"{module_id} is {kind}: {listed} play into it; which one plays {said}?",
        column=column,
        hint=works(sources[0]),
    )


def _play(intent: PlayNote | PlayChord, notes: tuple[float, ...], context: Context) -> Mapped:
    note_column = intent.column("note")
    column = intent.column("module", note_column)
    named = _player(intent.module, context, column)
    module_id = named
    played = " ".join(note_name(pitch) for pitch in notes)
    note = f"{named} plays {played}"
    if is_processor(context.modules[named]):
        said = "the chord" if len(notes) > 1 else note_name(notes[0])
        module_id = _feeder(named, context, column, said, lambda m: f"play {said} on {m}")
        note = f"played on {module_id}, which plays into {named}"
    seconds = None if intent.duration is None else float(intent.duration.seconds(context.tempo))
    column = intent.column("duration", note_column) if intent.duration else note_column
    messages = note_messages(module_id, notes, intent.velocity, seconds, column)
    context.last_notes[module_id] = (notes, intent.velocity, seconds)
    return Mapped(intent, messages, focus=named, note=note)


def play_note(intent: PlayNote, context: Context) -> Mapped:
    return _play(intent, (intent.note,), context)


def play_chord(intent: PlayChord, context: Context) -> Mapped:
    return _play(intent, intent.notes, context)


def _track_module(name: str | None, context: Context, column: int, what: str) -> str:
    module_id, kind = module_of(name, context, column, what)
    if is_modulator(kind):
        raise BadValueError(
            f"{module_id} is an {kind}: it plays no notes, so no pattern", column=column
        )
    return module_id


def _check_pattern(text: str, column: int) -> None:
    from chronus.seq.notation import PatternError, parse

    try:
        parse(text)
    except PatternError as exc:
        raise BadValueError(
            f"pattern: {exc.message}",
            column=column + max(0, exc.column - 1),
            hint=exc.hint,
        ) from None


def set_pattern(intent: SetPattern, context: Context) -> Mapped:
    column = intent.column("pattern")
    try:
        module_id = _track_module(
            intent.module, context, intent.column("module", column), "a pattern"
        )
    except UnknownModuleError as exc:
        # `plya c3` reads as a pattern for a module "plya": the slip is the command.
        hint = did_you_mean(intent.module or "", COMMAND_KEYWORDS)
        if hint and intent.module not in module_types():
            raise ChronusSyntaxError(
                f'unknown command "{intent.module}"',
                column=exc.column,
                expected=[*sorted(f'"{w}"' for w in COMMAND_KEYWORDS), "a module name"],
                hint=hint,
            ) from None
        if intent.module is not None and _NOTE_LIKE.fullmatch(intent.module):
            # `c2 c3 eb2 every 16th`: notes with no module, read as a module called c2.
            every = {12: " every 8th triplet", 24: " every 16th triplet"}.get(
                intent.division or 0, f" every 1/{intent.division}" if intent.division else ""
            )
            notes = f"{intent.module} {intent.text}{every}"
            some = next(iter(context.modules), "bass")
            exc.hint = f"play {notes} (the module in focus), or name it: {some}: {notes}"
        raise
    _check_pattern(intent.text, column)
    named, note = module_id, ""
    if is_processor(context.modules[named]):
        # A pattern on a filter's own track would only retrigger its envelope: it is the
        # pattern of the sound going into it, as swing is.
        module_id = _feeder(named, context, intent.column("module", column), "the pattern",
                            lambda m: f"{m}: {intent.text}")  # fmt: skip
        note = f"the track playing into {named}"
    messages: list[Message] = []
    if intent.division is not None:
        messages.append(_step(module_id, intent.division, column))
    args: tuple[object, ...] = (intent.text, 1) if intent.now else (intent.text,)
    messages.append(checked(f"/seq/{module_id}/pattern", args, column, "pattern"))
    return Mapped(intent, tuple(messages), focus=named, note=note, aside=bool(note))


def _step(module_id: str, division: int, column: int) -> Message:
    if division not in (4, 8, 12, 16, 24, 32):
        raise BadValueError(
            "a step is a 4th, 8th, 16th or 32nd note (or an 8th or 16th triplet), "
            f"not 1/{division}",
            column=column,
        )
    return validate(f"/seq/{module_id}/step", (division,))


def set_step(intent: SetStep, context: Context) -> Mapped:
    column = intent.column("module", intent.column("value"))
    named = module_id = _track_module(intent.module, context, column, "every")
    note = ""
    if is_processor(context.modules[named]):
        module_id = _feeder(named, context, column, "the steps",
                            lambda m: f"every 1/{intent.division} on {m}")  # fmt: skip
        note = f"the track playing into {named}"
    message = _step(module_id, intent.division, column)
    return Mapped(intent, (message,), focus=named, note=note, aside=bool(note))


def set_lane(intent: SetLane, context: Context) -> Mapped:
    column = intent.column("module", intent.column("param"))
    module_id, kind = module_of(intent.module, context, column, "a lane")
    spec = find_param(kind, canonical_param(intent.param))
    if spec is None:
        raise UnknownParamError(
            f'{module_id} ({kind}) has no parameter "{intent.param}"',
            column=intent.column("param"),
            hint=did_you_mean(intent.param, param_names(kind)),
        )
    from chronus.seq.lanes import parse_lane

    try:
        values = parse_lane(intent.values)
    except ValueError as exc:
        raise BadValueError(f"lane: {exc}", column=intent.column("values")) from None
    for value in values:
        if value is not None and not spec.minimum <= value <= spec.maximum:
            raise BadValueError(
                f"lane value {value:g} is outside {spec.range_text}",
                column=intent.column("values"),
            )
    message = validate(f"/seq/{module_id}/lane", (spec.name, intent.values))
    # A lane plays its track's own module; say so where the rule of `targets` would not.
    found = reach(module_id, kind, spec.name, context)
    note = ""
    if found is not None and found[0] != module_id:
        note = f"the lane moves {module_id}'s own {spec.name}, behind {found[0]}"
    return Mapped(intent, (message,), focus=module_id, note=note)


def _has_pattern(module_id: str, context: Context, column: int, verb: str) -> None:
    track = context.tracks.get(module_id)
    if track is None or track.pattern is None:
        raise BadValueError(
            f"{module_id} has no pattern to {verb}",
            column=column,
            hint=f"give it one first: {module_id} x . x .  or  play c2 eb2 every 16th on "
            f"{module_id}",
        )


def start(intent: Start, context: Context) -> Mapped:
    if intent.again:  # stopped and started at one sample: beat 0 is where the line applies
        return Mapped(intent, (validate("/seq/stop", ()), validate("/seq/start", ())))
    return _transport(intent, context, "start")


def stop(intent: Stop, context: Context) -> Mapped:
    return _transport(intent, context, "stop")


def _transport(intent: Start | Stop, context: Context, action: str) -> Mapped:
    """`start`/`stop` the transport, or the tracks of the named modules."""
    if intent.module is None:
        return Mapped(intent, (validate(f"/seq/{action}", ()),))
    messages = []
    for target in context.targets(intent.module):
        module_id = _track_module(target, context, intent.column("module"), action)
        _has_pattern(module_id, context, intent.column("module"), action)
        messages.append(validate(f"/seq/{module_id}/{action}", ()))
    return Mapped(intent, tuple(messages))


def clear(intent: Clear, context: Context) -> Mapped:
    module_id = _track_module(intent.module, context, intent.column("module"), "clear")
    if module_id not in context.tracks:
        raise BadValueError(f"{module_id} has no track to clear", column=intent.column("module"))
    return Mapped(intent, (validate(f"/seq/{module_id}/clear", ()),), focus=module_id)
