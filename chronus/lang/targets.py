"""Which module and parameter a word reaches: one rule for the absolute and the relative forms.

A module word (a name, `it`, or nothing: the focus) stands for the sound that module makes,
as an engineer hears it at the end of its chain. So the words that shape a sound's tone —
`cutoff`, `res` (resonance, q), darker and brighter, a wobble — reach the filter the sound
goes through:

1. on a filter, its own;
2. on anything else (a synth, a drum, an effect), the nearest filter after it in its chain
   (the first one routed when two are as near);
3. with no filter after it, its own: a synth's built-in low-pass, and for darker and
   brighter a drum's `tone`, a reverb's or a delay's `damp`, a distortion's `tone`.

`drive` reaches the distortion the sound goes through by the same rule: an acid bass called
`b` is `b → b_f → b_drive`, and `more drive on b` turns up `b_drive` (the synth's and the
acid filter's own drive stay for a sound with no distortion after it, and for raw OSC).

Every other parameter is the module's own; one it lacks is looked for along its chain,
nearest first (`wetter` or `room 0.8` on a synth reach the reverb after it). `cutoff 1000`,
`more cutoff`, `darker` and `lfo on bass cutoff` therefore all move the same knob. A synth's
built-in filter behind another filter is still there for raw OSC: `/mod/bass/cutoff 800`.
And `the filter` (`resonance 0.8 on the filter`) names the filter the focus goes through, or
the nearest one before it, or the patch's only one (`Context.filter_near`).

A track's settings (`swing 20%`, `gate 0.3`, `transpose +5`) belong to what plays a pattern:
said of a filter or an effect they reach the tracks of the sounds that play into it, and of a
processor nothing plays into, every track there is (`track_owners`).

>>> from chronus.lang.interpreter import Interpreter
>>> interpreter = Interpreter()
>>> def osc(line):
...     result = interpreter.interpret(line)
...     return [m.to_list() for m in result.messages], result.notes
>>> osc("add a saw bass through an acid filter")[1]
[]
>>> osc("cutoff 1000")
([['/mod/acid1/cutoff', 1000.0]], ['acid1 cutoff 400 → 1000 Hz'])
>>> osc("darker")
([['/mod/acid1/cutoff', 700.0]], ['acid1 cutoff 1000 → 700 Hz'])
"""

from __future__ import annotations

from chronus.dsp.specs import FILTER_TYPES
from chronus.lang.context import Context
from chronus.lang.errors import BadValueError
from chronus.lang.modules import ParamSpec, find_param, is_modulator, is_processor

__all__ = [
    "TONE_PARAMS",
    "TRACK_SETTINGS",
    "brightness",
    "change_note",
    "every_track",
    "no_track",
    "reach",
    "sources_into",
    "track_owners",
]

TONE_PARAMS = frozenset({"cutoff", "res"})
"""Canonical parameters that belong to the filter a sound goes through."""

_CHAIN_OWNERS: dict[str, tuple[str, ...]] = {
    **{param: FILTER_TYPES for param in TONE_PARAMS},
    "drive": ("distortion",),
}
"""Canonical parameter → the module types along a chain that own it for the whole sound."""

_BRIGHTNESS = ("cutoff", "tone", "damp")
"""What darker and brighter move on a module with no filter after it, in this order."""

_UNITS = {"hz": "Hz", "khz": "kHz", "db": "dB"}

TRACK_SETTINGS: dict[str, tuple[float, float]] = {"swing": (0.0, 0.75), "gate": (0.01, 1.0)}
"""Settings of a module's track that read like parameters (`swing 20%`, `bass gate 0.3`)."""


def reach(module_id: str, kind: str, param: str, context: Context) -> tuple[str, ParamSpec] | None:
    """The (module, parameter) that the canonical `param` said about `module_id` moves, or
    None if neither it nor anything along its chain has one."""
    owners = _CHAIN_OWNERS.get(param)
    if owners is not None:
        node = context.sound_through(module_id, owners)
        spec = None if node is None else find_param(context.modules[node], param)
        if node is not None and spec is not None:
            return node, spec
    spec = find_param(kind, param)
    if spec is not None:
        return module_id, spec
    for node in context.downstream(module_id):
        spec = find_param(context.modules.get(node, ""), param)
        if spec is not None:
            return node, spec
    return None


def track_owners(module_id: str, context: Context) -> tuple[list[str], str]:
    """The modules whose track a track setting said of `module_id` moves, and why, when they
    are others: itself, unless it is a processor (a filter or an effect plays no pattern):
    then the sounds that play into it, nearest first, else every track of the patch (none
    if it has none)."""
    if not is_processor(context.modules.get(module_id, "")):
        return [module_id], ""
    sources = sources_into(module_id, context)
    if sources:
        return sources, f"the track{'s' if len(sources) > 1 else ''} playing into {module_id}"
    return every_track(context), f"every track: nothing plays into {module_id}"


def sources_into(module_id: str, context: Context) -> list[str]:
    """The modules that play (synths, drums, sounds of plugins) whose sound goes into
    `module_id`, nearest first."""
    seen: list[str] = []
    todo = [module_id]
    while todo:
        for src in context.inputs(todo.pop(0)):
            if src not in seen and src != module_id:
                seen.append(src)
                todo.append(src)
    return [m for m in seen if _plays(context.modules.get(m, ""))]


def every_track(context: Context) -> list[str]:
    """The modules with a track that plays (not a processor's lanes), in creation order."""
    return [m for m in context.tracks if _plays(context.modules.get(m, ""))]


def no_track(name: str, column: int, then: str) -> BadValueError:
    """The error for a track setting (`swing`) said when no track plays: what to do first,
    then `then`."""
    return BadValueError(
        f"which track? {name} belongs to a pattern's track, and none plays yet",
        column=column,
        hint=f"give a module a pattern first (bass: c2 eb2 g2), then {then}",
    )


def _plays(kind: str) -> bool:
    return bool(kind) and not is_processor(kind) and not is_modulator(kind)


def brightness(module_id: str, kind: str, context: Context) -> tuple[str, ParamSpec] | None:
    """Where darker and brighter act on `module_id`: (module, parameter), or None."""
    node = context.sound_filter(module_id)
    if node is not None:
        spec = find_param(context.modules[node], "cutoff")
        if spec is not None:
            return node, spec
    for name in _BRIGHTNESS:
        spec = find_param(kind, name)
        if spec is not None:
            return module_id, spec
    return None


def change_note(module_id: str, spec: ParamSpec, old: float, new: float) -> str:
    """What a change did, for the musician: `acid1 cutoff 400 → 280 Hz`."""
    unit = _UNITS.get(spec.unit, spec.unit)
    return f"{module_id} {spec.name} {old:g} → {new:g}{' ' + unit if unit else ''}"
