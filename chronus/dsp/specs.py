"""The parameter table of every built-in module type, as pure data.

This module imports no numba, so the supervisor (which validates but renders nothing) can
use it cheaply; `chronus.dsp.catalog` maps the same type names to their DSP classes.
"""

from __future__ import annotations

import difflib

from chronus.dsp.errors import PatchError
from chronus.dsp.params import ParamSpec

__all__ = [
    "DRUM_TYPES",
    "SYNTH_TYPES",
    "TYPE_SPECS",
    "mix_specs",
    "module_types",
    "param_specs",
    "suggest",
]

SYNTH_TYPES: tuple[str, ...] = ("saw", "sine", "square", "triangle")
"""Polyphonic synths; they differ only in their oscillator's waveform."""

DRUM_TYPES: tuple[str, ...] = ("kick", "snare", "hat")
"""One-shot drum voices; they ignore pitch and note length."""

MIX_SMOOTHING_MS = 20.0


def mix_specs(volume_db: float) -> tuple[ParamSpec, ...]:
    """`volume` and `pan`, which every module has; the graph applies them."""
    return (
        ParamSpec(
            "volume",
            volume_db,
            -60.0,
            12.0,
            "db",
            MIX_SMOOTHING_MS,
            "level of the module in the mix; -60 dB is silent",
        ),
        ParamSpec("pan", 0.0, -1.0, 1.0, "", MIX_SMOOTHING_MS, "-1 left, 0 centre, 1 right"),
    )


SYNTH_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("amp", 0.5, 0.0, 1.0, "", 20.0, "level of each voice before the mix"),
    ParamSpec("cutoff", 2000.0, 20.0, 20000.0, "hz", 30.0, "low-pass filter cutoff"),
    ParamSpec("res", 0.2, 0.0, 1.0, "", 30.0, "filter resonance; near 1 it rings"),
    ParamSpec("attack", 0.005, 0.0, 10.0, "s", 0.0, "time to rise to full level"),
    ParamSpec("decay", 0.2, 0.001, 10.0, "s", 0.0, "time to fall to the sustain level"),
    ParamSpec("sustain", 0.7, 0.0, 1.0, "", 0.0, "level held while the note is on"),
    ParamSpec("release", 0.25, 0.001, 20.0, "s", 0.0, "time to fade out after the note"),
    ParamSpec("detune", 0.0, 0.0, 100.0, "cents", 0.0, "spread between two oscillators"),
    ParamSpec("glide", 0.0, 0.0, 5.0, "s", 0.0, "time to slide from the previous note"),
    *mix_specs(-6.0),
)


def _drum_specs(decay: float, decay_max: float, tone_doc: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("tune", 0.0, -24.0, 24.0, "st", 0.0, "pitch shift in semitones"),
        ParamSpec("decay", decay, 0.01, decay_max, "s", 0.0, "time to fade to silence"),
        ParamSpec("tone", 0.5, 0.0, 1.0, "", 0.0, tone_doc),
        ParamSpec("amp", 0.8, 0.0, 1.0, "", 0.0, "level of a hit at full velocity"),
        *mix_specs(-3.0),
    )


TYPE_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    **{name: SYNTH_SPECS for name in SYNTH_TYPES},
    "kick": _drum_specs(0.45, 3.0, "click and depth of the pitch sweep"),
    "snare": _drum_specs(0.22, 2.0, "brightness: centre of the noise band"),
    "hat": _drum_specs(0.08, 2.0, "brightness: height of the high-pass"),
}
"""Module type → its parameters, in a stable order."""


def suggest(name: str, candidates: tuple[str, ...] | list[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate, or a list of them, or ''."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    if candidates:
        return f" (one of: {', '.join(candidates)})"
    return ""


def module_types() -> tuple[str, ...]:
    """Every module type name, in catalogue order."""
    return tuple(TYPE_SPECS)


def param_specs(module_type: str) -> tuple[ParamSpec, ...]:
    """The parameters of a module type; `PatchError` (with a suggestion) if it is unknown."""
    try:
        return TYPE_SPECS[module_type]
    except KeyError:
        hint = suggest(module_type, module_types())
        raise PatchError(f"unknown module type {module_type!r}{hint}") from None
