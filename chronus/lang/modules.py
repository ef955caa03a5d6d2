"""What the language knows about module types: their names and parameters.

One seam onto the DSP layer's parameter table. It reads `chronus.dsp.specs`, the pure-data
table behind `chronus.dsp.catalog` that imports no numba, so that starting the shell stays
fast. Nothing is cached here: `catalog.register` may add types at run time.

Plugins (user modules the engine loaded) are types too. The language never imports their
code: it learns them as data from the engine (`learn_plugins`, with what the engine's dump
or its `/plugins` listing says of each: its parameters and whether it takes an input).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chronus.dsp.params import ParamSpec
from chronus.dsp.specs import BUILTIN_TYPE_NAMES, MODULATOR_TYPES, PROCESSOR_TYPES
from chronus.dsp.specs import module_types as _module_types
from chronus.dsp.specs import param_specs as _param_specs
from chronus.protocol import ID_PATTERN, PARAM_ALIASES

__all__ = [
    "ParamSpec",
    "PluginType",
    "PluginsKey",
    "builtin_types",
    "find_param",
    "is_modulator",
    "is_processor",
    "learn_plugins",
    "module_types",
    "param_names",
    "param_specs",
    "plugin_types",
    "plugins_key",
]

_GONE = frozenset({"unloaded", "failed", "discovered"})
"""Plugin states in which no module of the type can be made."""


@dataclass(frozen=True, slots=True)
class PluginType:
    """A module type a plugin adds, as the engine describes it."""

    name: str
    params: tuple[ParamSpec, ...] = ()
    processor: bool = False
    """Whether it has an audio input (a filter or an effect) rather than making sound."""
    state: str = "active"
    version: str = ""
    path: str = ""


_lock = threading.Lock()
_plugins: dict[str, PluginType] = {}


def learn_plugins(data: object) -> tuple[str, ...]:
    """Know exactly the plugin types in `data` (forgetting the others); their names.

    `data` is the engine's description of its plugins: the dump's `"plugins"` (name →
    entry) or the `/plugins` listing (a list of entries with a `"name"`). An entry gives
    `"params"` (a list of `ParamSpec` fields as dicts: name, default, minimum, maximum,
    unit, smoothing_ms, doc), `"processor"` (or `validation.processor`), `"state"`,
    `"version"` and `"path"`. Malformed entries and parameters are skipped; a plugin that is
    unloaded or failed is no type. Built-in types keep their own parameters.
    """
    found: dict[str, PluginType] = {}
    for name, entry in _entries(data):
        state = str(entry.get("state", "active"))
        if state in _GONE or not ID_PATTERN.fullmatch(name) or name in _builtin():
            continue
        validation = entry.get("validation")
        processor = entry.get("processor")
        if not isinstance(processor, bool) and isinstance(validation, Mapping):
            processor = validation.get("processor")
        params = entry.get("params")
        found[name] = PluginType(
            name,
            tuple(_specs(params if isinstance(params, list) else [])),
            processor is True,
            state,
            str(entry.get("version", "")),
            str(entry.get("path", "")),
        )
    with _lock:
        _plugins.clear()
        _plugins.update(found)
    return tuple(found)


def _entries(data: object) -> Iterable[tuple[str, Mapping[str, object]]]:
    if isinstance(data, Mapping):
        for name, entry in data.items():
            if isinstance(entry, Mapping):
                yield str(name), entry
    elif isinstance(data, list):
        for entry in data:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                yield str(entry["name"]), entry


def _specs(params: list[object]) -> Iterable[ParamSpec]:
    seen: set[str] = set()
    for raw in params:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            continue
        numbers = [raw.get(key) for key in ("default", "minimum", "maximum", "smoothing_ms")]
        numbers[3] = 0.0 if numbers[3] is None else numbers[3]
        if not all(_finite(n) for n in numbers):
            continue
        default, low, high, smoothing = (float(n) for n in numbers)  # type: ignore[arg-type]
        name = str(raw["name"])
        if not low <= default <= high or name in seen or not ID_PATTERN.fullmatch(name):
            continue
        seen.add(name)
        unit, doc = raw.get("unit", ""), raw.get("doc", "")
        yield ParamSpec(
            name, default, low, high, unit if isinstance(unit, str) else "", smoothing,
            doc if isinstance(doc, str) else "",
        )  # fmt: skip


def _finite(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def plugin_types() -> tuple[PluginType, ...]:
    """The plugin types the language knows now, in the order the engine listed them."""
    with _lock:
        return tuple(_plugins.values())


PluginsKey = tuple[tuple[str, tuple[str, ...]], ...]


def plugins_key() -> PluginsKey:
    """The plugin types known now and their parameters' names: the key of a cache built from
    `module_types()` and `param_names()`, which changes when plugins come and go."""
    return tuple((p.name, tuple(spec.name for spec in p.params)) for p in plugin_types())


def _plugin(module_type: str) -> PluginType | None:
    with _lock:
        return _plugins.get(module_type)


def _builtin() -> tuple[str, ...]:
    return BUILTIN_TYPE_NAMES


def _registered() -> tuple[str, ...]:
    """Types registered in this process beyond the built-ins (`CHRONUS_MODULES`, tests)."""
    return tuple(t for t in _module_types() if t not in BUILTIN_TYPE_NAMES)


def builtin_types() -> tuple[str, ...]:
    """The types the catalogue has (no plugins): what the grammar's tables are built from."""
    return _builtin()


def is_modulator(module_type: str) -> bool:
    """Whether a type modulates parameters (an lfo) instead of making sound."""
    return module_type in MODULATOR_TYPES


def is_processor(module_type: str) -> bool:
    """Whether a type has an audio input (a filter or an effect, built in or a plugin)."""
    if module_type in PROCESSOR_TYPES:
        return True
    plugin = _plugin(module_type)
    return plugin is not None and plugin.processor


def module_types() -> tuple[str, ...]:
    """Every module type the engine can create (saw, sine, …, kick, snare, hat), then the
    plugins it has loaded."""
    known = _builtin() + _registered()
    return known + tuple(p.name for p in plugin_types() if p.name not in known)


def param_specs(module_type: str) -> tuple[ParamSpec, ...]:
    """The parameters of a module type, or () for a type the catalogue does not know."""
    if module_type in _builtin() or module_type in _registered():
        return tuple(_param_specs(module_type))
    plugin = _plugin(module_type)
    return () if plugin is None else plugin.params


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
