"""Native (LADSPA) plugins the language may name: what the shell's scan found.

The shell scans the LADSPA path in the background and declares what it found here; the
language then reads `load plugin tap_reverb` (sent as `/plugins/load <library>#<label>
tap_reverb`), `add a tap reverb after bass` (two words for `tap_reverb`) and completes
plugin names. Nothing here opens a library: the scan ran in a process of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NativePlugin", "declare_native", "joined_type", "native_plugins"]


@dataclass(frozen=True, slots=True)
class NativePlugin:
    """One plugin the scan found: its type name, what the engine loads, and about it."""

    name: str
    reference: str
    """`<library>#<label>`: what `/plugins/load` is given."""
    title: str = ""
    maker: str = ""


_declared: dict[str, NativePlugin] = {}


def declare_native(plugins: Iterable[NativePlugin]) -> None:
    """Make `plugins` the native plugins the language knows (replacing any before)."""
    global _declared
    _declared = {plugin.name: plugin for plugin in plugins}


def native_plugins() -> dict[str, NativePlugin]:
    """The native plugins declared, by type name."""
    return _declared


def joined_type(first: str, second: str, known: Iterable[str]) -> str | None:
    """`first_second` if that is a native plugin or a type in `known` (`tap reverb` is
    `tap_reverb`), else None."""
    joined = f"{first}_{second}".lower()
    return joined if joined in _declared or joined in set(known) else None
