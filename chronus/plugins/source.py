"""Turning a user's module file into a module class, the same way in every process.

The sandbox, the template, the slots and an offline render all import a plugin through
`import_plugin`, from the same file, under a name made of the plugin's name and version, so
two versions of one plugin can live side by side in a process (the old one plays while the
new one is swapped in). The class found gets the plugin's name as its `TYPE`: the name the
user gave it is the name the patch, the language and the registry use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from chronus.dsp.module import Module, Processor

__all__ = [
    "NAME_PATTERN",
    "PluginSourceError",
    "find_module_class",
    "import_plugin",
    "plugin_module_name",
    "version_of",
]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A plugin's name: what `TYPE` it gets in the patch."""


class PluginSourceError(Exception):
    """A file that yields no usable module class; the message says why."""


def version_of(source: bytes) -> str:
    """The version of a plugin's source: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(source).hexdigest()[:12]


def find_module_class(module: ModuleType) -> type[Module]:
    """The module class a plugin file exports: its `MODULE` attribute if it has one, else
    the one `Module` subclass defined in the file itself (not imported into it)."""
    named = getattr(module, "MODULE", None)
    if named is not None:
        if isinstance(named, type) and issubclass(named, Module):
            return named
        raise PluginSourceError("MODULE is not a Module subclass")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Module)
        and obj.__module__ == module.__name__
        and obj not in (Module, Processor)
    ]
    if len(found) != 1:
        what = "no Module subclass" if not found else f"{len(found)} Module subclasses"
        raise PluginSourceError(f"the file defines {what}; name the one to use as MODULE = …")
    return found[0]


def plugin_module_name(name: str, version: str) -> str:
    """The name in `sys.modules` of plugin `name` at `version`."""
    return f"chronus_plugin_{name}_{version}"


def import_plugin(path: str | Path, name: str, version: str) -> type[Module]:
    """Import the file at `path` as plugin `name` at `version`; the class, with `TYPE` = name.

    Importing runs the file's code: call it only in a sandbox worker, or in an engine process
    for a file that passed validation (or that the user forced). Raises what the import
    raises, or `PluginSourceError`.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise PluginSourceError(f"{name!r} is not a plugin name (a-z, 0-9, _; 1–32 characters)")
    module_name = plugin_module_name(name, version)
    loaded = sys.modules.get(module_name)
    if loaded is None:
        spec = importlib.util.spec_from_file_location(module_name, str(path))
        if spec is None or spec.loader is None:
            raise PluginSourceError(f"cannot import {path}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[module_name]
            raise
    cls = find_module_class(loaded)
    return type(cls.__name__, (cls,), {"TYPE": name, "__module__": module_name})
