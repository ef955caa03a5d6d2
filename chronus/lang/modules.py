"""What the language knows about module types: their names and parameters.

One seam onto the DSP layer's parameter table. It reads `chronus.dsp.specs`, the pure-data
table behind `chronus.dsp.catalog` that imports no numba, so that starting the shell stays
fast. Nothing is cached here: `catalog.register` may add types at run time.
"""

from __future__ import annotations

from chronus.dsp.params import ParamSpec
from chronus.dsp.specs import MODULATOR_TYPES
from chronus.dsp.specs import module_types as _module_types
from chronus.dsp.specs import param_specs as _param_specs
from chronus.protocol import PARAM_ALIASES

__all__ = [
    "ParamSpec",
    "find_param",
    "is_modulator",
    "module_types",
    "param_names",
    "param_specs",
]


def is_modulator(module_type: str) -> bool:
    """Whether a type modulates parameters (an lfo) instead of making sound."""
    return module_type in MODULATOR_TYPES


def module_types() -> tuple[str, ...]:
    """Every module type the engine can create (saw, sine, …, kick, snare, hat)."""
    return tuple(_module_types())


def param_specs(module_type: str) -> tuple[ParamSpec, ...]:
    """The parameters of a module type, or () for a type the catalogue does not know."""
    if module_type not in module_types():
        return ()
    return tuple(_param_specs(module_type))


def param_names(module_type: str) -> tuple[str, ...]:
    """Canonical parameter names of a type, then the aliases that resolve to one of them."""
    names = tuple(spec.name for spec in param_specs(module_type))
    aliases = tuple(alias for alias, target in PARAM_ALIASES.items() if target in names)
    return names + aliases


def find_param(module_type: str, canonical: str) -> ParamSpec | None:
    """The spec of a canonical parameter name on a type, or None."""
    for spec in param_specs(module_type):
        if spec.name == canonical:
            return spec
    return None
