"""The context cache: the shell's mirror of the patch, used to resolve what a line means.

It knows the modules (id → type), their last known parameter values, the connections and
modulations, the tracks of the sequencer, the tempo, the focus (the module last named or
created, what `cutoff 800` applies to), the last note played on each module, the key, and
an undo/redo history. It is kept up to date by observing the very OSC messages the shell
sends, so a raw `/patch/create bass saw` updates it just like `add saw bass`. A new shell
rebuilds it from the engine's state dump with `Context.from_dump`.

>>> from chronus.protocol import validate
>>> ctx = Context()
>>> ctx.new_id("kick"), ctx.new_id("acid")
('kick', 'acid1')
>>> ctx.observe(validate("/patch/create", ("kick", "kick")))
>>> ctx.new_id("kick"), ctx.modules
('kick2', {'kick': 'kick'})
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, SYNTH_TYPES
from chronus.lang.modules import learn_plugins, param_specs
from chronus.protocol import ID_PATTERN, MASTER, Message

__all__ = [
    "DEFAULT_RATE",
    "DEFAULT_TEMPO",
    "FILTER_WORD",
    "PRONOUNS",
    "Context",
    "PatchState",
    "Track",
]

DEFAULT_TEMPO = 120.0
"""The engine's tempo before anyone sets one."""
DEFAULT_RATE = 48000
"""The engine's sample rate unless its dump says another."""

PRONOUNS: frozenset[str] = frozenset({"it", "that", "this", "them", "those", "these"})
"""Words that stand for the module in focus (`play c3 on it`); `them` for the last group."""

_GROUP_PRONOUNS = frozenset({"them", "those", "these"})

FILTER_WORD = "filter"
"""A word of the language, never a module's name: `the filter` is the filter of the focus."""


@dataclass(frozen=True, slots=True)
class Track:
    """The sequencer track of one module, as the engine's dump describes it."""

    pattern: str | None = None
    division: int = 16
    gate: float = 0.5
    swing: float = 0.0
    transpose: int = 0
    lanes: tuple[tuple[str, str], ...] = ()
    running: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The dump's shape: `{"pattern", "division", "gate", "swing", "transpose", ...}`."""
        return {
            "pattern": self.pattern,
            "division": self.division,
            "gate": self.gate,
            "swing": self.swing,
            "transpose": self.transpose,
            "lanes": dict(self.lanes),
            "running": self.running,
        }


@dataclass(frozen=True, slots=True)
class PatchState:
    """What the engine holds, frozen: the unit of undo and redo."""

    modules: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]
    connections: tuple[tuple[str, str], ...]
    modulations: tuple[tuple[str, str, str], ...]
    tempo: float
    tracks: tuple[tuple[str, Track], ...]
    transport: bool


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
    modulations: list[tuple[str, str, str]] = field(default_factory=list)
    """(lfo, module, parameter) patches."""
    tracks: dict[str, Track] = field(default_factory=dict)
    """Module id → its sequencer track."""
    transport: bool = False
    """Whether the sequencer's transport runs."""
    group: tuple[str, ...] = ()
    """The modules the last line named together (a chain): what `them` means."""
    last_notes: dict[str, tuple[tuple[float, ...], float, float | None]] = field(
        default_factory=dict
    )
    """Module id → (notes, velocity, seconds) of the last note or chord played on it."""
    key: int | None = None
    """The tonic (0 = c … 11 = b) of `key c minor`, None until one is set."""
    scale: str | None = None
    """"major" or "minor"."""
    recording: str | None = None
    """The file being recorded to, if a recording was started."""
    takes: int = 0
    """Recordings started without a file name (take1.wav, take2.wav, …)."""
    history: list[PatchState] = field(default_factory=list)
    """The state before each line that changed it, oldest first: what `undo` goes back to."""
    future: list[PatchState] = field(default_factory=list)
    """States undone, most recent last: what `redo` goes forward to."""
    rate: int = DEFAULT_RATE
    """The engine's sample rate: a recording's length is sent in frames."""
    attached: bool = False
    """The mirror was made from an engine already running: `history` starts there, and what
    was played before is not this mirror's to undo."""

    @classmethod
    def from_dump(cls, dump: Mapping[str, Any]) -> Context:
        """Build from the engine's state dump.

        The dump is `{"modules": {id: {"type": t, "params": {p: v}}}, "connections":
        [[src, dst], ...], "modulations": [[lfo, dst, param]], "tempo": bpm, "tracks":
        {id: {...}}, "transport": bool, "rate": Hz}`; missing or unknown keys and malformed
        entries are skipped, because a partial mirror is more use to a musician than no shell.
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
        for pair in _list(dump.get("connections")):
            if isinstance(pair, list | tuple) and len(pair) == 2:
                route = (str(pair[0]), str(pair[1]))
                if route not in ctx.connections:
                    ctx.connections.append(route)
        for triple in _list(dump.get("modulations")):
            if isinstance(triple, list | tuple) and len(triple) == 3:
                mod = (str(triple[0]), str(triple[1]), str(triple[2]))
                if mod not in ctx.modulations:
                    ctx.modulations.append(mod)
        tempo = dump.get("tempo")
        if _is_number(tempo) and float(tempo) > 0:
            ctx.tempo = float(tempo)
        tracks = dump.get("tracks")
        if isinstance(tracks, Mapping):
            for module_id, entry in tracks.items():
                track = _track(entry)
                if track is not None:
                    ctx.tracks[str(module_id)] = track
        rate = dump.get("rate")
        if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0:
            ctx.rate = rate
        transport = dump.get("transport")
        if isinstance(transport, bool):
            ctx.transport = transport
        elif isinstance(transport, Mapping) and isinstance(transport.get("running"), bool):
            ctx.transport = bool(transport["running"])
        return ctx

    @classmethod
    def from_engine(cls, dump: Mapping[str, Any]) -> Context:
        """Build from a running engine's dump, learning its plugin types first (the dump's
        `"plugins"`; see `chronus.lang.modules.learn_plugins`) so that modules of those types
        have their parameters. A snapshot, which is no engine, is read with `from_dump`."""
        learn_plugins(engine_plugins(dump))
        return cls.from_dump(dump)

    def to_dump(self) -> dict[str, Any]:
        """The same shape `from_dump` reads (and the engine's `/engine/dump` gives)."""
        return {
            "modules": {
                module_id: {"type": kind, "params": dict(self.params.get(module_id, {}))}
                for module_id, kind in self.modules.items()
            },
            "connections": [list(route) for route in self.connections],
            "modulations": [list(mod) for mod in self.modulations],
            "tempo": self.tempo,
            "tracks": {module_id: track.to_dict() for module_id, track in self.tracks.items()},
            "transport": self.transport,
        }

    def copy(self) -> Context:
        """An independent copy, to map a line on without touching this one."""
        return Context(
            dict(self.modules),
            {module_id: dict(values) for module_id, values in self.params.items()},
            list(self.connections),
            self.tempo,
            self.focus,
            list(self.modulations),
            dict(self.tracks),
            self.transport,
            self.group,
            dict(self.last_notes),
            self.key,
            self.scale,
            self.recording,
            self.takes,
            list(self.history),
            list(self.future),
            self.rate,
            self.attached,
        )

    def assign(self, other: Context) -> None:
        """Take every field of `other` (commit a line in place, so holders of self see it)."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(other, name))

    # ---- the state undo works on ----------------------------------------------------------
    def state(self) -> PatchState:
        """The engine-side state, frozen and in a canonical order (what undo restores; two
        states are equal when the engine would sound the same)."""
        return PatchState(
            tuple(sorted(self.modules.items())),
            tuple(
                (module_id, tuple(sorted(values.items())))
                for module_id, values in sorted(self.params.items())
            ),
            tuple(sorted(self.connections)),
            tuple(sorted(self.modulations)),
            self.tempo,
            tuple(sorted(self.tracks.items())),
            self.transport,
        )

    def heard(self, messages: Collection[Message]) -> None:
        """Another client's change: the mirror follows it, and so does every state in the
        undo and redo histories, so that `undo` takes back this shell's lines and leaves the
        others' changes standing (as a shared document's undo does)."""
        for message in messages:
            self.observe(message)
        rebased: dict[int, PatchState] = {}  # by identity: hashing a big state costs more
        for states in (self.history, self.future):
            for index, state in enumerate(states):
                if id(state) not in rebased:
                    rebased[id(state)] = _after(state, messages)
                states[index] = rebased[id(state)]

    # ---- lookups --------------------------------------------------------------------------
    def resolve(self, name: str | None) -> str | None:
        """The module id a word refers to: None or a pronoun means the focus, `filter` the
        filter of the focus (`filter` itself when it has none)."""
        if name is None or name in PRONOUNS:
            if name in _GROUP_PRONOUNS and self.group:
                return self.group[-1]
            return self.focus
        if name == FILTER_WORD and name not in self.modules:
            return self.filter_near(self.focus) or name
        return name

    def targets(self, name: str | None) -> list[str | None]:
        """The modules a word stands for: `them` is the last group, anything else one."""
        if name in _GROUP_PRONOUNS and self.group:
            return list(self.group)
        return [self.resolve(name)]

    def type_of(self, module_id: str) -> str | None:
        """The type of a module, or None if the patch has no such module."""
        return self.modules.get(module_id)

    def outputs(self, module_id: str) -> list[str]:
        """Where a module's sound goes, in the order the routes were made."""
        return [dst for src, dst in self.connections if src == module_id]

    def inputs(self, module_id: str) -> list[str]:
        """What feeds a module."""
        return [src for src, dst in self.connections if dst == module_id]

    def downstream(self, module_id: str) -> list[str]:
        """Every module the sound of `module_id` reaches, nearest first (breadth-first)."""
        seen: list[str] = []
        todo = [module_id]
        while todo:
            node = todo.pop(0)
            for dst in self.outputs(node):
                if dst != MASTER and dst not in seen and dst != module_id:
                    seen.append(dst)
                    todo.append(dst)
        return seen

    def sound_filter(self, module_id: str) -> str | None:
        """The filter the sound of `module_id` goes through: itself if it is a filter, else
        the nearest one after it (the first routed when two are as near), else None."""
        return self.sound_through(module_id, FILTER_TYPES)

    def sound_through(self, module_id: str, kinds: Collection[str]) -> str | None:
        """The module of one of `kinds` the sound of `module_id` goes through: itself if it
        is one, else the nearest one after it (the first routed when two are as near)."""
        if self.modules.get(module_id) in kinds:
            return module_id
        for node in self.downstream(module_id):
            if self.modules.get(node) in kinds:
                return node
        return None

    def filter_near(self, module_id: str | None) -> str | None:
        """What `the filter` means next to `module_id`: the filter its sound goes through,
        else the nearest one before it, else none for a synth (its own filter is meant),
        else the patch's only filter, else None."""
        found = None if module_id is None else self.sound_filter(module_id)
        if found is not None:
            return found
        seen: list[str] = []
        todo = [] if module_id is None else [module_id]
        while todo:
            for src in self.inputs(todo.pop(0)):
                if src not in seen and src != module_id:
                    if self.modules.get(src) in FILTER_TYPES:
                        return src
                    seen.append(src)
                    todo.append(src)
        if module_id is not None and self.modules.get(module_id) in SYNTH_TYPES:
            return None
        filters = [m for m, kind in self.modules.items() if kind in FILTER_TYPES]
        return filters[0] if len(filters) == 1 else None

    def free_id(self, base: str, taken: frozenset[str] = frozenset()) -> str:
        """`base` if no module has it, else `base2`, `base3`, …"""
        candidates = (base if i == 1 else f"{base}{i}" for i in range(1, 10_000))
        for candidate in candidates:
            if candidate not in self.modules and candidate not in taken:
                if ID_PATTERN.fullmatch(candidate):
                    return candidate
        raise ValueError(f"no free id for {base!r}")

    def new_id(self, kind: str) -> str:
        """The id of an unnamed new module: a drum by its name (`kick`, then `kick2`),
        anything else numbered from 1 (`acid1`, `acid2`, `lfo1`), so that `acid` stays the
        type and `acid1` the module.
        """
        if kind in DRUM_TYPES:
            return self.free_id(kind)
        for i in range(1, 10_000):
            candidate = f"{kind}{i}"
            if candidate not in self.modules and ID_PATTERN.fullmatch(candidate):
                return candidate
        raise ValueError(f"no free id for {kind!r}")

    # ---- keeping the mirror -----------------------------------------------------------------
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
        elif address == "/patch/modulate":
            mod = (str(args[0]), str(args[1]), str(args[2]))
            if mod not in self.modulations:
                self.modulations.append(mod)
        elif address == "/tempo":
            self.tempo = float(args[0])
        elif address.startswith("/mod/"):
            module_id, param = message.fields.get("id"), message.fields.get("param")
            known = self.params.get(module_id or "")
            # Only parameters the type has: a raw message the engine will refuse is not state.
            if known is not None and param is not None and (param in known or not known):
                known[param] = float(args[0])
        elif address == "/seq/start":
            self.transport = True
        elif address == "/seq/stop":
            self.transport = False
        elif address.startswith("/seq/"):
            self._sequence(address.split("/")[2], address.split("/")[3], args)
        elif address == "/record/start":
            self.recording = str(args[0])
        elif address == "/record/stop":
            self.recording = None

    def _sequence(self, module_id: str, action: str, args: tuple[Any, ...]) -> None:
        track = self.tracks.get(module_id)
        if action == "clear":
            self.tracks.pop(module_id, None)
            return
        if action in ("start", "stop"):
            if track is not None:
                self.tracks[module_id] = replace(track, running=action == "start")
                self.transport = self.transport or action == "start"
            return
        track = track if track is not None else Track()
        if action == "pattern":
            track = replace(track, pattern=str(args[0]), running=True)
            self.transport = True
        elif action == "step":
            track = replace(track, division=int(args[0]))
        elif action == "gate":
            track = replace(track, gate=float(args[0]))
        elif action == "swing":
            track = replace(track, swing=float(args[0]))
        elif action == "transpose":
            track = replace(track, transpose=int(args[0]))
        elif action == "lane":
            lanes = dict(track.lanes)
            lanes[str(args[0])] = str(args[1])
            track = replace(track, lanes=tuple(lanes.items()))
        self.tracks[module_id] = track

    def _create(self, module_id: str, kind: str) -> None:
        self.modules[module_id] = kind
        self.params[module_id] = {spec.name: spec.default for spec in param_specs(kind)}

    def _remove(self, module_id: str) -> None:
        self.modules.pop(module_id, None)
        self.params.pop(module_id, None)
        self.tracks.pop(module_id, None)
        self.last_notes.pop(module_id, None)
        self.connections = [r for r in self.connections if module_id not in r]
        self.modulations = [m for m in self.modulations if module_id not in m[:2]]
        self.group = tuple(m for m in self.group if m != module_id)
        if self.focus == module_id:
            self.focus = None


def _after(state: PatchState, messages: Collection[Message]) -> PatchState:
    """`state` as it would be with `messages` applied to it."""
    for message in messages:
        if not message.address.startswith("/mod/"):
            break
    else:  # only parameters (a knob turned): a parameter's values change, nothing else
        for message in messages:
            state = _with_param(state, message)
        return state
    # A message changes the parameters of the modules it names only: the others' are kept as
    # they are (copying and sorting them all again is what this would cost).
    named = {str(arg) for message in messages for arg in message.args}
    named.update(value for message in messages for value in message.fields.values())
    mirror = Context(
        dict(state.modules),
        {module_id: dict(values) for module_id, values in state.params if module_id in named},
        list(state.connections), state.tempo, modulations=list(state.modulations),
        tracks=dict(state.tracks), transport=state.transport,
    )  # fmt: skip
    for message in messages:
        mirror.observe(message)
    kept = {module_id: values for module_id, values in state.params if module_id not in named}
    changed = {
        module_id: tuple(sorted(values.items())) for module_id, values in mirror.params.items()
    }
    return replace(mirror.state(), params=tuple(sorted({**kept, **changed}.items())))


def _with_param(state: PatchState, message: Message) -> PatchState:
    """`state` with the parameter `message` sets (as `Context.observe` would set it)."""
    module_id, param = message.fields.get("id"), message.fields.get("param")
    for index, (known_id, values) in enumerate(state.params):
        if known_id != module_id:
            continue
        known = dict(values)
        if param is None or not (param in known or not known):
            return state
        known[param] = float(message.args[0])
        entry = (known_id, tuple(sorted(known.items())))
        return replace(state, params=(*state.params[:index], entry, *state.params[index + 1 :]))
    return state


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _track(entry: object) -> Track | None:
    if not isinstance(entry, Mapping):
        return None
    pattern = entry.get("pattern")
    lanes = entry.get("lanes")
    numbers = {name: entry.get(name) for name in ("division", "gate", "swing", "transpose")}
    track = Track(
        pattern=pattern if isinstance(pattern, str) else None,
        division=int(numbers["division"]) if _is_number(numbers["division"]) else 16,
        gate=float(numbers["gate"]) if _is_number(numbers["gate"]) else 0.5,
        swing=float(numbers["swing"]) if _is_number(numbers["swing"]) else 0.0,
        transpose=int(numbers["transpose"]) if _is_number(numbers["transpose"]) else 0,
    )
    if isinstance(lanes, Mapping):
        track = replace(track, lanes=tuple((str(k), str(v)) for k, v in lanes.items()))
    if isinstance(entry.get("running"), bool):
        track = replace(track, running=bool(entry["running"]))
    return track


def _is_number(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def engine_plugins(dump: Mapping[str, Any]) -> dict[str, Any]:
    """The plugins an engine's dump describes, one entry each as `learn_plugins` reads them:
    the dump names each plugin in use with its version (`"plugins"`) and gives its module type
    apart (`"plugin_types"`: processor or not, parameters)."""
    named = dump.get("plugins")
    types = dump.get("plugin_types")
    named = named if isinstance(named, Mapping) else {}
    types = types if isinstance(types, Mapping) else {}
    out: dict[str, Any] = {}
    for name, about in named.items():
        if isinstance(types.get(name), Mapping):
            out[str(name)] = {**types[name], "version": str(about), "state": "active"}
    return out
