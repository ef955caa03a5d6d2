"""The parameter table of every built-in module type, as pure data.

This module imports no numba, so the supervisor (which validates but renders nothing) can
use it cheaply; `chronus.dsp.catalog` maps the same type names to their DSP classes.
"""

from __future__ import annotations

import difflib
from typing import Any

from chronus.dsp.errors import PatchError
from chronus.dsp.params import ParamSpec, mix_specs
from chronus.dsp.specs_effects import EFFECT_SPECS

__all__ = [
    "BUILT_IN_TYPES",
    "DRUM_TYPES",
    "FILTER_TYPES",
    "MODULATOR_TYPES",
    "PITCHED_TYPES",
    "PROCESSOR_TYPES",
    "SYNTH_TYPES",
    "TYPE_SPECS",
    "declare",
    "declare_dumped",
    "mix_specs",
    "modulatable",
    "module_types",
    "param_specs",
    "suggest",
    "undeclare",
]

PITCHED_TYPES: tuple[str, ...] = ("saw", "sine", "square", "triangle")
"""Synths whose notes set a pitch (oscillators)."""

SYNTH_TYPES: tuple[str, ...] = (*PITCHED_TYPES, "noise", "pink")
"""Polyphonic synths; they differ only in their source: an oscillator's waveform, or white
or pink noise (which ignore the note's pitch, `detune` and `glide`)."""

DRUM_TYPES: tuple[str, ...] = ("kick", "snare", "hat")
"""One-shot drum voices; they ignore pitch and note length."""

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
    ParamSpec(
        "bend", 0.0, -1200.0, 1200.0, "cents", 5.0,
        "pitch bend of every voice, smoothed; an lfo on it is vibrato",
    ),
    ParamSpec(
        "env_amount", 0.0, 0.0, 16.0, "", 20.0,
        "filter envelope depth: a note opens the cutoff to cutoff × (1 + env_amount)",
    ),
    ParamSpec(
        "env_decay", 0.2, 0.001, 10.0, "s", 0.0,
        "time for the filter envelope to fall back to the cutoff (SC curve −4)",
    ),
    ParamSpec(
        "drive", 0.0, 0.0, 20.0, "", 20.0,
        "tanh saturation after the filter: 0 clean, 1 warm, 3 and up growl",
    ),
    ParamSpec("voices", 8.0, 1.0, 256.0, "", 0.0, "polyphony: notes that can sound at once"),
    *mix_specs(-6.0),
)  # fmt: skip


def _drum_specs(decay: float, decay_max: float, tone_doc: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("tune", 0.0, -24.0, 24.0, "st", 0.0, "pitch shift in semitones"),
        ParamSpec("decay", decay, 0.01, decay_max, "s", 0.0, "time to fade to silence"),
        ParamSpec("tone", 0.5, 0.0, 1.0, "", 0.0, tone_doc),
        ParamSpec("amp", 0.8, 0.0, 1.0, "", 0.0, "level of a hit at full velocity"),
        *mix_specs(-3.0),
    )


FILTER_SMOOTHING_MS = 10.0


def _svf_specs(cutoff: float, what: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("cutoff", cutoff, 20.0, 20000.0, "hz", FILTER_SMOOTHING_MS, what),
        ParamSpec(
            "res", 0.0, 0.0, 1.0, "", FILTER_SMOOTHING_MS, "resonance: 0 is flat, near 1 it rings"
        ),
        *mix_specs(0.0),
    )


ACID_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("cutoff", 400.0, 20.0, 20000.0, "hz", FILTER_SMOOTHING_MS, "base cutoff"),
    ParamSpec("res", 0.6, 0.0, 1.0, "", FILTER_SMOOTHING_MS, "resonance: squelch; 1 whistles"),
    ParamSpec(
        "env_amount", 0.5, 0.0, 1.0, "", FILTER_SMOOTHING_MS, "envelope sweep: 1 = +5 octaves"
    ),
    ParamSpec("env_decay", 0.3, 0.01, 3.0, "s", 0.0, "time for the sweep to fall by 60 dB"),
    ParamSpec("accent", 0.5, 0.0, 1.0, "", 0.0, "extra sweep of notes of velocity ≥ 100"),
    ParamSpec("drive", 0.2, 0.0, 1.0, "", FILTER_SMOOTHING_MS, "input gain into the saturation"),
    *mix_specs(0.0),
)

LFO_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("rate", 1.0, 0.01, 50.0, "hz", 0.0, "speed, used when sync is 0"),
    ParamSpec("sync", 0.0, 0.0, 16.0, "beats", 0.0, "cycle length in beats (0.5 = 1/8); 0 = rate"),
    ParamSpec("depth", 0.5, 0.0, 1.0, "", 0.0, "swing as a fraction of the target's range"),
    ParamSpec("shape", 0.0, 0.0, 4.0, "", 0.0, "0 sine, 1 triangle, 2 saw, 3 square, 4 random"),
    ParamSpec("phase", 0.0, 0.0, 1.0, "", 0.0, "offset within the cycle"),
    ParamSpec("mute", 0.0, 0.0, 1.0, "", 0.0, "1 stops modulating (targets return to their value)"),
)

FILTER_TYPES: tuple[str, ...] = ("lowpass", "highpass", "bandpass", "acid")
"""Filters: processors with an audio input."""

MODULATOR_TYPES: tuple[str, ...] = ("lfo",)
"""Modulation sources: no audio; patched to parameters with `/patch/modulate`."""

TYPE_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    **{name: SYNTH_SPECS for name in SYNTH_TYPES},
    "kick": _drum_specs(0.45, 3.0, "click and depth of the pitch sweep"),
    "snare": _drum_specs(0.22, 2.0, "brightness: centre of the noise band"),
    "hat": _drum_specs(0.08, 2.0, "brightness: height of the high-pass"),
    "lowpass": _svf_specs(1000.0, "frequency above which the sound is cut (−3 dB point)"),
    "highpass": _svf_specs(200.0, "frequency below which the sound is cut (−3 dB point)"),
    "bandpass": _svf_specs(1000.0, "centre of the band that passes"),
    "acid": ACID_SPECS,
    **EFFECT_SPECS,
    "lfo": LFO_SPECS,
}
"""Module type → its parameters, in a stable order."""

BUILTIN_TYPE_NAMES: tuple[str, ...] = tuple(TYPE_SPECS)
"""The built-in types in catalogue order, before any `register` or `declare` (what the
language's grammar is built from)."""

PROCESSOR_TYPES: set[str] = set(FILTER_TYPES) | set(EFFECT_SPECS)
"""Types with an audio input (filters, effects): the only valid destinations besides master."""

BUILT_IN_TYPES = frozenset(BUILTIN_TYPE_NAMES)
"""The built-in types as a set: every other type is a user plugin's, and a plugin may not
take one of their names."""


def modulatable(spec: ParamSpec) -> bool:
    """Whether an lfo may drive the parameter: it is continuous, i.e. smoothed."""
    return spec.smoothing_ms > 0.0


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


def declare(module_type: str, specs: tuple[ParamSpec, ...], processor: bool) -> None:
    """Add a type's parameters to the table (a user module's; its class is elsewhere)."""
    TYPE_SPECS[module_type] = tuple(specs)
    if processor:
        PROCESSOR_TYPES.add(module_type)
    else:
        PROCESSOR_TYPES.discard(module_type)


def undeclare(module_type: str) -> None:
    """Take a declared type out of the table again."""
    TYPE_SPECS.pop(module_type, None)
    PROCESSOR_TYPES.discard(module_type)


def declare_dumped(types: dict[str, Any]) -> None:
    """Declare the user module types an engine's `/engine/dump` lists (`plugin_types`), so
    that a process without their code (the shell) checks patches that use them.

    Raises `KeyError`, `TypeError` or `ValueError` on malformed entries.
    """
    for name, entry in types.items():
        specs = tuple(ParamSpec(**dict(spec)) for spec in entry["params"])
        declare(str(name), specs, bool(entry["processor"]))
