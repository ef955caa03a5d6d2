"""What differs between two patches (snapshots, or a snapshot and the patch now), in musical
terms: modules added and removed, parameters changed with their units, routes, patterns,
tempo.

>>> old = {"modules": {"bass": {"type": "saw", "params": {"cutoff": 400.0}}},
...        "connections": [["bass", "master"]], "tempo": 120}
>>> new = {"modules": {"bass": {"type": "saw", "params": {"cutoff": 700.0}},
...                    "pad": {"type": "sine", "params": {}}},
...        "connections": [["bass", "master"], ["pad", "master"]], "tempo": 128,
...        "tracks": {"bass": {"pattern": "c2 eb2", "division": 16}}}
>>> print("\\n".join(patch_diff(old, new)))
+ pad (sine) → master
~ bass cutoff 400 → 700 Hz
~ tempo 120 → 128 bpm
+ bass plays c2 eb2 (16ths)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chronus.lang.context import Context, PatchState, Track
from chronus.lang.modules import find_param
from chronus.lang.targets import change_note

__all__ = ["patch_diff"]

_DIVISIONS = {4: "quarters", 8: "8ths", 16: "16ths", 32: "32nds", 12: "8th triplets"}


def patch_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One line per difference from the dump `old` to the dump `new` (empty: the same).

    `+` something `new` has that `old` has not, `-` the other way, `~` a change.
    """
    a, b = Context.from_dump(old).state(), Context.from_dump(new).state()
    return [*_modules(a, b), *_params(a, b), *_routes(a, b), *_tempo(a, b), *_tracks(a, b)]


def _routes_of(state: PatchState, module_id: str) -> str:
    outs = [dst for src, dst in state.connections if src == module_id]
    return f" → {', '.join(outs)}" if outs else ""


def _modules(a: PatchState, b: PatchState) -> list[str]:
    before, after = dict(a.modules), dict(b.modules)
    out = []
    for module_id, kind in after.items():
        if before.get(module_id) != kind:
            out.append(f"+ {module_id} ({kind}){_routes_of(b, module_id)}")
    for module_id, kind in before.items():
        if after.get(module_id) != kind:
            out.append(f"- {module_id} ({kind})")
    return out


def _params(a: PatchState, b: PatchState) -> list[str]:
    kinds_a, kinds_b = dict(a.modules), dict(b.modules)
    before = {m: dict(values) for m, values in a.params}
    out = []
    for module_id, values in b.params:
        kind = kinds_b.get(module_id)
        if kind is None or kinds_a.get(module_id) != kind:
            continue  # added or re-typed: its line says so
        for name, value in values:
            old = before.get(module_id, {}).get(name)
            if old is None or old == value:
                continue
            spec = find_param(kind, name)
            if spec is None:
                out.append(f"~ {module_id} {name} {old:g} → {value:g}")
            else:
                out.append(f"~ {change_note(module_id, spec, old, value)}")
    return out


def _routes(a: PatchState, b: PatchState) -> list[str]:
    kept = set(dict(a.modules)) & set(dict(b.modules))
    old, new = set(a.connections), set(b.connections)
    out = [f"+ {src} → {dst}" for src, dst in b.connections if (src, dst) not in old]
    out = [line for line in out if line.split()[1] in kept]  # new modules list their routes
    out += [
        f"- {src} → {dst}"
        for src, dst in a.connections
        if (src, dst) not in new and src in kept and (dst in kept or dst == "master")
    ]
    for sign, mods, other in (
        ("+", b.modulations, a.modulations),
        ("-", a.modulations, b.modulations),
    ):
        out += [f"{sign} {lfo} modulates {m} {p}" for lfo, m, p in mods if (lfo, m, p) not in other]
    return out


def _tempo(a: PatchState, b: PatchState) -> list[str]:
    out = []
    if a.tempo != b.tempo:
        out.append(f"~ tempo {a.tempo:g} → {b.tempo:g} bpm")
    if a.transport != b.transport:
        out.append("~ transport " + ("stopped → playing" if b.transport else "playing → stopped"))
    return out


def _plays(track: Track) -> str:
    every = _DIVISIONS.get(track.division, f"1/{track.division}")
    return f"{track.pattern} ({every})"


def _tracks(a: PatchState, b: PatchState) -> list[str]:
    before, after = dict(a.tracks), dict(b.tracks)
    out = []
    for module_id, track in after.items():
        old = before.get(module_id)
        if track.pattern is None or (old is not None and old == track):
            continue
        if old is None or old.pattern is None:
            out.append(f"+ {module_id} plays {_plays(track)}")
        elif old.pattern != track.pattern or old.division != track.division:
            out.append(f"~ {module_id} pattern {_plays(old)} → {_plays(track)}")
        else:
            changes = [
                f"{name} {getattr(old, name):g} → {getattr(track, name):g}"
                for name in ("gate", "swing", "transpose")
                if getattr(old, name) != getattr(track, name)
            ]
            if old.lanes != track.lanes:
                changes.append("lanes " + (" ".join(f"{p}: {v}" for p, v in track.lanes) or "none"))
            if old.running != track.running:
                changes.append("started" if track.running else "stopped")
            out.append(f"~ {module_id} track: {', '.join(changes)}")
    for module_id, was in before.items():
        now = after.get(module_id)
        if was.pattern is not None and (now is None or now.pattern is None):
            out.append(f"- {module_id} pattern {_plays(was)}")
    return out
