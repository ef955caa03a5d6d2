"""Relative changes, modulation and transposition: the intents that read known values.

Amounts (a musician's ear, written down):

| change | normal | "a bit" | "much" |
|---|---|---|---|
| darker / brighter (a cutoff in hz) | ×0.7 / ×1.4 | ×0.85 / ×1.18 | ×0.5 / ×2 |
| more / less of a frequency (hz) | ×1.4 / ×0.7 | ×1.18 / ×0.85 | ×2 / ×0.5 |
| louder / quieter (volume), any dB parameter | ±3 dB | ±1.5 dB | ±6 dB |
| more / less resonance, wetter / drier (mix) | ±0.1 | ±0.05 | ±0.25 |
| wider / narrower (a reverb's width, 0–2) | ±0.25 | ±0.125 | ±0.625 |
| longer / shorter, more / less of a time | ×1.5 / ÷1.5 | ×1.25 / ÷1.25 | ×2.25 / ÷2.25 |
| anything else (drive, tone, damp, …) | ±10 % of its range | ±5 % | ±25 % |

Every result is clamped to the parameter's range, and the shell is told what changed
(`acid1 cutoff 400 → 280 Hz`). Which module and parameter a word reaches is
`chronus.lang.targets`' rule, the same as for `cutoff 800`: darker, brighter, cutoff and
resonance reach the filter a sound goes through; a parameter the module lacks (`wetter` on
a synth) is looked for along its chain.

Transposing a module with a pattern sets its track's transpose (the running total); a module
without a pattern replays its last note or chord shifted, so the musician hears the result.

>>> from chronus.lang.interpreter import Interpreter
>>> interpreter = Interpreter()
>>> def osc(line):
...     return [m.to_list() for m in interpreter.interpret(line).messages]
>>> osc("add a saw bass through an acid filter; make it darker")[-1]
['/mod/acid1/cutoff', 280.0]
>>> osc("a bit quieter"), osc("longer release")
([['/mod/bass/volume', -7.5]], [['/mod/bass/release', 0.375]])
>>> osc("play c3 for 1 beat; up an octave")[-1]
['/note/bass', 60.0, 100.0, 0.5]
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from chronus.dsp.specs import DRUM_TYPES, modulatable
from chronus.lang.context import Context, Track
from chronus.lang.errors import BadValueError, UnknownParamError, did_you_mean
from chronus.lang.intents import Adjust, Modulate, Transpose, exact
from chronus.lang.modules import ParamSpec, find_param, is_modulator, is_processor, param_names
from chronus.lang.music import note_name
from chronus.lang.resolve import Mapped, module_of, note_messages
from chronus.lang.targets import (
    TRACK_SETTINGS,
    brightness,
    change_note,
    every_track,
    no_track,
    reach,
    track_owners,
)
from chronus.lang.vocabulary import with_article
from chronus.protocol import Message, canonical_param, validate

__all__ = ["adjust", "modulate", "transpose"]

_FREQUENCY = {None: Fraction(14, 10), "bit": Fraction(118, 100), "much": Fraction(2)}
_DARKER = {None: Fraction(7, 10), "bit": Fraction(85, 100), "much": Fraction(1, 2)}
_TIME = {None: Fraction(3, 2), "bit": Fraction(5, 4), "much": Fraction(9, 4)}
_SCALE = {None: Fraction(1), "bit": Fraction(1, 2), "much": Fraction(5, 2)}
_DECIBELS = Fraction(3)
_STEPS = {"res": Fraction(1, 10), "mix": Fraction(1, 10), "width": Fraction(1, 4)}
_SHAPES = {"sine": 0.0, "triangle": 1.0, "saw": 2.0, "square": 3.0, "random": 4.0}
_PITCH_PARAMS = ("pitch", "bend", "vibrato", "fine")
_STYLE_SYNC = {"wobble": 0.5, "sweep": 16.0}
"""The cycle in beats of a style said without a rate: a wobble in 8ths, a sweep over 4 bars."""
_NEEDS_PARAM = {"more", "less", "higher", "lower", "longer", "shorter"}
_WORD_PARAM = {
    "louder": "volume", "quieter": "volume", "wetter": "mix", "drier": "mix",
    "wider": "width", "narrower": "width", "dirtier": "drive", "cleaner": "drive",
    "squelchier": "res", "less squelchy": "res",
}  # fmt: skip
_UP = {
    "brighter", "louder", "wetter", "wider", "dirtier", "squelchier", "more", "higher", "longer",
}  # fmt: skip


def adjust(intent: Adjust, context: Context) -> Mapped:
    """`make it darker`, `a bit quieter`, `more resonance on acid1`, `longer release`, `more
    swing` (a track's setting: the focus's track, or every track with nothing in focus)."""
    column = intent.column("module", intent.column("word"))
    setting = canonical_param(intent.param or "")
    if setting in TRACK_SETTINGS and intent.module is None and context.focus is None:
        return _adjust_tracks(intent, every_track(context), setting, context, "every track")
    messages: list[Message] = []
    notes: list[str] = []
    focus = None
    for target in context.targets(intent.module):
        module_id, kind = module_of(target, context, column, intent.word)
        if setting in TRACK_SETTINGS and find_param(kind, setting) is None:
            owners, why = track_owners(module_id, context)
            found = _adjust_tracks(intent, owners, setting, context, why)
            return replace(found, focus=module_id)
        message, note = _adjust_one(intent, module_id, kind, context)
        if message not in messages:  # `them` may name a synth and the filter it goes through
            messages.append(message)
            notes.append(note)
        focus = focus or module_id
    return Mapped(intent, tuple(messages), focus=focus, note="; ".join(notes))


def _adjust_tracks(
    intent: Adjust, tracks: list[str], name: str, context: Context, why: str
) -> Mapped:
    """`more swing`, `a bit less gate`: each of `tracks` moved a tenth of the setting's
    range (a bit: half that, much: two and a half times), within it."""
    if not tracks:
        raise no_track(name, intent.column("param", intent.column("word")), f"more {name}")
    low, high = TRACK_SETTINGS[name]
    step = Fraction(1, 10) * _SCALE[intent.degree] * (1 if intent.word in _UP else -1)
    messages, notes = [], []
    for track in tracks:
        current = getattr(context.tracks.get(track, Track()), name)
        value = float(min(Fraction(high), max(Fraction(low), exact(current) + step)))
        messages.append(validate(f"/seq/{track}/{name}", (value,)))
        shown = (f"{100 * current:g} → {100 * value:g}%" if name == "swing"
                 else f"{current:g} → {value:g}")  # fmt: skip
        notes.append(f"{track} {name} {shown}")
    note = "; ".join(notes) + (f" ({why})" if why else "")
    return Mapped(intent, tuple(messages), note=note)


def _adjust_one(intent: Adjust, module_id: str, kind: str, context: Context) -> tuple[Message, str]:
    up = intent.word in _UP
    if intent.word in ("darker", "brighter"):
        owner, spec = _brightness(module_id, kind, context, intent.column("word"))
        if spec.name == "damp":
            up = not up  # darker = more damping
    else:
        name = _WORD_PARAM.get(intent.word) or canonical_param(intent.param or "")
        if not name and intent.word in ("longer", "shorter"):  # `make the kick shorter`
            name = "decay" if kind in DRUM_TYPES else "release"
        column = intent.column("param", intent.column("word"))
        owner, spec = _find_along_chain(module_id, kind, name, context, column, intent.word)
        if intent.word in ("longer", "shorter") and spec.unit not in ("s", "ms", "beats"):
            raise BadValueError(
                f"{spec.name} is not a time; {intent.word} works on attack, decay, release…",
                column=column,
                hint=f"more {spec.name}, less {spec.name}",
            )
    current = context.params.get(owner, {}).get(spec.name, spec.default)
    value = _changed(spec, current, up, intent.degree)
    value = min(spec.maximum, max(spec.minimum, value))
    message = validate(f"/mod/{owner}/{spec.name}", (value,))
    return message, change_note(owner, spec, current, value)


def _changed(spec: ParamSpec, current: float, up: bool, degree: str | None) -> float:
    value = exact(current)
    if spec.unit == "hz":
        factor = _FREQUENCY[degree] if up else _DARKER[degree]
        return float(value * factor)
    if spec.unit in ("s", "ms", "beats"):
        if value <= 0 and up:
            floor = {"s": Fraction(1, 100), "ms": Fraction(10), "beats": Fraction(1, 4)}
            return float(floor[spec.unit])
        factor = _TIME[degree]
        return float(value * factor if up else value / factor)
    if spec.unit == "db":
        step = _DECIBELS * _SCALE[degree]
    elif spec.name in _STEPS:
        step = _STEPS[spec.name] * _SCALE[degree]
    else:
        step = (exact(spec.maximum) - exact(spec.minimum)) / 10 * _SCALE[degree]
    return float(value + step if up else value - step)


def _brightness(module_id: str, kind: str, context: Context, column: int) -> tuple[str, ParamSpec]:
    """Where darker/brighter acts: (module, parameter)."""
    found = brightness(module_id, kind, context)
    if found is None:
        hint = f"route it through a filter: {module_id} through acid"
        if is_modulator(kind):
            # An lfo has no sound to route: name the sound it moves, or any.
            moved = [dst for lfo, dst, _ in context.modulations if lfo == module_id]
            sounds = moved + [m for m, k in context.modules.items() if not is_modulator(k)]
            hint = f"an {kind} makes no sound: name one" + (
                f" (focus {sounds[0]})" if sounds else ""
            )
        raise BadValueError(
            f"{module_id} ({kind}) has nothing that makes it darker or brighter",
            column=column,
            hint=hint,
        )
    return found


def _find_along_chain(
    module_id: str, kind: str, name: str, context: Context, column: int, word: str
) -> tuple[str, ParamSpec]:
    found = reach(module_id, kind, name, context)
    if found is not None:
        return found
    if name in ("mix", "width"):
        raise BadValueError(
            f"{module_id} goes through no effect to make {word}"
            + (" (width is a reverb's)" if name == "width" else ""),
            column=column,
            hint=f"add one: {module_id} through reverb",
        )
    names = param_names(kind)
    raise UnknownParamError(
        f'{module_id} ({kind}) has no parameter "{name}"',
        column=column,
        expected=[n for n in names if n == canonical_param(n)],
        hint=did_you_mean(name, names),
    )


# ---- modulation ---------------------------------------------------------------------------
def modulate(intent: Modulate, context: Context) -> Mapped:
    """`lfo on bass cutoff at 1/8 depth 50%`, `wobble the bass`, `vibrato on lead`."""
    column = intent.column("module", 1)
    module_id, kind = module_of(intent.module, context, column, intent.style)
    if is_modulator(kind):
        raise BadValueError(f"{module_id} is an {kind} itself", column=column)
    owner, spec = _modulation_target(intent, module_id, kind, context)
    driving = [lfo for lfo, dst, param in context.modulations if (dst, param) == (owner, spec.name)]
    said = (intent.rate, intent.sync, intent.depth, intent.shape) != (None,) * 4
    if driving and not said:
        raise BadValueError(
            f"{owner} {spec.name} is already modulated by {driving[0]}",
            column=intent.column("param", column),
            hint=f"say how it moves ({intent.style} {intent.module or module_id} at 1/16, "
            f"depth 30%), or remove {driving[0]} first",
        )
    lfo = driving[0] if driving else context.new_id("lfo")
    settings: dict[str, tuple[float, int]] = {}
    rate, sync, depth = intent.rate, intent.sync, intent.depth
    if intent.style in _STYLE_SYNC and rate is None and sync is None and not driving:
        sync = _STYLE_SYNC[intent.style]
    if intent.style == "vibrato":
        rate = 5.5 if rate is None and sync is None else rate
        depth = 0.02 if depth is None else depth
    if rate is not None:
        settings["rate"] = (rate, intent.column("rate", column))
    if sync is not None:
        settings["sync"] = (sync, intent.column("rate", column))
    if depth is not None:
        settings["depth"] = (depth, intent.column("depth", column))
    if intent.shape is not None:
        settings["shape"] = (_SHAPES[intent.shape], column)
    if rate is not None and driving:
        settings["sync"] = (0.0, intent.column("rate", column))  # a rate in hz, no longer synced
    messages = [] if driving else [validate("/patch/create", (lfo, "lfo"))]
    for name, (value, at) in settings.items():
        lfo_spec = find_param("lfo", name)
        assert lfo_spec is not None
        if not lfo_spec.minimum <= value <= lfo_spec.maximum:
            shown = {"sync": f"{value:g} beats", "depth": f"{value * 100:g}%"}
            raise BadValueError(
                f"lfo {name} must be within {lfo_spec.range_text}, "
                f"got {shown.get(name, f'{value:g}')}",
                column=at,
            )
        messages.append(validate(f"/mod/{lfo}/{name}", (value,)))
    if not driving:
        messages.append(validate("/patch/modulate", (lfo, owner, spec.name)))
    context.group = (module_id, lfo)
    return Mapped(intent, tuple(messages), focus=module_id, note=f"{lfo} → {owner} {spec.name}")


def _modulation_target(
    intent: Modulate, module_id: str, kind: str, context: Context
) -> tuple[str, ParamSpec]:
    column = intent.column("param", intent.column("module", 1))
    if intent.style == "vibrato":
        for name in _PITCH_PARAMS:
            spec = find_param(kind, name)
            if spec is not None and modulatable(spec):
                return module_id, spec
        raise BadValueError(
            f"vibrato needs a pitch the engine can glide, and a {kind} has none",
            column=column,
            hint=f"lfo on {module_id} cutoff (a wobble), or lfo on {module_id} amp (tremolo)",
        )
    if intent.param is None:
        owner, spec = _brightness(module_id, kind, context, column)
    else:
        owner, spec = _find_along_chain(
            module_id, kind, canonical_param(intent.param), context, column, "lfo"
        )
    if not modulatable(spec):
        choices = [s.name for s in _specs(context.modules[owner]) if modulatable(s)]
        raise BadValueError(
            f"{owner} {spec.name} switches, it does not glide: an lfo cannot drive it",
            column=column,
            expected=choices,
            hint=did_you_mean(spec.name, choices) or "e.g. " + ", ".join(choices[:4]),
        )
    return owner, spec


def _specs(kind: str) -> tuple[ParamSpec, ...]:
    from chronus.lang.modules import param_specs

    return param_specs(kind)


# ---- transposition ------------------------------------------------------------------------
def transpose(intent: Transpose, context: Context) -> Mapped:
    """Shift a module's pattern (track transpose), or replay its last notes shifted."""
    column = intent.column("module", intent.column("value"))
    module_id, kind = module_of(intent.module, context, column, "transpose")
    if is_processor(kind):
        return _transpose_into(intent, module_id, kind, context)
    track = context.tracks.get(module_id)
    if track is not None and track.pattern is not None:
        message = _shifted_track(intent, module_id, context)
        total = int(message.args[0])
        return Mapped(
            intent, (message,), focus=module_id, note=f"{module_id} pattern at {total:+d}"
        )
    last = context.last_notes.get(module_id)
    if last is None or kind in DRUM_TYPES:
        raise BadValueError(
            f"{module_id} has no pattern and has played no note: nothing to transpose",
            column=column,
            hint=f"play c3 on {module_id}, or give it a pattern: {module_id} c2 eb2 g2",
        )
    notes, velocity, seconds = last
    shifted = tuple(note + intent.semitones for note in notes)
    if not all(0 <= note <= 127 for note in shifted):
        raise BadValueError("that would go outside MIDI (c-1 to g9)", column=intent.column("value"))
    messages = note_messages(module_id, shifted, velocity, seconds, column)
    context.last_notes[module_id] = (shifted, velocity, seconds)
    return Mapped(intent, messages, focus=module_id, note=f"{module_id} plays {_names(shifted)}")


def _shifted_track(intent: Transpose, module_id: str, context: Context) -> Message:
    """The message that shifts the pattern of `module_id` (which has one) by the intent's."""
    track = context.tracks[module_id]
    total = track.transpose + intent.semitones
    if not -48 <= total <= 48:
        raise BadValueError(
            f"{module_id} would be transposed by {total:+d}; the limit is ±48 semitones",
            column=intent.column("value"),
            hint=f"it is at {track.transpose:+d} now",
        )
    return validate(f"/seq/{module_id}/transpose", (total,))


def _transpose_into(intent: Transpose, module_id: str, kind: str, context: Context) -> Mapped:
    """`up an octave` said of a filter or an effect: the patterns of the tracks that play
    into it (or of every track, if none does), as for swing."""
    owners, why = track_owners(module_id, context)
    playing = [m for m in owners if (t := context.tracks.get(m)) and t.pattern is not None]
    if not playing:
        raise BadValueError(
            f"{module_id} is {with_article(kind)}: no pattern plays into it to transpose",
            column=intent.column("module", intent.column("value")),
            hint="give a module a pattern first (bass: c2 eb2 g2), then transpose bass +5",
        )
    messages = tuple(_shifted_track(intent, m, context) for m in playing)
    return Mapped(intent, messages, focus=module_id, note=why, aside=True)


def _names(notes: tuple[float, ...]) -> str:
    return " ".join(note_name(note) for note in notes)
