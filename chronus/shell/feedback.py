"""One short line, in musical terms, for every line that changed something.

The shell's mirror of the patch (`chronus.lang.context.Context`) is looked at before and after
a line; `told` turns the difference into what a musician wants to read back:

>>> from chronus.lang.interpreter import Interpreter
>>> interpreter = Interpreter()
>>> def say(line):
...     before = Moment.of(interpreter.context)
...     result = interpreter.interpret(line)
...     return told(result, before, Moment.of(interpreter.context))
>>> say("add a saw called bass through an acid filter")
['added bass (saw) → acid1 → master']
>>> say("make it darker")
['acid1 cutoff 400 → 280 Hz']
>>> say("tempo 128")
['tempo 120 → 128']

Lines that print their own answer (`health`, `show`, snapshots, recordings, plugins) get no
line here; neither does a line that changed nothing (a note played, `what`), except one that
set a value to what it was (`acid1 cutoff stays 400 Hz`, `bass: pattern unchanged (c2 eb2)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chronus.lang.context import Context, PatchState, Track
from chronus.lang.intents import (
    AddSound,
    Adjust,
    Midi,
    Modulate,
    Plugin,
    Record,
    Redo,
    Replay,
    SetParam,
    ShellCommand,
    Snapshot,
    Start,
    StopRecording,
    Transpose,
    Undo,
)
from chronus.lang.interpreter import Interpretation
from chronus.lang.modules import find_param
from chronus.lang.resolve import Mapped
from chronus.lang.targets import change_note
from chronus.protocol import MASTER
from chronus.seq.transport import BEATS_PER_BAR

__all__ = [
    "MOST",
    "BeatNow",
    "Moment",
    "Teller",
    "changed",
    "division_name",
    "next_bar_of",
    "others_line",
    "told",
]

BeatNow = Callable[[], float | None]
"""The transport's beat now (None when it is stopped), e.g. from the engine's `/engine/now`."""

MOST = 4
"""Changes named in one line; the rest are counted (`… and 3 more`)."""

_ANSWERED = (ShellCommand, Snapshot, Record, StopRecording, Replay, Plugin, Midi)
"""Intents whose lines print their own answer."""
_SAID_BY_DIFF = (SetParam, Adjust, AddSound, Modulate, Undo, Redo)
"""Intents whose mapper note the difference says again (or says better)."""
_SWITCHES = {"mute": ("unmuted", "muted"), "solo": ("unsoloed", "soloed")}
"""Parameters that are a switch: told as what they did (`kick muted`), not as numbers."""
_ALL_THERE_WERE = re.compile(r"\(all there were[^)]*\)")
_DONE = re.compile(r"\d+")
_DIVISIONS = {
    1: "whole notes", 2: "halves", 4: "quarters", 8: "8ths", 16: "16ths", 32: "32nds",
    64: "64ths", 12: "8th triplets", 24: "16th triplets", 6: "quarter triplets",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Moment:
    """The mirror at one instant: the patch state and the focus."""

    state: PatchState
    focus: str | None

    @classmethod
    def of(cls, context: Context) -> Moment:
        """The moment of a context."""
        return cls(context.state(), context.focus)


def division_name(division: int) -> str:
    """`16` → `16ths`: a step length as musicians say it."""
    return _DIVISIONS.get(division, f"1/{division} notes")


def told(
    result: Interpretation, before: Moment, after: Moment, next_bar: int | None = None
) -> list[str]:
    """What to write after `result` took the mirror from `before` to `after`.

    `next_bar` is the bar (1 = the first) at which a change waiting for the bar line lands,
    when the engine's clock is known; otherwise such a change says "from the next bar". The
    read-as note comes first; the change is one line; other notes (a lane that moves a
    module's own knob, the notes a transposition played) follow.
    """
    if any(isinstance(intent, _ANSWERED) for intent in result.intents):
        return list(result.notes)
    lines = [f"read as: {result.read_as}"] if result.read_as else []
    said = _said_values(result)
    changes = _with_sounds(result, changed(before.state, after.state, next_bar, said))
    kept = [] if changes else _kept(after.state, said) + _kept_tracks(result, after.state)
    asides = "".join(f" ({m.note})" for m in result.mapped if m.aside and m.note)
    undo = [m for m in result.mapped if isinstance(m.intent, Undo | Redo)]
    if undo:
        lines += _undone(undo[0], changes, before.state, next_bar)
    elif changes:
        lines.append(_joined(changes) + asides)
    elif kept:
        lines.append(_joined(kept) + asides)
    elif after.focus != before.focus and after.focus is not None and not _notes(result):
        lines.append(f"focus: {after.focus}")
    for mapped in result.mapped:
        if not mapped.note or ((changes or kept) and (_said_by_diff(mapped) or mapped.aside)):
            continue
        if mapped in undo:
            continue  # its count is in its own line (`undo 2 lines:`)
        lines.append(mapped.note)
    return lines


def _notes(result: Interpretation) -> bool:
    """Whether a mapper note will be told (`bass plays c3` names the new focus itself)."""
    return any(mapped.note and not mapped.aside for mapped in result.mapped)


def _undone(
    mapped: Mapped, changes: list[str], start: PatchState, next_bar: int | None
) -> list[str]:
    """`undo: acid1 cutoff 280 → 400 Hz`; over several lines, a line for what each undid
    (`undo 2 lines:`, `  1. acid1 cutoff 280 → 400 Hz`, `  2. removed lead`)."""
    word = "undo" if isinstance(mapped.intent, Undo) else "redo"
    done = _DONE.search(mapped.note)  # the mapper's count: the steps there were
    steps = int(done.group(0)) if done else 1
    tail = _ALL_THERE_WERE.search(mapped.note)
    head = word if steps == 1 else f"{word} {steps} lines"
    head += f" {tail.group(0)}" if tail else ""
    if len(mapped.path) < 2:
        return [f"{head}: {_joined(changes) if changes else 'nothing to change'}"]
    out = [f"{head}:"]
    for number, state in enumerate(mapped.path, 1):
        step = changed(start, state, next_bar)
        out.append(f"  {number}. {_joined(step) if step else 'nothing to change'}")
        start = state
    return out


def _with_sounds(result: Interpretation, changes: list[str]) -> list[str]:
    """A named sound says which it is (`added 303: bass → bass_f → master`) in place of the
    modules it made."""
    for mapped in result.mapped:
        if not isinstance(mapped.intent, AddSound) or not mapped.note:
            continue
        made = {str(m.args[0]) for m in mapped.messages if m.address == "/patch/create"}
        kept = [
            c
            for c in changes
            if not any(c.startswith(f"added {m} ") or c == f"added {m}" for m in made)
        ]
        changes = [f"added {mapped.note}", *kept]
    return changes


def _said_values(result: Interpretation) -> frozenset[tuple[str, str]]:
    """The (module, parameter) pairs the line's own words set (`cutoff 900`, `darker`)."""
    return frozenset(
        (str(message.fields.get("id")), str(message.fields.get("param")))
        for mapped in result.mapped
        if isinstance(mapped.intent, SetParam | Adjust)
        for message in mapped.messages
        if message.address.startswith("/mod/")
    )


def _said_by_diff(mapped: object) -> bool:
    intent = getattr(mapped, "intent", None)
    if isinstance(intent, Transpose):
        return "pattern at" in getattr(mapped, "note", "")
    return isinstance(intent, _SAID_BY_DIFF)


def _joined(changes: list[str]) -> str:
    if len(changes) <= MOST:
        return "; ".join(changes)
    return "; ".join(changes[:MOST]) + f"; … and {len(changes) - MOST} more"


def changed(
    before: PatchState,
    after: PatchState,
    next_bar: int | None = None,
    said: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Each change from `before` to `after`, in musical words, modules first. `said` are the
    (module, parameter) pairs the line set by name: told even on a module it made."""
    old_modules, new_modules = dict(before.modules), dict(after.modules)
    added = [m for m in new_modules if old_modules.get(m) != new_modules[m]]
    removed = [m for m in old_modules if new_modules.get(m) != old_modules[m]]
    out = [f"removed {m}" for m in sorted(removed)]
    out += _added(added, new_modules, before, after)
    out += _routes(before, after, set(added), set(removed))
    out += _params(before, after, set(added), said)
    out += _modulations(before, after)
    if after.tempo != before.tempo:
        running = before.transport and after.transport
        when = "" if not running else f" from bar {next_bar}" if next_bar else " from the next bar"
        out.append(f"tempo {before.tempo:g} → {after.tempo:g}{when}")
    out += _tracks(before, after, next_bar)
    if after.transport != before.transport:
        out.append("transport started" if after.transport else "transport stopped")
    return out


def others_line(name: str, before: PatchState, after: PatchState, raw: list[str]) -> str:
    """Another client's change, told above the prompt: `[ana] bass cutoff 400 → 280 Hz`.

    `raw` is what it sent, said as it is when the mirror shows no difference (`/panic`).

    >>> from chronus.lang.context import Context
    >>> from chronus.protocol import validate
    >>> context = Context()
    >>> before = context.state()
    >>> context.observe(validate("/tempo", (140,)))
    >>> others_line("ana", before, context.state(), ["/tempo 140"])
    '[ana] tempo 120 → 140'

    A tempo the mirror has already is nothing to tell (Link's session moving to the tempo
    this shell typed): an empty line.

    >>> others_line("link", context.state(), context.state(), ["/tempo 140"])
    ''
    """
    changes = changed(before, after)
    if not changes and all(line.startswith("/tempo ") for line in raw):
        return ""
    return f"[{name}] " + (_joined(changes) if changes else "; ".join(raw))


def _label(module_id: str, kind: str) -> str:
    """`acid1 (acid)`, but `reverb1` and `kick` where the name says the type."""
    return module_id if module_id.startswith(kind) else f"{module_id} ({kind})"


def _added(
    added: list[str], kinds: dict[str, str], before: PatchState, after: PatchState
) -> list[str]:
    """`added bass (saw) → acid1 (acid) → master`, `added reverb1 after bass`."""
    out: list[str] = []
    fresh = set(added)
    said: set[str] = set()
    routes = after.connections
    for module_id in added:
        if module_id in said:
            continue
        feeders = [src for src, dst in routes if dst == module_id and src not in fresh]
        if any(src in fresh for src, dst in routes if dst == module_id):
            continue  # said as part of the chain of the module before it
        chain = [_label(module_id, kinds[module_id])]
        said.add(module_id)
        node = module_id
        while True:
            outs = [dst for src, dst in routes if src == node]
            if not outs:
                break
            node = outs[0]
            if node in fresh and node not in said:
                chain.append(_label(node, kinds[node]))
                said.add(node)
                continue
            if not feeders:
                chain.append(node)
            break
        text = "added " + " → ".join(chain)
        if feeders:
            text = f"added {chain[0]} after {' and '.join(feeders)}"
            if len(chain) > 1:
                text += " → " + " → ".join(chain[1:])
        out.append(text)
    for module_id in added:
        if module_id not in said:
            out.append(f"added {_label(module_id, kinds[module_id])}")
    return out


def _routes(before: PatchState, after: PatchState, added: set[str], removed: set[str]) -> list[str]:
    old, new = set(before.connections), set(after.connections)
    out = []
    for src, dst in after.connections:
        if (src, dst) not in old and not {src, dst} & added:
            out.append(f"{src} → {dst}")
    inserted = {src for src, dst in after.connections if dst in added}
    for src, dst in before.connections:
        if (src, dst) in new or {src, dst} & removed or src in inserted:
            continue
        out.append(f"{src} no longer → {dst}" if dst != MASTER else f"{src} no longer to master")
    return out


def _params(
    before: PatchState, after: PatchState, added: set[str], said: frozenset[tuple[str, str]]
) -> list[str]:
    """Changed values; a new module's values set away from the default when the line named
    them (`add a 303; cutoff 900`) or when there are at most two, not the many a named sound
    sets by itself."""
    kinds = dict(after.modules)
    old = {module_id: dict(values) for module_id, values in before.params}
    out: list[str] = []
    fresh: list[str] = []
    named: list[str] = []
    for module_id, values in after.params:
        kind = kinds.get(module_id)
        if kind is None:
            continue
        was = old.get(module_id, {})
        for name, value in values:
            spec = find_param(kind, name)
            if module_id in added:
                if spec is not None and value != spec.default:
                    note = _set_note(module_id, spec.name, value, spec.unit)
                    (named if (module_id, name) in said else fresh).append(note)
                continue
            if name in was and was[name] != value:
                if name in _SWITCHES:
                    out.append(f"{module_id} {_SWITCHES[name][value != 0]}")
                elif spec is None:
                    out.append(f"{module_id} {name} {was[name]:g} → {value:g}")
                else:
                    out.append(change_note(module_id, spec, was[name], value))
    if len(fresh) + len(named) <= 2:
        return out + fresh + named
    return out + named


def _kept(state: PatchState, said: frozenset[tuple[str, str]]) -> list[str]:
    """The values a line set to what they already were (`acid1 cutoff stays 400 Hz`): the
    line was understood, and the musician hears nothing change because nothing did."""
    kinds = dict(state.modules)
    values = {module_id: dict(pairs) for module_id, pairs in state.params}
    out: list[str] = []
    for module_id, name in sorted(said):
        value = values.get(module_id, {}).get(name)
        spec = find_param(kinds.get(module_id, ""), name)
        if value is not None and spec is not None:
            out.append(_set_note(module_id, f"{spec.name} stays", value, spec.unit))
    return out


def _kept_tracks(result: Interpretation, state: PatchState) -> list[str]:
    """The track settings a line set to what they already were (`bass: pattern unchanged`)."""
    tracks = dict(state.tracks)
    out: list[str] = []
    restarted = state.transport and any(
        isinstance(intent, Start) and intent.again for intent in result.intents
    )
    if restarted:
        out.append("the transport starts again from its first beat")
    for message in result.messages:
        _, root, module_id, action = [*message.address.split("/"), "", "", ""][:4]
        if root == "seq" and not action and module_id in ("start", "stop"):
            if not restarted:
                out.append("the transport " + ("plays on" if state.transport else "stays stopped"))
            continue
        track = tracks.get(module_id)
        if root != "seq" or track is None:
            continue
        if action == "pattern":
            out.append(f"{module_id}: pattern unchanged ({track.pattern})")
        elif action == "step":
            out.append(f"{module_id}: steps stay {division_name(track.division)}")
        elif action in ("swing", "gate"):
            out.append(f"{module_id}: {action} stays {getattr(track, action):g}")
        elif action == "transpose":
            out.append(f"{module_id}: transpose stays {track.transpose:+d}")
    return list(dict.fromkeys(out))


def _set_note(module_id: str, name: str, value: float, unit: str) -> str:
    shown = {"hz": "Hz", "khz": "kHz", "db": "dB"}.get(unit, unit)
    return f"{module_id} {name} {value:g}{' ' + shown if shown else ''}"


def _modulations(before: PatchState, after: PatchState) -> list[str]:
    old, new = set(before.modulations), set(after.modulations)
    out = [
        f"{lfo} → {dst} {param}"
        for lfo, dst, param in after.modulations
        if (lfo, dst, param) not in old
    ]
    removed_modules = set(dict(before.modules)) - set(dict(after.modules))
    out += [
        f"{lfo} no longer moves {dst} {param}"
        for lfo, dst, param in before.modulations
        if (lfo, dst, param) not in new and not {lfo, dst} & removed_modules
    ]
    return out


def _tracks(before: PatchState, after: PatchState, next_bar: int | None) -> list[str]:
    old, new = dict(before.tracks), dict(after.tracks)
    modules = dict(after.modules)
    out = []
    for module_id, track in after.tracks:
        was = old.get(module_id)
        if was == track:
            continue
        out.append(_track_change(module_id, was, track, before.transport, next_bar))
    for module_id in old:
        if module_id not in new and module_id in modules:
            out.append(f"{module_id}: pattern cleared")
    return [line for line in out if line]


def _track_change(
    module_id: str, was: Track | None, track: Track, running: bool, next_bar: int | None
) -> str:
    """`bass: pattern c2 eb2 g2 c3 (16ths) from bar 5`, `bass: swing 0 → 0.2`."""
    when = (
        "from bar 1" if not running else f"from bar {next_bar}" if next_bar else "from the next bar"
    )
    old = was if was is not None else Track(pattern=None)
    parts = []
    if track.pattern != old.pattern and track.pattern is not None:
        parts.append(f"pattern {track.pattern} ({division_name(track.division)}) {when}")
    elif track.division != old.division:
        parts.append(f"steps {division_name(old.division)} → {division_name(track.division)}")
    for name in ("gate", "swing"):
        a, b = getattr(old, name), getattr(track, name)
        if a != b:
            parts.append(f"{name} {a:g} → {b:g}")
    if track.transpose != old.transpose:
        parts.append(f"transpose {old.transpose:+d} → {track.transpose:+d}")
    old_lanes = dict(old.lanes)
    for param, values in track.lanes:
        if old_lanes.get(param) != values:
            parts.append(f"lane {param} {values}")
    if track.running != old.running and was is not None and track.pattern == old.pattern:
        parts.append(f"starts {when}" if track.running else "stops at the next bar")
    return f"{module_id}: {', '.join(parts)}" if parts else ""


def next_bar_of(beat: float | None) -> int | None:
    """The bar (1 = the first) of the first bar line after `beat`, or None if not known."""
    if beat is None:
        return None
    return int(beat // BEATS_PER_BAR) + 2


class Teller:
    """The shell's feedback: `told` lines, or only the mapper's notes when `quiet`.

    `beat_now` gives the transport's beat now (None when stopped or unknown), so that a
    pattern says from which bar it plays.
    """

    def __init__(self, quiet: bool = False, beat_now: BeatNow | None = None) -> None:
        self.quiet = quiet
        self.beat_now = beat_now
        self.next_bar: int | None = None
        """The bar the last line's changes wait for (None: none wait, or the clock is not
        known)."""

    def lines(
        self, result: Interpretation, before: Moment | None, after: Moment | None
    ) -> list[str]:
        """What to write for `result` (its notes alone if quiet or if `before` is unknown)."""
        self.next_bar = None
        if before is None or after is None:
            return self._notes(result)
        # The clock is asked only for a track or the tempo changed while the transport runs.
        moved = (before.state.tracks, before.state.tempo) != (after.state.tracks, after.state.tempo)
        if self.beat_now is not None and before.state.transport and moved:
            try:
                self.next_bar = next_bar_of(self.beat_now())
            except Exception:  # the clock is a nicety: a line is never lost for it
                self.next_bar = None
        if self.quiet:
            return self._notes(result)
        return told(result, before, after, self.next_bar)

    @staticmethod
    def _notes(result: Interpretation) -> list[str]:
        asides = {m.note for m in result.mapped if m.aside}
        return [note for note in result.notes if note not in asides]
