"""Undo and redo as state differences: the messages that turn one patch state into another.

The context keeps, for every line that changed the patch, the state before it (a frozen
`PatchState`). Undoing is sending what turns the current state back into that one; redoing
is the same towards the state that was undone. Working on states rather than on per-command
inverses makes every inverse exact: undoing an `add` removes the module, undoing a `remove`
re-creates it with its parameters, routes, modulations and track, undoing a set restores the
old value — whatever mix of commands the line held.

>>> from chronus.lang.context import Context
>>> from chronus.protocol import validate
>>> before = Context()
>>> after = before.copy()
>>> after.observe(validate("/patch/create", ("bass", "saw")))
>>> after.observe(validate("/patch/connect", ("bass", "master")))
>>> [m.to_list() for m in diff_messages(after.state(), before.state())]
[['/patch/remove', 'bass']]
"""

from __future__ import annotations

from chronus.lang.context import PatchState, Track
from chronus.protocol import Message, validate

__all__ = ["diff_messages"]


def diff_messages(current: PatchState, target: PatchState) -> list[Message]:
    """The messages that take the engine from `current` to `target`, in a safe order."""
    out: list[Message] = []
    now_modules, want_modules = dict(current.modules), dict(target.modules)
    now_params = dict(current.params)
    gone = [m for m in now_modules if m not in want_modules or want_modules[m] != now_modules[m]]
    born = [m for m in want_modules if m not in now_modules or m in gone]
    gone_set, born_set = set(gone), set(born)

    # Routes and modulations that must go, before anything is removed.
    want_routes = set(target.connections)
    for src, dst in current.connections:
        if (src, dst) not in want_routes and not ({src, dst} & gone_set):
            out.append(validate("/patch/disconnect", (src, dst)))
    for module_id in gone:
        out.append(validate("/patch/remove", (module_id,)))
    for module_id in born:
        out.append(validate("/patch/create", (module_id, want_modules[module_id])))
    # Parameters: every value of a re-created module that is not its default, and every
    # value of a kept module that differs.
    for module_id, values in target.params:
        if module_id not in want_modules:
            continue
        before = {} if module_id in born_set else dict(now_params.get(module_id, ()))
        defaults = _defaults(want_modules[module_id]) if module_id in born_set else {}
        for name, value in values:
            reference = before.get(name, defaults.get(name))
            if reference is None or reference != value:
                out.append(validate(f"/mod/{module_id}/{name}", (value,)))
    now_routes = {r for r in current.connections if not (set(r) & gone_set)}
    for route in target.connections:
        if route not in now_routes:
            out.append(validate("/patch/connect", route))
    now_mods = {m for m in current.modulations if not (set(m[:2]) & gone_set)}
    for mod in target.modulations:
        if mod not in now_mods:
            out.append(validate("/patch/modulate", mod))
    if current.tempo != target.tempo:
        out.append(validate("/tempo", (target.tempo,)))
    out.extend(_track_messages(current, target, gone_set))
    if current.transport != target.transport:
        out.append(validate("/seq/start" if target.transport else "/seq/stop", ()))
    return out


def _defaults(kind: str) -> dict[str, float]:
    from chronus.lang.modules import param_specs

    return {spec.name: spec.default for spec in param_specs(kind)}


def _track_messages(current: PatchState, target: PatchState, gone: set[str]) -> list[Message]:
    out: list[Message] = []
    now = {m: t for m, t in current.tracks if m not in gone}
    want = dict(target.tracks)
    for module_id in now:
        if module_id not in want:
            out.append(validate(f"/seq/{module_id}/clear", ()))
    for module_id, track in want.items():
        old = now.get(module_id)
        base = Track() if old is None else old
        lost = old is not None and bool({n for n, _ in old.lanes} - {n for n, _ in track.lanes})
        if old is not None and ((old.pattern is not None and track.pattern is None) or lost):
            out.append(validate(f"/seq/{module_id}/clear", ()))
            base = Track()
        seq = f"/seq/{module_id}"
        if track.division != base.division:
            out.append(validate(f"{seq}/step", (track.division,)))
        if track.gate != base.gate:
            out.append(validate(f"{seq}/gate", (track.gate,)))
        if track.swing != base.swing:
            out.append(validate(f"{seq}/swing", (track.swing,)))
        if track.transpose != base.transpose:
            out.append(validate(f"{seq}/transpose", (track.transpose,)))
        old_lanes = dict(base.lanes)
        for name, values in track.lanes:
            if old_lanes.get(name) != values:
                out.append(validate(f"{seq}/lane", (name, values)))
        if track.pattern is not None and track.pattern != base.pattern:
            out.append(validate(f"{seq}/pattern", (track.pattern,)))
            if not track.running:
                out.append(validate(f"{seq}/stop", ()))
        elif track.pattern is not None and track.running != base.running:
            out.append(validate(f"{seq}/{'start' if track.running else 'stop'}", ()))
    return out
