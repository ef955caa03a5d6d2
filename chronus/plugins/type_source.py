"""Where a module type comes from, as a small JSON record any process can resolve.

An isolated host is a process of its own: it cannot be handed a class, only the means to get
it. A `TypeSource` names a type as plain data — a built-in by name, a user module by its file
and version, a native LADSPA plugin by its library and label — and `resolve_type` turns it
into the class, the same way in the slots, the host and an offline render.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from chronus.dsp.module import Module

__all__ = ["TypeSource", "TypeSourceError", "resolve_type"]

Kind = Literal["builtin", "user", "ladspa"]


class TypeSourceError(Exception):
    """A record that names no type this process can make; the message says why."""


@dataclass(frozen=True, slots=True)
class TypeSource:
    """A module type as data.

    - `builtin`: `name` is the type's name (`saw`, `delay`);
    - `user`: `name` is the plugin's name, `path` its file, `version` its version;
    - `ladspa`: `name` is the type's name, `path` the `.so`, `label` the plugin's label.
    """

    kind: Kind
    name: str
    path: str = ""
    version: str = ""
    label: str = ""

    def to_json(self) -> str:
        """The record as one JSON object."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TypeSource:
        """Read a record; `TypeSourceError` if it is not one."""
        try:
            data = json.loads(text)
            source = cls(**data)
        except (ValueError, TypeError) as exc:
            raise TypeSourceError(f"not a type source: {exc}") from exc
        if source.kind not in ("builtin", "user", "ladspa"):
            raise TypeSourceError(f"unknown type source kind {source.kind!r}")
        return source


def resolve_type(source: TypeSource, rate: int = 48000) -> type[Module]:
    """The class `source` names (importing a user module's file, or loading a native plugin's
    library, its ranges scaled by the sample rate `rate`: call it only in a process that may
    run that code). Raises `TypeSourceError`, or what the import raises."""
    if source.kind == "builtin":
        from chronus.dsp.catalog import MODULE_TYPES
        from chronus.dsp.specs import BUILT_IN_TYPES

        if source.name not in BUILT_IN_TYPES:
            raise TypeSourceError(f"{source.name!r} is not a built-in module type")
        return MODULE_TYPES[source.name]
    if source.kind == "user":
        from chronus.plugins.source import import_plugin

        return import_plugin(source.path, source.name, source.version)
    if source.kind == "ladspa":
        from chronus.plugins.ladspa.module import load_ladspa_type

        try:
            return load_ladspa_type(source.path, source.label, source.name, rate)
        except (OSError, KeyError, ValueError) as exc:
            where = f"the native plugin {source.label!r} in {source.path}"
            raise TypeSourceError(f"{where}: {exc}") from exc
    raise TypeSourceError(f"unknown type source kind {source.kind!r}")
