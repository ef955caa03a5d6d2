"""The context cache: the shell's mirror of the patch, used to resolve what a line means.

It knows the modules (id → type), their last known parameter values, the connections, the
tempo and the focus (the module last named or created, what `cutoff 800` applies to). It is
kept up to date by observing the very OSC messages the shell sends, so a raw
`/patch/create bass saw` updates it just like `add saw bass`. A new shell rebuilds it from the
engine's state dump with `Context.from_dump`.

>>> from chronus.protocol import validate
>>> ctx = Context()
>>> ctx.free_id("kick")
'kick'
>>> ctx.observe(validate("/patch/create", ("kick", "kick")))
>>> ctx.free_id("kick"), ctx.modules
('kick2', {'kick': 'kick'})
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from chronus.lang.modules import param_specs
from chronus.protocol import ID_PATTERN, Message

__all__ = ["DEFAULT_TEMPO", "PRONOUNS", "Context"]

DEFAULT_TEMPO = 120.0
"""The engine's tempo before anyone sets one."""

PRONOUNS: frozenset[str] = frozenset({"it"})
"""Words that stand for the module in focus (`play c3 on it`)."""


@dataclass
class Context:
    """A mirror of the patch plus the focus; `copy()` it to try a line without committing."""

    modules: dict[str, str] = field(default_factory=dict)
    """Module id → module type, in creation order."""
    params: dict[str, dict[str, float]] = field(default_factory=dict)
    """Module id → parameter → last known value (defaults until set)."""
    connections: list[tuple[str, str]] = field(default_factory=list)
    """(source, destination) routes, `master` being the output."""
    tempo: float = DEFAULT_TEMPO
    """Beats per minute, used to turn beats, bars and steps into seconds."""
    focus: str | None = None
    """The module last named or created: the target of `cutoff 800` or `play c3`."""

    @classmethod
    def from_dump(cls, dump: Mapping[str, Any]) -> Context:
        """Build from the engine's state dump.

        The dump is `{"modules": {id: {"type": t, "params": {p: v}}}, "connections":
        [[src, dst], ...], "tempo": bpm}`; missing keys and malformed entries are skipped,
        because a partial mirror is more use to a musician than no shell.
        """
        ctx = cls()
        modules = dump.get("modules")
        if isinstance(modules, Mapping):
            for module_id, entry in modules.items():
                if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
                    continue
                ctx._create(str(module_id), entry["type"])
                values = entry.get("params")
                if isinstance(values, Mapping):
                    for name, value in values.items():
                        if _is_number(value):
                            ctx.params[str(module_id)][str(name)] = float(value)
        connections = dump.get("connections")
        if isinstance(connections, list):
            for pair in connections:
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    route = (str(pair[0]), str(pair[1]))
                    if route not in ctx.connections:
                        ctx.connections.append(route)
        tempo = dump.get("tempo")
        if _is_number(tempo) and float(tempo) > 0:
            ctx.tempo = float(tempo)
        return ctx

    def to_dump(self) -> dict[str, Any]:
        """The same shape `from_dump` reads."""
        return {
            "modules": {
                module_id: {"type": kind, "params": dict(self.params.get(module_id, {}))}
                for module_id, kind in self.modules.items()
            },
            "connections": [list(route) for route in self.connections],
            "tempo": self.tempo,
        }

    def copy(self) -> Context:
        """An independent copy, to map a line on without touching this one."""
        return Context(
            dict(self.modules),
            {module_id: dict(values) for module_id, values in self.params.items()},
            list(self.connections),
            self.tempo,
            self.focus,
        )

    def assign(self, other: Context) -> None:
        """Take every field of `other` (commit a line in place, so holders of self see it)."""
        self.modules = other.modules
        self.params = other.params
        self.connections = other.connections
        self.tempo = other.tempo
        self.focus = other.focus

    def resolve(self, name: str | None) -> str | None:
        """The module id a word refers to: None or a pronoun means the focus.

        This is the seam where "it", "them" or "the bass" grow smarter later.
        """
        if name is None or name in PRONOUNS:
            return self.focus
        return name

    def type_of(self, module_id: str) -> str | None:
        """The type of a module, or None if the patch has no such module."""
        return self.modules.get(module_id)

    def free_id(self, base: str, taken: frozenset[str] = frozenset()) -> str:
        """`base` if no module has it, else `base2`, `base3`, … (names the unnamed)."""
        candidates = (base if i == 1 else f"{base}{i}" for i in range(1, 10_000))
        for candidate in candidates:
            if candidate not in self.modules and candidate not in taken:
                if ID_PATTERN.fullmatch(candidate):
                    return candidate
        raise ValueError(f"no free id for {base!r}")

    def observe(self, message: Message) -> None:
        """Update the mirror with a message the shell is about to send."""
        address, args = message.address, message.args
        if address == "/patch/create":
            self._create(str(args[0]), str(args[1]))
        elif address == "/patch/remove":
            self._remove(str(args[0]))
        elif address == "/patch/connect":
            route = (str(args[0]), str(args[1]))
            if route not in self.connections:
                self.connections.append(route)
        elif address == "/patch/disconnect":
            route = (str(args[0]), str(args[1]))
            if route in self.connections:
                self.connections.remove(route)
        elif address == "/tempo":
            self.tempo = float(args[0])
        elif address.startswith("/mod/"):
            module_id, param = message.fields.get("id"), message.fields.get("param")
            known = self.params.get(module_id or "")
            # Only parameters the type has: a raw message the engine will refuse is not state.
            if known is not None and param is not None and (param in known or not known):
                known[param] = float(args[0])

    def _create(self, module_id: str, kind: str) -> None:
        self.modules[module_id] = kind
        self.params[module_id] = {spec.name: spec.default for spec in param_specs(kind)}

    def _remove(self, module_id: str) -> None:
        self.modules.pop(module_id, None)
        self.params.pop(module_id, None)
        self.connections = [r for r in self.connections if module_id not in r]
        if self.focus == module_id:
            self.focus = None


def _is_number(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
