"""Pictures of an engine's dump: the patch as a tree of chains, the patterns as a step grid
with the playhead, one module's parameters as bars against their ranges.

Each is a pure function of the dump (and for the grid, the beat) returning a rich renderable,
so tests print it to a recording console; `render` turns one into text for the terminal.
"""

from __future__ import annotations

import math
from fractions import Fraction
from io import StringIO
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Span, Text
from rich.tree import Tree

from chronus.dsp.params import modulated_value
from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, MODULATOR_TYPES, SYNTH_TYPES
from chronus.lang.modules import ParamSpec, param_specs
from chronus.seq.transport import BEATS_PER_BAR
from chronus.shell.steps import REST, Position, TrackView, step_cells, step_widths, track_view

__all__ = [
    "BAR_WIDTH",
    "KEY_PARAMS",
    "PAGE",
    "module_bars",
    "patch_tree",
    "pattern_grid",
    "pattern_summary",
    "render",
    "value_text",
]

KEY_PARAMS: dict[str, tuple[str, ...]] = {
    **{kind: ("cutoff", "res", "release", "volume") for kind in SYNTH_TYPES},
    **{kind: ("tune", "decay", "tone", "volume") for kind in DRUM_TYPES},
    **{kind: ("cutoff", "res") for kind in FILTER_TYPES},
    "acid": ("cutoff", "res", "env_amount"),
    "distortion": ("drive", "tone", "mix"),
    "delay": ("time", "feedback", "mix"),
    "reverb": ("room", "damp", "mix"),
    "lfo": ("rate", "sync", "depth"),
}
"""The parameters `show patch` gives for each type; a type not here shows its first three."""

PAGE = 32
"""At most this many steps in a row of the grid: a longer pattern shows the page playing."""

BAR_WIDTH = 24
"""Characters of a full bar in `show <module>`."""

_UNITS = {"hz": "Hz", "db": "dB", "s": "s", "ms": "ms", "cents": "cents", "st": "st",
          "beats": "beats"}  # fmt: skip


def render(renderable: RenderableType, width: int = 100, color: bool = False) -> str:
    """The renderable as text `width` columns wide, with ANSI colours if `color`."""
    buffer = StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
    )
    console.print(renderable)
    return buffer.getvalue().rstrip()


def value_text(spec: ParamSpec | None, value: float) -> str:
    """A value with its unit, as a musician reads it: 2 kHz, -6 dB, 0.25 s, 0.6."""
    unit = spec.unit if spec is not None else ""
    if unit == "hz" and abs(value) >= 1000:
        return f"{value / 1000:.3g} kHz"
    number = f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{number} {_UNITS.get(unit, unit)}".rstrip()


# -- show patch -------------------------------------------------------------------------------


def _specs(kind: str) -> dict[str, ParamSpec]:
    return {spec.name: spec for spec in param_specs(kind)}


def _key_values(kind: str, params: dict[str, Any]) -> str:
    specs = _specs(kind)
    names = KEY_PARAMS.get(kind) or tuple(specs)[:3]
    if kind == "lfo":  # synced or free: one of the two speeds matters
        names = ("sync", "depth") if params.get("sync") else ("rate", "depth")
    shown = [
        f"{name} {value_text(specs.get(name), float(params[name]))}"
        for name in names
        if isinstance(params.get(name), int | float)
    ]
    return " · ".join(shown)


def _beats_text(beats: Fraction) -> str:
    if beats % BEATS_PER_BAR == 0:
        bars = beats // BEATS_PER_BAR
        return f"{bars} bar" + ("s" if bars != 1 else "")
    return f"{float(beats):g} beat" + ("s" if beats != 1 else "")


def pattern_summary(view: TrackView, transport: bool, limit: int = 40) -> str:
    """What a track plays, in short: `c2 eb2 g2 c3 — 4 steps of 1/16 (1 beat), playing`."""
    pattern = view.pattern
    text = pattern.text if len(pattern.text) <= limit else pattern.text[: limit - 1] + "…"
    cycle = _beats_text(pattern.steps * view.step_beats)
    about = (
        f"{pattern.steps} step{'s' if pattern.steps != 1 else ''} of 1/{view.division} ({cycle})"
    )
    if pattern.period > 1:
        about += f", changes over {pattern.period} cycles"
    if view.swing:
        about += f", swing {100 * view.swing:.0f}%"
    for name, cells in view.lanes:
        about += f", lane {name} ({len(cells)})"
    state = "playing" if view.running and transport else "stopped"
    return f"{text} — {about}, {state}"


class _Chains:
    """Walks the routes from each source to the output, each module shown once in full."""

    def __init__(self, dump: dict[str, Any]) -> None:
        self.modules: dict[str, Any] = dump.get("modules") or {}
        self.routes: dict[str, list[str]] = {}
        fed: set[str] = set()
        for pair in dump.get("connections") or []:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                self.routes.setdefault(str(pair[0]), []).append(str(pair[1]))
                fed.add(str(pair[1]))
        self.sources = [
            name
            for name, entry in self.modules.items()
            if name not in fed and _kind(entry) not in MODULATOR_TYPES
        ]
        self.modulated: dict[str, list[tuple[str, str]]] = {}
        for triple in dump.get("modulations") or []:
            if isinstance(triple, list | tuple) and len(triple) == 3:
                lfo, target, param = (str(part) for part in triple)
                self.modulated.setdefault(target, []).append((lfo, param))
        self.tracks: dict[str, TrackView] = {}
        for name, entry in (dump.get("tracks") or {}).items():
            view = track_view(str(name), entry)
            if view is not None:
                self.tracks[str(name)] = view
        self.shown: set[str] = set()

    def path(self, source: str) -> list[str]:
        """The chain from `source` along each module's first route (stopping at a loop)."""
        path = [source]
        while path[-1] in self.routes and self.routes[path[-1]][0] not in path:
            path.append(self.routes[path[-1]][0])
        return path


def _kind(entry: Any) -> str:
    return str(entry.get("type", "?")) if isinstance(entry, dict) else "?"


def _module_line(chains: _Chains, name: str, transport: bool) -> Text:
    entry = chains.modules.get(name)
    line = Text()
    line.append(name, style="bold")
    if entry is None:  # the output (master) or a module the dump does not hold
        return line
    kind = _kind(entry)
    line.append(f" {kind}", style="cyan")
    params = entry.get("params") or {}
    values = _key_values(kind, params)
    if values:
        line.append(f"  {values}")
    if params.get("mute"):
        line.append("  muted", style="red")
    for lfo, param in chains.modulated.get(name, []):
        lfo_params = (chains.modules.get(lfo) or {}).get("params") or {}
        line.append(f"  {param} ← {lfo} ({_key_values('lfo', lfo_params)})", style="magenta")
    return line


def patch_tree(dump: dict[str, Any]) -> Tree:
    """`show patch`: one branch per chain (source → processors → output, along the routes),
    each module with its key parameters, each track with what it plays."""
    transport = bool(dump.get("transport"))
    tempo = dump.get("tempo", 120)
    tree = Tree(Text(f"patch · {tempo:g} bpm · " + ("playing" if transport else "stopped")))
    chains = _Chains(dump)
    if not chains.modules:
        tree.add("no modules yet — try `add a saw called bass`")
        return tree
    for source in chains.sources:
        path = chains.path(source)
        ends = path[-1] in chains.modules and path[-1] not in chains.routes
        title = " → ".join(path) + (" → (not connected)" if ends else "")
        branch = tree.add(Text(title, style="bold green"))
        for name in path:
            if name not in chains.modules:
                continue
            if name in chains.shown:
                branch.add(Text(f"{name} (shown above)", style="dim"))
                break
            chains.shown.add(name)
            node = branch.add(_module_line(chains, name, transport))
            track = chains.tracks.get(name)
            if track is not None:
                node.add(Text("plays " + pattern_summary(track, transport), style="yellow"))
            for other in chains.routes.get(name, [])[1:]:
                node.add(Text(f"also → {other}", style="dim"))
    for name, entry in chains.modules.items():
        if _kind(entry) in MODULATOR_TYPES and not any(
            lfo == name for mods in chains.modulated.values() for lfo, _ in mods
        ):
            tree.add(_module_line(chains, name, transport).append("  (modulates nothing)"))
    return tree


# -- show patterns ----------------------------------------------------------------------------


def _where(transport: bool, beat: float | None, tempo: float) -> str:
    if not transport:
        return f"stopped · {tempo:g} bpm"
    if beat is None or not math.isfinite(beat):
        return f"playing · {tempo:g} bpm (where the playhead is is not known)"
    bar, within = divmod(beat, BEATS_PER_BAR)
    return f"bar {int(bar) + 1} beat {within + 1:.2f} · {tempo:g} bpm"


_Cell = tuple[str, str, int]
"""A cell's text, style and least width."""

_Row = tuple[str, tuple[str, ...], int | None, tuple[int, ...]]
"""A row's label, cells, playing step (or None) and each step's widest cell in any cycle."""


def _row(name: str, cells: tuple[str, ...], at: int | None, widest: tuple[int, ...],
         color: bool, page: int) -> list[_Cell]:  # fmt: skip
    """A row of at most `page` steps: a longer one shows the page that holds step `at`.
    Each cell is as wide as its step's widest cycle, so that an alternation does not shift
    the columns while it plays."""
    start = 0 if len(cells) <= page or at is None else at // page * page
    shown = cells[start : start + page]
    label = f"{name} {start + 1}–{start + len(shown)}" if len(cells) > page else name
    row = [(label, "bold", 0)]
    for index, cell in enumerate(shown, start):
        if index == at:
            row.append((cell if color else f"[{cell}]", "reverse bold", widest[index]))
        else:
            row.append((cell, "dim" if cell == REST else "", widest[index]))
    return row


def _page_size(rows: list[_Row], width: int, color: bool) -> int:
    """How many steps fit in `width` beside the labels: at most PAGE, at least 4, a multiple
    of 4 when the rows are longer (pages that start on a beat of 16ths)."""
    longest = max(len(cells) for _, cells, _, _ in rows)
    cell = max(len(str(longest)), *(w for _, _, _, widest in rows for w in widest))
    cell += 1 + (0 if color else 2)  # a space between, brackets around the playing one
    label = max(len(name) for name, _, _, _ in rows) + 9  # room for " 33–64"
    fits = (width - label) // cell
    return longest if longest <= min(PAGE, fits) else max(4, min(PAGE, fits) // 4 * 4)


def _lines(table: list[list[_Cell]]) -> list[Text]:
    """The rows as lines of aligned columns: labels to the left, steps centred. (Drawn by
    hand: a rich Table of 64 tracks costs ~100 ms a frame, these lines a few.)"""
    widths = [0] * max(len(row) for row in table)
    for row in table:
        for column, (text, _, least) in enumerate(row):
            widths[column] = max(widths[column], len(text), least)
    lines = []
    for row in table:
        parts: list[str] = []
        spans: list[Span] = []
        at = 0
        for column, ((text, style, _), width) in enumerate(zip(row, widths, strict=False)):
            left = 0 if column == 0 else 1 + (width - len(text)) // 2
            if style:
                spans.append(Span(at + left, at + left + len(text), style))
            cell = " " * left + text
            cell += " " * (width + (0 if column == 0 else 1) - len(cell))
            parts.append(cell)
            at += len(cell)
        lines.append(Text("".join(parts).rstrip(), spans=spans, no_wrap=True, overflow="crop"))
    return lines


def pattern_grid(
    dump: dict[str, Any],
    beat: float | None,
    color: bool = False,
    width: int = 100,
    height: int | None = None,
) -> Group:
    """`show patterns`: a row per track (and per lane), a column per step, the step sounding
    at `beat` highlighted (in brackets without colour). `beat` None: nothing is playing.
    Rows longer than fit in `width` show the page of steps playing; with `height`, the rows
    that do not fit are counted instead of drawn."""
    transport = bool(dump.get("transport"))
    tempo = float(dump.get("tempo", 120) or 120)
    entries = [
        (str(name), entry)
        for name, entry in (dump.get("tracks") or {}).items()
        if isinstance(entry, dict) and isinstance(entry.get("pattern"), str)
    ]
    playing = beat if transport else None
    head = Text(f"patterns · {_where(transport, playing, tempo)}")
    room = len(entries) * 99 if height is None else max(1, height - 3)
    rows: list[_Row] = []
    left_out = 0
    for name, entry in entries:
        if len(rows) >= room:  # a live frame draws what the terminal shows, and counts the rest
            left_out += 1 + len(entry.get("lanes") or ())
            continue
        view = track_view(name, entry)
        if view is None:
            continue
        at: Position | None = view.at(playing)
        cycle = at.cycle if at is not None else 0
        period = f" ({cycle + 1}/{view.pattern.period})" if view.pattern.period > 1 else ""
        label = f"{view.module_id}{period}" + ("" if view.running else " stopped")
        cells = step_cells(view.pattern, cycle)
        rows.append((label, cells, None if at is None else at.step, step_widths(view.pattern)))
        for lane_name, lane in view.lanes:
            where = None if at is None else at.absolute % len(lane)
            rows.append((f" ↳ {lane_name}", lane, where, tuple(len(cell) for cell in lane)))
    if not rows:
        return Group(head, Text("no patterns yet — try `kick x . . . x . . .`"))
    left_out += max(0, len(rows) - room)
    rows = rows[:room]
    page = _page_size(rows, width, color)
    header = [("", "", 0)] + [(str(step), "bold", 0) for step in range(1, page + 1)]
    lines = _lines([header] + [_row(*row, color, page) for row in rows])
    if left_out:
        lines.append(Text(f"… {left_out} more rows (a taller terminal, or show patterns once)"))
    return Group(head, *lines)


# -- show <module> ----------------------------------------------------------------------------


def _fraction(spec: ParamSpec, value: float) -> float:
    """Where `value` lies in the spec's range, 0..1: on a log scale for frequencies and times
    that span 100× or more (a cutoff of 1 kHz sits past the middle, as it sounds)."""
    low, high = spec.minimum, spec.maximum
    if high <= low:
        return 0.0
    if spec.unit in ("hz", "ms", "s") and low > 0 and high / low >= 100:
        if value <= low:
            return 0.0
        share = math.log(value / low) / math.log(high / low)
    else:
        share = (value - low) / (high - low)
    return min(1.0, max(0.0, share))


def bar_cells(spec: ParamSpec, value: float, width: int = BAR_WIDTH) -> int:
    """How many of `width` cells of a bar `value` fills."""
    return round(_fraction(spec, value) * width)


def _params(entry: Any) -> dict[str, Any]:
    """The parameters a module's entry in the dump holds."""
    params = entry.get("params") if isinstance(entry, dict) else None
    return params if isinstance(params, dict) else {}


def _depth(entry: Any) -> float:
    """The depth of an lfo's entry in the dump (its default when not set)."""
    depth = _params(entry).get("depth", _specs("lfo")["depth"].default)
    return float(depth) if isinstance(depth, int | float) else 0.0


def _bar(spec: ParamSpec, value: float, depth: float) -> Text:
    """A parameter's bar: filled up to its set value; a span an lfo sweeps it over (`depth`
    of its range each way, as the engine moves it) is drawn in magenta, ▒ beyond the value."""
    filled = bar_cells(spec, value)
    if depth <= 0:
        return Text("█" * filled, style="green") + Text("░" * (BAR_WIDTH - filled), style="dim")
    low = bar_cells(spec, modulated_value(spec, value, -depth))
    high = max(bar_cells(spec, modulated_value(spec, value, depth)), filled)
    low = min(low, filled)
    return (
        Text("█" * low, style="green")
        + Text("█" * (filled - low), style="magenta")
        + Text("▒" * (high - filled), style="magenta")
        + Text("░" * (BAR_WIDTH - high), style="dim")
    )


def module_bars(dump: dict[str, Any], module_id: str) -> RenderableType:
    """`show bass`: each parameter's value against its range, as a bar, with its unit; one an
    lfo moves is marked `~ lfo1`, its bar showing the span the lfo sweeps it over."""
    modules = dump.get("modules") or {}
    entry = modules.get(module_id)
    if not isinstance(entry, dict):
        known = " ".join(modules) or "none yet"
        return Text(f'there is no module called "{module_id}" (modules: {known})')
    kind = _kind(entry)
    params = entry.get("params") or {}
    chains = _Chains(dump)
    lfos: dict[str, list[str]] = {}
    for lfo, param in chains.modulated.get(module_id, []):
        lfos.setdefault(param, []).append(lfo)
    table = Table(show_edge=False, box=None, padding=(0, 1), pad_edge=False)
    for column in ("parameter", "value", "", "range") + (("",) if lfos else ()):
        table.add_column(column, no_wrap=True)
    for spec in param_specs(kind):
        value = params.get(spec.name, spec.default)
        if not isinstance(value, int | float):
            continue
        moving = lfos.get(spec.name, [])
        depth = sum(_depth(chains.modules.get(lfo)) for lfo in moving)
        style = "" if value == spec.default else "bold"
        row: list[RenderableType] = [Text(spec.name, style=style), value_text(spec, float(value))]
        row += [_bar(spec, float(value), depth), Text(spec.range_text)]
        if moving:
            how = [
                f"{lfo} ({_key_values('lfo', _params(chains.modules.get(lfo)))})" for lfo in moving
            ]
            row.append(Text(f"~ {' + '.join(how)}", style="magenta"))
        table.add_row(*row)
    title = Text(f"{module_id} ({kind})", style="bold")
    goes = ", ".join(chains.routes.get(module_id, [])) or "nothing"
    title.append(f" → {goes}")
    track = chains.tracks.get(module_id)
    parts: list[RenderableType] = [title, table]
    if track is not None:
        parts.append(Text("plays " + pattern_summary(track, bool(dump.get("transport")))))
    return Group(*parts)
