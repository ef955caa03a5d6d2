"""Text views of engine data for the terminal: health, patch."""

from __future__ import annotations

from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table

from chronus.engine.stats import UNDERRUN_CAUSES

__all__ = ["format_health", "format_module", "format_patch"]


def _render(*items: Any) -> str:
    buffer = StringIO()
    console = Console(file=buffer, width=100, color_system=None, highlight=False)
    for item in items:
        console.print(item)
    return buffer.getvalue().rstrip()


def _timing(t: dict[str, Any]) -> str:
    return f"{t.get('p50_us', 0):.0f} / {t.get('p99_us', 0):.0f} µs"


def _underrun_line(row: dict[str, Any]) -> str:
    """The last underrun, and what its numbers say about the cause."""
    behind = row.get("behind", {})
    cause = UNDERRUN_CAUSES.get(row.get("cause", ""), "")
    return (
        f"last underrun: block {row.get('block', 0)}, asked for {row.get('after_ms', 0.0):.1f} ms "
        f"after the one before (period {row.get('period_ms', 0.0):.2f} ms)\n  "
        f"slot A {behind.get('A', 0)}, slot B {behind.get('B', 0)} block(s) short — {cause}"
    )


def _host_lines(host: dict[str, Any], io: dict[str, Any]) -> str:
    """What the host's stalls cost: the xruns right after one, long callbacks, bursts."""
    lines = []
    if host.get("watched"):
        stalls = (
            f"host: {host.get('stalls', 0)} stalls of a CPU by the host "
            f"(longest {host.get('longest_stall_ms', 0.0):.1f} ms)"
        )
        if io.get("xruns"):
            stalls += f"; {io.get('xruns_in_host_stalls', 0)} of the {io['xruns']} xruns "
            stalls += "came right after one"
        lines.append(stalls)
        if io.get("long_callbacks"):
            lines.append(
                f"  callbacks longer than a period: {io['long_callbacks']} "
                f"({io.get('long_callbacks_in_host_stalls', 0)} during a host stall)"
            )
    if io.get("burst_waits"):
        lines.append(
            f"bursts: the device caught up {io['burst_waits']}× on a block not yet there; "
            f"{io.get('burst_saves', 0)}× a slot finished it in time"
        )
    return "".join("\n" + line for line in lines)


def format_health(status: dict[str, Any]) -> str:
    """A readable summary of `/engine/status`."""
    engine = status.get("engine", {})
    io = status.get("io", {})
    head = (
        f"chronus {engine.get('version', '?')} · up {engine.get('uptime_s', 0):.0f} s · "
        f"{engine.get('rate', 0)} Hz · block {engine.get('block', 0)} · "
        f"lead {engine.get('lead', 0)} ({engine.get('lead_ms', 0):.2f} ms)"
    )
    osc = engine.get("osc", {})
    head += (
        f"\nOSC: {osc.get('received', 0)} received, {osc.get('commands', 0)} commands, "
        f"{osc.get('errors', 0)} errors"
    )
    if osc.get("reply_errors"):
        head += f", {osc['reply_errors']} replies not sent"
    dropped = osc.get("tcp", {}).get("dropped", 0)
    if dropped:
        head += f", {dropped} TCP clients dropped (left replies unread)"
    if io:
        device = str(io.get("device", io.get("backend", "?"))).removeprefix("device: ")
        head += f"\noutput: {device}"
        age = io.get("last_onset_age_s")
        sounding = io.get("sounding_blocks", 0)
        if age is None:
            head += " · silent so far"
        else:
            seconds = sounding * engine.get("block", 0) / max(1, engine.get("rate", 1))
            head += f" · {seconds:.1f} s of sound so far, last onset {age:.1f} s ago"
    if engine.get("notice"):
        head += f"\nnotice: {engine['notice']}"
    if "failovers" in engine:
        held_up = sum(slot.get("found_active_held_up", 0) for slot in status.get("slots", []))
        head += (
            f"\nfailover: {engine.get('failovers', 0)} failovers, "
            f"{io.get('covered_by_standby', 0)} blocks covered by the standby "
            f"(the active held up {held_up}×),\n  "
            f"{engine.get('respawns', 0)} respawns · "
            f"DSP load {100 * engine.get('dsp_load', 0):.1f} %"
        )
    head += _host_lines(status.get("host", {}), io)
    recent = io.get("recent_underruns") or []
    if recent:
        head += "\n" + _underrun_line(recent[-1])
    for module_id, why in engine.get("quarantined", {}).items():
        head += f"\nquarantined: {module_id} ({why})"
    for event in engine.get("events", [])[-3:]:
        head += f"\n  {event}"
    table = Table(title=None, show_edge=False)
    columns = (
        "process",
        "pid",
        "state",
        "up (s)",
        "restarts",
        "blocks",
        "time p50/p99",
        "problems",
    )
    for column in columns:
        table.add_column(column)
    if io:
        problems = f"{io.get('xruns', 0)} xruns, {io.get('underruns', 0)} underruns"
        table.add_row(
            "audio I/O",
            str(io.get("pid", "")),
            str(io.get("state", "")),
            f"{io.get('uptime_s', 0):.0f}",
            "",
            str(io.get("blocks_played", 0)),
            _timing(io.get("callback", {})),
            problems,
        )
    for slot in status.get("slots", []):
        problems = (
            f"{slot.get('errors', 0)} errors, {slot.get('late_commands', 0)} late, "
            f"{slot.get('nonfinite_samples', 0)} NaN"
        )
        if slot.get("note"):
            problems += f"; {slot['note']}"
        table.add_row(
            f"slot {slot.get('name', '?')} ({slot.get('role', '?')})",
            str(slot.get("pid", "")),
            str(slot.get("seat", slot.get("state", ""))),
            f"{slot.get('uptime_s', 0):.0f}",
            str(slot.get("restarts", 0)),
            str(slot.get("blocks_rendered", 0)),
            _timing(slot.get("render", {})),
            problems,
        )
    latency = io.get("device_latency_ms", 0)
    foot = f"output latency: lead {engine.get('lead_ms', 0):.2f} ms + device {latency:.2f} ms"
    return _render(head, table, foot)


def format_patch(dump: dict[str, Any], only: str | None = None) -> str:
    """A readable summary of `/engine/dump`: modules, their routes and parameters.

    With `only`, just that module (or a line saying there is none).
    """
    modules = dump.get("modules", {})
    if only is not None:
        if only not in modules:
            return f'there is no module called "{only}"'
        modules = {only: modules[only]}
    routes: dict[str, list[str]] = {}
    for src, dst in dump.get("connections", []):
        routes.setdefault(src, []).append(dst)
    lines = [] if only else [f"tempo {dump.get('tempo', 120):g} bpm"]
    if not modules:
        lines.append("no modules yet — try `add a saw called bass`")
    for name, module in modules.items():
        params = " ".join(f"{k}={v:g}" for k, v in module.get("params", {}).items())
        target = ", ".join(routes.get(name, [])) or "(not connected)"
        lines.append(f"{name} ({module.get('type', '?')}) → {target}  {params}".rstrip())
    return "\n".join(lines)


def format_module(context: Any, module_id: str) -> str:
    """`what is acid1`: a module's type, routes, changed parameters, modulation and track."""
    kind = context.modules.get(module_id)
    if kind is None:
        known = " ".join(context.modules) or "none yet"
        return f'there is no module called "{module_id}" (modules: {known})'
    from chronus.lang.modules import param_specs

    specs = {spec.name: spec for spec in param_specs(kind)}
    values = context.params.get(module_id, {})
    inputs = [src for src, dst in context.connections if dst == module_id]
    outputs = [dst for src, dst in context.connections if src == module_id]
    lines = [f"{module_id} is a {kind}" + (" (in focus)" if context.focus == module_id else "")]
    if inputs:
        lines.append("  fed by: " + ", ".join(inputs))
    lines.append("  goes to: " + (", ".join(outputs) or "nothing (not connected)"))
    changed = [
        f"{name}={value:g}{' ' + specs[name].unit if name in specs and specs[name].unit else ''}"
        for name, value in values.items()
        if name in specs and value != specs[name].default
    ]
    lines.append("  set: " + (" ".join(changed) or "all at their defaults"))
    for lfo, dst, param in context.modulations:
        if dst == module_id:
            lines.append(f"  {param} is modulated by {lfo}")
        if lfo == module_id:
            lines.append(f"  modulates {dst} {param}")
    track = context.tracks.get(module_id)
    if track is not None and track.pattern is not None:
        state = "playing" if track.running and context.transport else "stopped"
        lines.append(
            f"  pattern: {track.pattern}  (1/{track.division}, swing {track.swing:g}, "
            f"transpose {track.transpose:+d}, {state})"
        )
    return "\n".join(lines)
