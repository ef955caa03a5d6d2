"""The patch as pure data: modules, connections, tempo, tracks — validated and applied in one step.

Both the supervisor (which renders nothing) and the DSP graph keep a `Patch` and feed it the
same messages, so they agree on what is valid. `apply` either applies a message completely
or raises `PatchError` and changes nothing. This module imports no numba.

>>> from chronus.protocol import validate
>>> patch = Patch()
>>> patch.apply(validate("/patch/create", ("bass", "saw")))
[]
>>> patch.apply(validate("/mod/bass/cutoff", (30000,)))
['bass.cutoff clamped to 20000 (range 20–20000 hz)']
>>> patch.apply(validate("/mod/bass/cutof", (800,)))
Traceback (most recent call last):
...
chronus.dsp.errors.PatchError: saw 'bass' has no parameter 'cutof'; did you mean 'cutoff'?
"""

from __future__ import annotations

import copy
import math
from typing import Any, TypedDict

from chronus import protocol
from chronus.dsp.errors import PatchError
from chronus.dsp.specs import (
    MODULATOR_TYPES,
    PROCESSOR_TYPES,
    modulatable,
    param_specs,
    suggest,
)
from chronus.protocol import MASTER, Arg, Message
from chronus.seq.lanes import parse_lane
from chronus.seq.notation import PatternError
from chronus.seq.notation import parse_cached as parse_pattern

__all__ = [
    "DEFAULT_TEMPO",
    "MAX_MODULES",
    "ModuleEntry",
    "Patch",
    "PatchError",
    "TrackEntry",
    "new_track",
]

DEFAULT_TEMPO = 120.0
TEMPO_RANGE = (20.0, 400.0)
MAX_MODULES = 2048
"""The most modules a patch holds: a stated ceiling (a create beyond it is refused), well
above the 1,000 the engine is tested with."""


class ModuleEntry(TypedDict):
    """One module of the patch: its type and every parameter's value."""

    type: str
    params: dict[str, float]


class TrackEntry(TypedDict):
    """The sequencer track of one module, as data (the sequencer keeps the timing)."""

    pattern: str | None
    division: int
    gate: float
    swing: float
    transpose: int
    lanes: dict[str, str]
    running: bool


def new_track() -> TrackEntry:
    """A track with no pattern and every setting at its default (16ths, gate ½, no swing)."""
    return {
        "pattern": None, "division": 16, "gate": 0.5, "swing": 0.0, "transpose": 0,
        "lanes": {}, "running": True,
    }  # fmt: skip


def _arg(message: Message, index: int, name: str) -> Arg:
    if index >= len(message.args):
        raise PatchError(f"{message.address} needs <{name}>")
    return message.args[index]


def _text(message: Message, index: int, name: str) -> str:
    value = _arg(message, index, name)
    if not isinstance(value, str) or not protocol.ID_PATTERN.fullmatch(value):
        raise PatchError(f"{name} must be a lower-case identifier, got {value!r}")
    return value


def _number(
    message: Message, index: int, name: str, low: float | None = None, high: float | None = None
) -> float:
    value = _arg(message, index, name)
    if isinstance(value, str | bool):
        raise PatchError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PatchError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise PatchError(f"{name} must be within {low:g}–{high:g}, got {number:g}")
    return number


class Patch:
    """Modules `{id: {"type", "params"}}`, connections `[(src, dst)]`, modulations and tempo.

    A connection leads from a sound module to a processor (filter, effect) or to `master`.
    A modulation `(src, dst, param)` drives a continuous parameter of `dst` from the lfo
    `src`; removing either end removes it.
    """

    def __init__(self) -> None:
        self.modules: dict[str, ModuleEntry] = {}
        self._connections: dict[tuple[str, str], None] = {}
        self._outputs: dict[str, list[str]] = {}
        self._inputs: dict[str, list[str]] = {}
        self.modulations: list[tuple[str, str, str]] = []
        self.tempo: float = DEFAULT_TEMPO
        self.tracks: dict[str, TrackEntry] = {}
        self.transport = False

    # -- queries --------------------------------------------------------------------------

    def module(self, module_id: str) -> ModuleEntry:
        """The entry of a module; `PatchError` with a suggestion if there is none."""
        entry = self.modules.get(module_id)
        if entry is None:
            hint = suggest(module_id, list(self.modules))
            raise PatchError(f"no module named {module_id!r}{hint}")
        return entry

    @property
    def connections(self) -> list[tuple[str, str]]:
        """Every connection `(src, dst)`, in the order they were made (a copy)."""
        return list(self._connections)

    def connected(self, src: str, dst: str) -> bool:
        """Whether `src` is connected straight to `dst`."""
        return (src, dst) in self._connections

    def outputs(self, module_id: str) -> list[str]:
        """Where `module_id` is connected to, in the order the connections were made."""
        return list(self._outputs.get(module_id, ()))

    def inputs(self, module_id: str) -> list[str]:
        """What is connected to `module_id`, in the order the connections were made."""
        return list(self._inputs.get(module_id, ()))

    def reaches(self, src: str, dst: str) -> bool:
        """Whether a chain of connections leads from `src` to `dst` (or `src == dst`).

        Walks only what `src` leads to, so it costs the size of that part of the patch.
        """
        seen = {src}
        todo = [src]
        outputs = self._outputs
        while todo:
            node = todo.pop()
            if node == dst:
                return True
            for b in outputs.get(node, ()):
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return False

    def audible(self) -> list[str]:
        """The modules whose output reaches `master`, in creation order."""
        return [m for m in self.modules if self.reaches(m, MASTER)]

    # -- changes --------------------------------------------------------------------------

    def apply(self, message: Message) -> list[str]:
        """Validate `message` against the patch and apply it; returns warnings.

        Raises `PatchError` (and changes nothing) if the message makes no sense here:
        unknown module, parameter or type, duplicate id or connection, a cycle, or an
        engine-only address.
        """
        address = message.address
        parts = address.strip("/").split("/")
        head = parts[0]
        if head == "engine":
            raise PatchError(f"{address} is answered by the engine; it does not change the patch")
        if head == "patch" and len(parts) == 2:
            action = parts[1]
            if action == "create":
                return self._create(_text(message, 0, "id"), _text(message, 1, "type"))
            if action == "connect":
                return self._connect(_text(message, 0, "src"), _text(message, 1, "dst"))
            if action == "disconnect":
                return self._disconnect(_text(message, 0, "src"), _text(message, 1, "dst"))
            if action == "remove":
                return self._remove(_text(message, 0, "id"))
            if action == "modulate":
                return self._modulate(
                    _text(message, 0, "src"), _text(message, 1, "dst"), _text(message, 2, "param")
                )
        elif head == "mod" and len(parts) == 3:
            return self._set(parts[1], protocol.canonical_param(parts[2]), message)
        elif head in ("gate", "note") and len(parts) == 2:
            self.module(parts[1])
            if head == "gate":
                _number(message, 0, "gate", 0, 1)
            else:
                _number(message, 0, "midi", 0, 127)
                _number(message, 1, "velocity", 0, 127)
                if len(message.args) > 2:
                    _number(message, 2, "seconds", 0, 3600)
            return []
        elif address == "/tempo":
            self.tempo = _number(message, 0, "bpm", *TEMPO_RANGE)
            return []
        elif address == "/seq/start":
            self.transport = True
            return []
        elif address == "/seq/stop":
            self.transport = False
            return []
        elif head == "seq" and len(parts) == 3:
            return self._sequence(parts[1], parts[2], message)
        elif address == "/panic":
            return []
        raise PatchError(f"{address} is not a patch message")

    def _create(self, module_id: str, module_type: str) -> list[str]:
        if module_id == MASTER:
            raise PatchError(f"{MASTER!r} is the output; choose another id")
        if module_id in self.modules:
            existing = self.modules[module_id]["type"]
            raise PatchError(f"a module named {module_id!r} already exists (a {existing})")
        if len(self.modules) >= MAX_MODULES:
            raise PatchError(
                f"the patch already holds {MAX_MODULES} modules, the most it can; remove one first"
            )
        specs = param_specs(module_type)
        self.modules[module_id] = {
            "type": module_type,
            "params": {spec.name: float(spec.default) for spec in specs},
        }
        return []

    def _endpoints(self, src: str, dst: str) -> None:
        if src == MASTER:
            raise PatchError(f"{MASTER!r} is the output; it cannot be a source")
        self.module(src)
        if dst != MASTER:
            self.module(dst)

    def _connect(self, src: str, dst: str) -> list[str]:
        self._endpoints(src, dst)
        if src == dst:
            raise PatchError(f"cannot connect {src!r} to itself")
        src_type = self.modules[src]["type"]
        if src_type in MODULATOR_TYPES:
            raise PatchError(
                f"{src!r} is an {src_type}: it makes no sound; patch it to a parameter "
                f"with /patch/modulate {src} <module> <param>"
            )
        if dst != MASTER and self.modules[dst]["type"] not in PROCESSOR_TYPES:
            raise PatchError(
                f"{dst!r} is a {self.modules[dst]['type']}: it has no input; connect "
                f"{src!r} to master or to a filter or effect"
            )
        if (src, dst) in self._connections:
            raise PatchError(f"{src!r} is already connected to {dst!r}")
        if dst != MASTER and self.reaches(dst, src):
            raise PatchError(f"connecting {src!r} to {dst!r} would make a loop")
        self._link(src, dst)
        return []

    def _link(self, src: str, dst: str) -> None:
        self._connections[(src, dst)] = None
        self._outputs.setdefault(src, []).append(dst)
        self._inputs.setdefault(dst, []).append(src)

    def _unlink(self, src: str, dst: str) -> None:
        del self._connections[(src, dst)]
        self._outputs[src].remove(dst)
        self._inputs[dst].remove(src)

    def _disconnect(self, src: str, dst: str) -> list[str]:
        self._endpoints(src, dst)
        if (src, dst) not in self._connections:
            raise PatchError(f"{src!r} is not connected to {dst!r}")
        self._unlink(src, dst)
        return []

    def _remove(self, module_id: str) -> list[str]:
        self.module(module_id)
        del self.modules[module_id]
        self.tracks.pop(module_id, None)
        for dst in self.outputs(module_id):
            self._unlink(module_id, dst)
        for src in self.inputs(module_id):
            self._unlink(src, module_id)
        self._outputs.pop(module_id, None)
        self._inputs.pop(module_id, None)
        if any(module_id in m[:2] for m in self.modulations):
            self.modulations = [m for m in self.modulations if module_id not in m[:2]]
        return []

    def _modulate(self, src: str, dst: str, name: str) -> list[str]:
        src_type = self.module(src)["type"]
        if src_type not in MODULATOR_TYPES:
            raise PatchError(f"{src!r} is a {src_type}, not a modulation source (an lfo)")
        entry = self.module(dst)
        name = protocol.canonical_param(name)
        specs = {spec.name: spec for spec in param_specs(entry["type"])}
        spec = specs.get(name)
        if spec is None:
            hint = suggest(name, [s.name for s in specs.values() if modulatable(s)])
            raise PatchError(f"{entry['type']} {dst!r} has no parameter {name!r}{hint}")
        if not modulatable(spec):
            raise PatchError(f"{dst}.{name} is not continuous; it cannot be modulated")
        if (src, dst, name) in self.modulations:
            raise PatchError(f"{src!r} already modulates {dst}.{name}")
        self.modulations.append((src, dst, name))
        return []

    def _set(self, module_id: str, name: str, message: Message) -> list[str]:
        entry = self.module(module_id)
        specs = {spec.name: spec for spec in param_specs(entry["type"])}
        spec = specs.get(name)
        if spec is None:
            hint = suggest(name, list(specs))
            raise PatchError(f"{entry['type']} {module_id!r} has no parameter {name!r}{hint}")
        value, clamped = spec.clamp(_number(message, 0, "value"))
        entry["params"][name] = value
        if clamped:
            return [f"{module_id}.{name} clamped to {value:g} (range {spec.range_text})"]
        return []

    def _sequence(self, module_id: str, action: str, message: Message) -> list[str]:
        module_type = self.module(module_id)["type"]
        if module_type in MODULATOR_TYPES:
            raise PatchError(f"{module_id!r} is an {module_type}: it plays no notes, so no pattern")
        track = self.tracks.get(module_id)
        if action == "clear":
            if track is None:
                raise PatchError(f"{module_id!r} has no track to clear")
            del self.tracks[module_id]
            return []
        if action in ("start", "stop"):
            if track is None or track["pattern"] is None:
                raise PatchError(f"{module_id!r} has no pattern; give it one first")
            track["running"] = action == "start"
            self.transport = self.transport or action == "start"
            return []
        # every value but the lanes is immutable: no deep copy in the block a change comes in
        changed = {**track, "lanes": dict(track["lanes"])} if track is not None else new_track()
        if action == "pattern":
            text = str(_arg(message, 0, "pattern"))
            try:
                parse_pattern(text)
            except PatternError as exc:
                raise PatchError(str(exc)) from None
            changed["pattern"] = text
            changed["running"] = True
            self.transport = True
        elif action == "step":
            changed["division"] = int(_number(message, 0, "division", 1, 64))
        elif action == "gate":
            changed["gate"] = _number(message, 0, "fraction", 0.01, 1)
        elif action == "swing":
            changed["swing"] = _number(message, 0, "amount", 0, 0.75)
        elif action == "transpose":
            changed["transpose"] = int(_number(message, 0, "semitones", -48, 48))
        elif action == "lane":
            changed["lanes"][self._lane_param(module_id, message)] = str(message.args[1])
        else:
            raise PatchError(f"{message.address} is not a sequencer message")
        self.tracks[module_id] = changed
        return []

    def _lane_param(self, module_id: str, message: Message) -> str:
        entry = self.modules[module_id]
        name = protocol.canonical_param(_text(message, 0, "param"))
        specs = {spec.name: spec for spec in param_specs(entry["type"])}
        spec = specs.get(name)
        if spec is None:
            hint = suggest(name, list(specs))
            raise PatchError(f"{entry['type']} {module_id!r} has no parameter {name!r}{hint}")
        try:
            values = parse_lane(str(_arg(message, 1, "values")))
        except ValueError as exc:
            raise PatchError(f"{module_id}.{name} lane: {exc}") from None
        for value in values:
            if value is not None and spec.clamp(value)[1]:
                raise PatchError(
                    f"{module_id}.{name} lane value {value:g} is outside {spec.range_text}"
                )
        return name

    # -- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy: modules, ``connections: [[src, dst]]``, ``modulations``, tempo."""
        return {
            "modules": copy.deepcopy(self.modules),
            "connections": [[a, b] for a, b in self._connections],
            "modulations": [list(mod) for mod in self.modulations],
            "tempo": self.tempo,
            "tracks": copy.deepcopy(self.tracks),
            "transport": self.transport,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Patch:
        """Rebuild a patch from `to_dict()` output, validating it as messages would be.

        Raises `PatchError` if anything in it is invalid.
        """
        patch = cls()
        try:
            for message in cls.messages_of(data):
                patch.apply(message)
        except (protocol.ProtocolError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(f"invalid patch data: {exc}") from exc
        return patch

    @staticmethod
    def messages_of(data: dict[str, Any]) -> list[Message]:
        """The commands that build the patch of `to_dict()` output from an empty one.

        Raises `ProtocolError`, `KeyError`, `TypeError` or `ValueError` on malformed data.
        """
        messages: list[Message] = []
        for module_id, entry in dict(data.get("modules", {})).items():
            messages.append(protocol.validate("/patch/create", (module_id, entry["type"])))
            for name, value in dict(entry.get("params", {})).items():
                messages.append(protocol.validate(f"/mod/{module_id}/{name}", (value,)))
        for src, dst in data.get("connections", []):
            messages.append(protocol.validate("/patch/connect", (src, dst)))
        for src, dst, name in data.get("modulations", []):
            messages.append(protocol.validate("/patch/modulate", (src, dst, name)))
        messages.append(protocol.validate("/tempo", (data.get("tempo", DEFAULT_TEMPO),)))
        for module_id, track in dict(data.get("tracks", {})).items():
            seq = f"/seq/{module_id}"
            messages.append(protocol.validate(f"{seq}/step", (track["division"],)))
            messages.append(protocol.validate(f"{seq}/gate", (track["gate"],)))
            messages.append(protocol.validate(f"{seq}/swing", (track["swing"],)))
            messages.append(protocol.validate(f"{seq}/transpose", (track["transpose"],)))
            for name, values in dict(track.get("lanes", {})).items():
                messages.append(protocol.validate(f"{seq}/lane", (name, values)))
            if track.get("pattern") is not None:
                messages.append(protocol.validate(f"{seq}/pattern", (track["pattern"],)))
                if not track.get("running", True):
                    messages.append(protocol.validate(f"{seq}/stop", ()))
        if not data.get("transport", False):
            messages.append(protocol.validate("/seq/stop", ()))
        return messages

    def copy(self) -> Patch:
        """An independent copy."""
        other = Patch()
        other.modules = copy.deepcopy(self.modules)
        for src, dst in self._connections:
            other._link(src, dst)
        other.modulations = list(self.modulations)
        other.tempo = self.tempo
        other.tracks = copy.deepcopy(self.tracks)
        other.transport = self.transport
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Patch):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
