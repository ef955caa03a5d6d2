"""Module type names → DSP classes. The parameter table itself lives in `specs` (no numba)."""

from __future__ import annotations

from chronus.dsp.drums import Hat, Kick, Snare
from chronus.dsp.effects import Delay, Distortion, Reverb
from chronus.dsp.filters import Acid, Bandpass, Highpass, Lowpass
from chronus.dsp.lfo import Lfo
from chronus.dsp.module import Module, Processor
from chronus.dsp.specs import (  # the tables too: callers have reached them here
    BUILT_IN_TYPES,
    PROCESSOR_TYPES,  # noqa: F401
    TYPE_SPECS,  # noqa: F401
    declare,
    module_types,
    param_specs,
    undeclare,
)
from chronus.dsp.synth import (
    NoiseSynth,
    PinkSynth,
    SawSynth,
    SineSynth,
    SquareSynth,
    TriangleSynth,
)

__all__ = [
    "MODULE_TYPES",
    "create_module",
    "module_types",
    "param_specs",
    "register",
    "unregister",
]

MODULE_TYPES: dict[str, type[Module]] = {
    cls.TYPE: cls
    for cls in (
        SawSynth, SineSynth, SquareSynth, TriangleSynth, NoiseSynth, PinkSynth, Kick, Snare, Hat,
        Lowpass, Highpass, Bandpass, Acid, Distortion, Delay, Reverb, Lfo,
    )
}  # fmt: skip
"""Every built-in module type by name; each class's `PARAMS` is `param_specs(name)`."""


def create_module(module_type: str, sample_rate: int, max_block: int) -> Module:
    """A new module of a type; `PatchError` (with a suggestion) if the type is unknown."""
    param_specs(module_type)
    return MODULE_TYPES[module_type](sample_rate, max_block)


def register(cls: type[Module]) -> None:
    """Add a module class to the catalogue (and its parameters to the validation table).

    A `Processor` subclass also becomes a valid connection destination.
    """
    if not cls.TYPE:
        raise ValueError(f"{cls.__name__} has no TYPE")
    MODULE_TYPES[cls.TYPE] = cls
    declare(cls.TYPE, cls.PARAMS, issubclass(cls, Processor))


def unregister(module_type: str) -> None:
    """Forget a registered type (an unloaded plugin); built-in types cannot be forgotten."""
    if module_type in BUILT_IN_TYPES:
        raise ValueError(f"{module_type} is built in")
    MODULE_TYPES.pop(module_type, None)
    undeclare(module_type)
