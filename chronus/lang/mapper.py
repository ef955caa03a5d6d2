"""Intents + context → canonical OSC messages. The mapper (this module and its parts:
`patching`, `playing`, `relative`, `undo`, with `resolve` and `targets` shared by them) is
the only place besides `chronus.protocol` that knows addresses, and the one place where units
are converted. Which module a parameter word reaches is `targets`' rule.

Every message is built with `protocol.validate`, so what leaves here is canonical. Anything
that cannot be mapped (an unknown module or parameter, a value out of range or in the wrong
unit, nothing in focus) raises a `ChronusSyntaxError` subclass pointing at the word at fault.
Here: tempo, parameters (and the track settings that read like them), undo and redo,
recording, the key, raw OSC; the table of which part maps which intent.

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
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from chronus.lang import relative
from chronus.lang.context import Context
from chronus.lang.errors import (
    BadValueError,
    ChronusSyntaxError,
    UnknownModuleError,
    UnknownParamError,
    did_you_mean,
)
from chronus.lang.intents import (
    AddModule,
    AddSound,
    Adjust,
    ChangeTempo,
    Clear,
    Connect,
    Disconnect,
    Intent,
    LinkQuantum,
    LinkSession,
    LinkStartStop,
    Midi,
    Modulate,
    Panic,
    PlayChord,
    PlayNote,
    Plugin,
    RawOsc,
    Record,
    Redo,
    Remove,
    Replay,
    Route,
    SetKey,
    SetLane,
    SetParam,
    SetPattern,
    SetStep,
    SetTempo,
    ShellCommand,
    Snapshot,
    Start,
    Stop,
    StopRecording,
    Transpose,
    Undo,
    Wait,
    exact,
)
from chronus.lang.modules import (
    builtin_types,
    find_param,
    is_modulator,
    param_names,
)
from chronus.lang.native import native_plugins
from chronus.lang.parser import COMMAND_KEYWORDS, keywords
from chronus.lang.patching import add_module, add_sound, connect, disconnect, remove, route
from chronus.lang.playing import (
    clear,
    play_chord,
    play_note,
    set_lane,
    set_pattern,
    set_step,
    start,
    stop,
)
from chronus.lang.resolve import Mapped, checked, convert_value, module_of
from chronus.lang.targets import (
    TRACK_SETTINGS,
    change_note,
    every_track,
    no_track,
    reach,
    track_owners,
)
from chronus.lang.undo import diff_messages
from chronus.protocol import (
    ADDRESS_SPACE,
    MAX_RECORD_FRAMES,
    Message,
    ProtocolError,
    canonical_param,
    find_spec,
    validate,
)

__all__ = [
    "DEFAULT_VELOCITY",
    "HISTORY_LIMIT",
    "TAKE",
    "TRACK_SETTINGS",
    "Mapped",
    "convert_value",
    "map_intent",
    "map_intents",
    "module_of",
]

DEFAULT_VELOCITY = 100.0
"""Velocity of a note when the line names none."""

HISTORY_LIMIT = 100
"""How many lines `undo` can go back."""

TAKE = re.compile(r"take([0-9]{1,6})\.wav")
"""The name `record` gives a take when the line names none (take1.wav, take2.wav, …)."""


def map_intents(intents: Iterable[Intent], context: Context) -> list[Mapped]:
    """Map intents in order, updating `context` after each (so `tempo 90; play c3 for 1 beat`
    uses 90 bpm). Pass a copy of the context if the line may still fail.
    """
    out: list[Mapped] = []
    for intent in intents:
        mapped = map_intent(intent, context)
        for message in mapped.messages:
            context.observe(message)
        if mapped.focus is not None and mapped.focus in context.modules:
            context.focus = mapped.focus
        out.append(mapped)
    return out


def map_intent(intent: Intent, context: Context) -> Mapped:
    """Map one intent against the context.

    The patch mirror is only read here (`map_intents` applies the messages); the memory that
    is not the engine's — last notes, key, the group `them` means, undo stacks — is updated.
    """
    handler = _HANDLERS.get(type(intent))
    if handler is None:
        raise TypeError(f"not an intent: {intent!r}")
    return handler(intent, context)


def _set_tempo(intent: SetTempo, context: Context) -> Mapped:
    args: tuple[object, ...] = (intent.bpm, 1) if intent.now else (intent.bpm,)
    return Mapped(intent, (checked("/tempo", args, intent.column("bpm"), "tempo"),))


def _change_tempo(intent: ChangeTempo, context: Context) -> Mapped:
    bpm = float(exact(context.tempo) * exact(intent.factor))
    bpm = min(400.0, max(20.0, round(bpm, 3)))
    return Mapped(intent, (validate("/tempo", (bpm,)),))


def _setting_first(intent: SetParam, context: Context) -> SetParam:
    """`swing the hat 20%`, `gate bass 0.3`: a track's setting said before its module (which
    the grammar reads as a module "swing" with a parameter "hat"), unless a module is so called."""
    if intent.module is None or intent.module in context.modules:
        return intent
    if canonical_param(intent.module) not in TRACK_SETTINGS:
        return intent
    swapped = {"module": intent.column("param"), "param": intent.column("module")}
    at = tuple((part, swapped.get(part, column)) for part, column in intent.at)
    return replace(intent, module=intent.param, param=intent.module, at=at)


def _set_param(intent: SetParam, context: Context) -> Mapped:
    intent = _setting_first(intent, context)
    param_column = intent.column("param")
    if intent.module is None and context.focus is None:
        hint = did_you_mean(intent.param, COMMAND_KEYWORDS)
        if hint:
            raise ChronusSyntaxError(
                f'"{intent.param}" is not a command', column=param_column, hint=hint
            )
    canonical = canonical_param(intent.param)
    if intent.module is None and context.focus is None and canonical in TRACK_SETTINGS:
        return _on_every_track(intent, canonical, context)
    messages: list[Message] = []
    notes: list[str] = []
    focus = None
    aside = False
    for target in context.targets(intent.module):
        module_id, kind = module_of(
            target, context, intent.column("module", param_column), f'"{intent.param}"'
        )
        sent, note, beside = _param_messages(intent, module_id, kind, context)
        aside = aside or beside
        for message in sent:
            if message not in messages:  # `them` may name a synth and the filter it goes through
                messages.append(message)
                notes.append(note)
        focus = focus or module_id
    note = "; ".join(dict.fromkeys(n for n in notes if n))
    return Mapped(intent, tuple(messages), focus=focus, note=note, aside=aside)


def _on_every_track(intent: SetParam, name: str, context: Context) -> Mapped:
    """`swing 20%` with nothing in focus: the whole transport's, every track's."""
    tracks = every_track(context)
    if not tracks:
        raise no_track(name, intent.column("param"), f"{name} 20% on bass")
    messages = tuple(_track_setting(intent, track, name) for track in tracks)
    return Mapped(intent, messages, note="every track: nothing is in focus", aside=True)


def _param_messages(
    intent: SetParam, module_id: str, kind: str, context: Context
) -> tuple[list[Message], str, bool]:
    """The messages, a note when the parameter is another module's (the rule of
    `chronus.lang.targets` sent it along the chain), and whether the note is an aside."""
    param_column = intent.column("param")
    canonical = canonical_param(intent.param)
    own = find_param(kind, canonical)
    if own is None and canonical in (*TRACK_SETTINGS, "transpose") and not is_modulator(kind):
        owners, why = track_owners(module_id, context)
        if not owners:
            raise BadValueError(
                f"{canonical} belongs to a pattern's track: {module_id} is a {kind}, nothing "
                "plays into it and no track plays yet",
                column=param_column,
                hint=f"{canonical} 20% on a module that plays a pattern (bass: c2 eb2 g2)",
            )
        return [_track_setting(intent, owner, canonical) for owner in owners], why, bool(why)
    found = reach(module_id, kind, canonical, context)
    if found is None:
        names = param_names(kind)
        hint = did_you_mean(intent.param, [*names, *TRACK_SETTINGS])
        if not hint and intent.module is None:
            hint = did_you_mean(intent.param, COMMAND_KEYWORDS)
        raise UnknownParamError(
            f'{module_id} ({kind}) has no parameter "{intent.param}"',
            column=param_column,
            expected=[s for s in names if s == canonical_param(s)],
            hint=hint or "parameters: " + " ".join(n for n in names if n == canonical_param(n)),
        )
    owner, spec = found
    value = convert_value(
        intent.value, intent.unit, spec, context.tempo, intent.column("unit", param_column)
    )
    if not spec.minimum <= value <= spec.maximum:
        raise BadValueError(
            f"{spec.name} must be within {spec.range_text}, got {value:g}",
            column=intent.column("value", param_column),
            hint=f"default: {spec.default:g}{' ' + spec.unit if spec.unit else ''}",
        )
    message = checked(f"/mod/{owner}/{spec.name}", (value,), intent.column("value", 1), spec.name)
    if owner == module_id:
        return [message], "", False
    current = context.params.get(owner, {}).get(spec.name, spec.default)
    return [message], change_note(owner, spec, current, value), False


def _track_setting(intent: SetParam, module_id: str, name: str) -> Message:
    column = intent.column("value", 1)
    if intent.unit not in (None, "%"):
        raise BadValueError(
            f'{name} is a plain number or a percentage, not "{intent.unit}"',
            column=intent.column("unit", column),
        )
    value = float(exact(intent.value) / 100) if intent.unit == "%" else intent.value
    if name == "transpose":
        if value != int(value) or not -48 <= value <= 48:
            raise BadValueError("transpose takes whole semitones, -48 to 48", column=column)
        return validate(f"/seq/{module_id}/transpose", (int(value),))
    low, high = TRACK_SETTINGS[name]
    if not low <= value <= high:
        raise BadValueError(
            f"{name} must be within {low:g}–{high:g}, got {value:g}",
            column=column,
            hint="swing 20%, gate 0.5",
        )
    return validate(f"/seq/{module_id}/{name}", (value,))


def _undo(intent: Undo, context: Context) -> Mapped:
    if not context.history and context.attached and not context.future:
        raise BadValueError(
            "nothing to undo since this shell attached: undo goes back the lines typed here, "
            "and the engine's session log does not tell how the patch it found was made",
            hint=_change_hint(context),
        )
    if not context.history:
        raise BadValueError("nothing to undo", hint="undo goes back lines that changed the patch")
    steps = min(intent.steps, len(context.history))
    current = context.state()
    target = context.history[-steps]
    path = tuple(reversed(context.history[-steps:]))
    context.future.append(current)
    context.future.extend(reversed(context.history[-steps + 1 :] if steps > 1 else []))
    del context.history[-steps:]
    note = f"undid {steps} line{'s' if steps > 1 else ''}"
    if steps < intent.steps:
        note += f" (all there were; asked for {intent.steps})"
    return Mapped(intent, tuple(diff_messages(current, target)), note=note, path=path)


def _change_hint(context: Context) -> str:
    """How to change a patch this shell found, in its own modules' words."""
    modules = [m for m, kind in context.modules.items() if not is_modulator(kind)]
    if not modules:
        return "the patch is empty: add a saw called bass, then undo takes it back"
    last = modules[-1]
    return f"change it by name (remove {last}, mute {last}) or load a snapshot (snapshots)"


def _redo(intent: Redo, context: Context) -> Mapped:
    if not context.future:
        raise BadValueError("nothing to redo", hint="redo takes back an undo")
    steps = min(intent.steps, len(context.future))
    current = context.state()
    path = tuple(reversed(context.future[-steps:]))
    context.history.append(current)
    for _ in range(steps - 1):
        context.history.append(context.future.pop())
    target = context.future.pop()
    note = f"redid {steps}"
    return Mapped(intent, tuple(diff_messages(current, target)), note=note, path=path)


def _record(intent: Record, context: Context) -> Mapped:
    length: tuple[int, ...] = ()
    if intent.length is not None:
        # In frames: the engine stops the recording by itself, on that exact frame.
        frames = round(intent.length.seconds(context.tempo) * context.rate)
        if not 1 <= frames <= MAX_RECORD_FRAMES:
            hours = MAX_RECORD_FRAMES / context.rate / 3600
            raise BadValueError(
                f"a recording lasts from 1 sample to {hours:.1f} hours",
                column=intent.column("length"),
            )
        length = (frames,)
    path = intent.path
    if path is None:
        context.takes += 1
        path = f"take{context.takes}.wav"
    else:
        # A take named by hand is not overwritten by the next unnamed one.
        numbered = TAKE.fullmatch(path)
        if numbered is not None:
            context.takes = max(context.takes, int(numbered.group(1)))
    return Mapped(intent, (validate("/record/start", (path, *length)),))


def _stop_recording(intent: StopRecording, context: Context) -> Mapped:
    return Mapped(intent, (validate("/record/stop", ()),))


def _link_session(intent: LinkSession, context: Context) -> Mapped:
    return Mapped(intent, (validate("/link", (int(intent.on),)),))


def _link_start_stop(intent: LinkStartStop, context: Context) -> Mapped:
    return Mapped(intent, (validate("/link/sync", (int(intent.on),)),))


def _link_quantum(intent: LinkQuantum, context: Context) -> Mapped:
    return Mapped(
        intent, (checked("/link/quantum", (intent.beats,), intent.column("beats"), "link quantum"),)
    )


def _set_key(intent: SetKey, context: Context) -> Mapped:
    context.key, context.scale = intent.root, intent.scale
    return Mapped(intent)


def _raw_osc(intent: RawOsc, context: Context) -> Mapped:
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
    module_id, param = message.fields.get("id"), message.fields.get("param")
    kind = context.type_of(module_id or "")
    if message.address.startswith("/mod/") and kind is not None and param is not None:
        # A module the mirror knows: its parameters are known too. (An unknown module may be
        # another client's; the engine answers for it.)
        _check_param(str(module_id), kind, param, intent.column("address"))
    return Mapped(intent, (message,))


def _check_param(module_id: str, kind: str, param: str, column: int) -> None:
    """Raise `UnknownParamError` (with the type's parameters) if `kind` lacks `param`."""
    if find_param(kind, param) is None:
        names = [n for n in param_names(kind) if n == canonical_param(n)]
        raise UnknownParamError(
            f'{module_id} ({kind}) has no parameter "{param}"',
            column=column,
            expected=names,
            hint=did_you_mean(param, names) or "parameters: " + " ".join(names),
        )


def _native(intent: Plugin) -> str:
    """The `<library>#<label>` of the native plugin `load plugin` names."""
    assert intent.source is not None
    found = native_plugins().get(intent.source)
    if found is None:
        names = sorted(native_plugins())
        raise UnknownModuleError(
            f'no LADSPA plugin called "{intent.source}" was found',
            column=intent.column("source"),
            expected=names,
            hint=did_you_mean(intent.source, names)
            or "`chronus plugins scan` lists the LADSPA plugins installed",
        )
    return found.reference


def _plugin(intent: Plugin, context: Context) -> Mapped:
    """`/plugins/load <file> <name>` (or `<name>` alone, found in the engine's folders;
    then `0 isolated|inline` if the load named its hosting),
    `/plugins/reload <name>`, `/plugins/unload <name>`."""
    column = intent.column("name")
    loader = "load plugin" if intent.native else "load module"
    verb = loader if intent.action == "load" else intent.action
    if intent.name in builtin_types():
        if intent.action == "load":
            hint = f"give the plugin another name: {loader} {intent.source} as my{intent.name}"
        else:
            hint = "only plugins (load module …) " + intent.action
        raise BadValueError(f"{intent.name} is a built-in module type", column=column, hint=hint)
    if intent.name in keywords():
        raise BadValueError(
            f'"{intent.name}" is a word of the language: a module type cannot be called so',
            column=column,
            hint=f"give it another name: {loader} {intent.source} as my{intent.name}",
        )
    kind = context.type_of(intent.name)
    if intent.action != "load" and kind is not None:
        raise BadValueError(
            f"{intent.name} is a module (a {kind}); {intent.action} takes a plugin's name",
            column=column,
            hint=f"{verb} {kind}",
        )
    if intent.action != "load":
        return Mapped(intent, (validate(f"/plugins/{intent.action}", (intent.name,)),))
    assert intent.source is not None
    if intent.native:
        return Mapped(intent, (validate("/plugins/load", (_native(intent), intent.name)),))
    named = intent.file or intent.source != intent.name
    args: tuple[str | int, ...] = (intent.source, intent.name) if named else (intent.source,)
    if intent.hosting:
        args = (intent.source, intent.name if named else "", 0, intent.hosting)
    return Mapped(intent, (validate("/plugins/load", args),))


def _midi(intent: Midi, context: Context) -> Mapped:
    """`/midi/ports`, `/midi/in <port> <module>` (the focus when none is named),
    `/midi/to <module>`, `/midi/map <cc> <module> <param>`, `/midi/learn <module> <param>`,
    `/midi/outs`, `/midi/out <module> <port> <channel>`, `/midi/clock <on|off|port>`."""
    if intent.action == "ports":
        return Mapped(intent, (validate("/midi/ports", ()),))
    if intent.action == "in" and intent.port.lower() == "off":
        return Mapped(intent, (validate("/midi/in", ("off",)),))
    if intent.action == "outs":
        return Mapped(intent, (validate("/midi/outs", ()),))
    if intent.action == "clock":
        return Mapped(intent, (validate("/midi/clock", (intent.port,)),))
    what = "map cc" if intent.action == "map" else f"midi {intent.action}"
    module_id, kind = module_of(intent.module, context, intent.column("module"), what)
    if intent.action == "in":
        return Mapped(intent, (validate("/midi/in", (intent.port, module_id)),), focus=module_id)
    if intent.action == "to":
        return Mapped(intent, (validate("/midi/to", (module_id,)),), focus=module_id)
    if intent.action == "out":
        port = intent.port.lower() if intent.port.lower() == "off" else intent.port
        args = (module_id, port) if port == "off" else (module_id, port, intent.cc)
        return Mapped(intent, (validate("/midi/out", args),), focus=module_id)
    param = canonical_param(intent.param)
    if find_param(kind, param) is None:
        _check_param(module_id, kind, intent.param, intent.column("param"))
    if intent.action == "learn":
        return Mapped(intent, (validate("/midi/learn", (module_id, param)),))
    return Mapped(intent, (validate("/midi/map", (intent.cc, module_id, param)),))


def _nothing(intent: Intent, context: Context) -> Mapped:
    return Mapped(intent)


def _shell(intent: ShellCommand, context: Context) -> Mapped:
    """Shell words send nothing; `focus bass` puts a module in focus (checked here)."""
    if intent.name != "focus":
        return Mapped(intent)
    module_id, _ = module_of(intent.arg, context, intent.column("module"), "focus")
    return Mapped(intent, focus=module_id, note=f"focus: {module_id}")


def _wait(intent: Wait, context: Context) -> Mapped:
    return Mapped(intent, advance=intent.duration.seconds(context.tempo))


def _panic(intent: Panic, context: Context) -> Mapped:
    return Mapped(intent, (validate("/panic", ()),))


def _relative(intent: Intent, context: Context) -> Mapped:
    if isinstance(intent, Adjust):
        return relative.adjust(intent, context)
    if isinstance(intent, Modulate):
        return relative.modulate(intent, context)
    assert isinstance(intent, Transpose)
    return relative.transpose(intent, context)


_HANDLERS: dict[type, Callable[[Any, Context], Mapped]] = {
    SetTempo: _set_tempo,
    ChangeTempo: _change_tempo,
    AddModule: add_module,
    AddSound: add_sound,
    Route: route,
    Connect: connect,
    Disconnect: disconnect,
    Remove: remove,
    SetParam: _set_param,
    Adjust: _relative,
    PlayNote: play_note,
    PlayChord: play_chord,
    SetPattern: set_pattern,
    SetStep: set_step,
    SetLane: set_lane,
    Start: start,
    Stop: stop,
    Clear: clear,
    Panic: _panic,
    Modulate: _relative,
    Transpose: _relative,
    Undo: _undo,
    Redo: _redo,
    Snapshot: _nothing,
    Record: _record,
    StopRecording: _stop_recording,
    Replay: _nothing,
    LinkSession: _link_session,
    LinkStartStop: _link_start_stop,
    LinkQuantum: _link_quantum,
    SetKey: _set_key,
    RawOsc: _raw_osc,
    Wait: _wait,
    ShellCommand: _shell,
    Plugin: _plugin,
    Midi: _midi,
}
