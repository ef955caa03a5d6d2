"""Text views of engine data for the terminal: health, plugins, a module in words
(the pictures of the patch and the patterns are in `pictures`)."""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table

from chronus.engine.stats import UNDERRUN_CAUSES
from chronus.plugins.result import ERROR_TYPES

__all__ = [
    "format_health",
    "format_link",
    "format_module",
    "format_plugin_health",
    "format_plugin_reply",
    "format_plugins",
    "plugin_rows",
]


def _render(*items: Any, width: int = 100) -> str:
    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
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


def _leftovers_line(left: dict[str, int]) -> str:
    """What dead engines left in /dev/shm, and what removes it ("" when nothing)."""
    if not left.get("segments") and not left.get("semaphores"):
        return ""
    return (
        f"\nleftovers: {left.get('segments', 0)} segments and {left.get('semaphores', 0)} "
        f"semaphores ({left.get('bytes', 0) / 1e6:.1f} MB) of {left.get('engines', 0)} dead "
        "engine(s) in /dev/shm\n  (`chronus doctor` removes them)"
    )


def format_health(status: dict[str, Any]) -> str:
    """A readable summary of `/engine/status`."""
    engine = status.get("engine", {})
    io = status.get("io", {})
    head = (
        f"chronus {engine.get('version', '?')} · up {engine.get('uptime_s', 0):.0f} s · "
        f"{engine.get('rate', 0)} Hz · block {engine.get('block', 0)}"
        f"{' (the JACK period)' if engine.get('block_from') == 'jack' else ''} · "
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
    head += _leftovers_line(engine.get("leftovers", {}))
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
    if engine.get("link", {}).get("enabled"):
        head += "\n" + format_link(engine["link"])
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
    if "plugins" not in status:
        return _render(head, table, foot)
    plugins = plugin_rows(status["plugins"])
    if not plugins:
        return _render(head, table, foot, "plugins: none loaded")
    return _render(head, table, foot, "plugins:", _plugin_table(plugins), width=_WIDE)


def format_link(link: dict[str, Any]) -> str:
    """Ableton Link in one line (from `/link`'s reply or health's `link`).

    >>> format_link({"enabled": True, "peers": 2, "bpm": 133.0, "quantum": 4,
    ...              "phase_error_ms": -0.012, "nudges": 7})
    'link: on · 2 peers · 133 bpm · quantum 4 · phase error -0.012 ms · 7 nudges'
    >>> format_link({"enabled": True, "peers": 1, "bpm": 120.0, "quantum": 4,
    ...              "nudges": 0, "start_stop_sync": True, "playing": True})
    'link: on · 1 peer · 120 bpm · quantum 4 · start/stop sync (playing) · 0 nudges'
    >>> format_link({"enabled": False})
    'link: off'
    """
    if not link.get("enabled"):
        return "link: off"
    peers = int(link.get("peers", 0))
    line = (
        f"link: on · {peers} peer{'' if peers == 1 else 's'} · {link.get('bpm', 0):g} bpm · "
        f"quantum {link.get('quantum', 4)}"
    )
    if link.get("phase_error_ms") is not None:
        line += f" · phase error {link['phase_error_ms']:g} ms"
    if link.get("start_stop_sync"):
        line += f" · start/stop sync ({'playing' if link.get('playing') else 'stopped'})"
    return line + f" · {link.get('nudges', 0)} nudges"


_WIDE = 150
"""Columns for a table of plugins: their last error is long."""


def plugin_rows(data: object) -> list[dict[str, Any]]:
    """The plugins of a `/plugins` listing (a list of records) or of a mapping name → record,
    each a dict with its `name`; anything malformed is left out."""
    if isinstance(data, dict):
        data = [{"name": name, **entry} for name, entry in data.items() if isinstance(entry, dict)]
    if not isinstance(data, list):
        return []
    return [row for row in data if isinstance(row, dict) and isinstance(row.get("name"), str)]


def format_plugins(listing: object) -> str:
    """`modules` and `chronus plugins`: one row per plugin of the engine's `/plugins` listing."""
    rows = plugin_rows(listing)
    if not rows:
        return "no plugins loaded — try `load module ./fold.py as fold` (help plugins)"
    return _render(_plugin_table(rows), width=_WIDE)


def _plugin_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=None, show_edge=False)
    columns = ("name", "state", "version", "runs in", "blocks ok", "errors", "CPU µs p50/p99",
               "uptime", "last error")  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        state = str(row.get("state", "?"))
        if row.get("pending"):
            state += f" (new version {str(row['pending'])[:12]} on its way)"
        table.add_row(
            row["name"],
            state,
            str(row.get("version", "")),
            _runs_in(row),
            str(row.get("success_count", 0)),
            str(row.get("error_count", 0)),
            f"{_number(row.get('cpu_us_p50')):.0f} / {_number(row.get('cpu_us_p99')):.0f}",
            _uptime(_number(row.get("uptime_seconds"))),
            _last_error(row),
        )
    return table


def _runs_in(row: dict[str, Any]) -> str:
    """Where a plugin runs; for an isolated one, its hosts' pids, states and restarts."""
    where = str(row.get("runs_in", ""))
    hosts = row.get("hosts")
    if not isinstance(hosts, dict) or not hosts:
        return where
    said = [
        f"{module_id}: pid {host.get('host_pid', 0)} {host.get('host_state', '?')}, "
        f"{host.get('restarts', 0)} restarts"
        for module_id, host in sorted(hosts.items())
        if isinstance(host, dict)
    ]
    if row.get("host_group"):
        where += f" in the {row['host_group']} host (maker {row.get('maker', '?')})"
    return f"{where}, 1 block late ({'; '.join(said)})"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _uptime(seconds: float) -> str:
    if seconds <= 0:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.0f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _last_error(row: dict[str, Any]) -> str:
    """The last error the engine saw, else why the last validation failed."""
    text = str(row.get("last_error") or "")
    validation = row.get("validation")
    if not text and isinstance(validation, dict) and validation.get("ok") is False:
        text = f"{validation.get('error_type', '')}: {validation.get('error_message', '')}"
    return text if len(text) <= 60 else text[:59] + "…"


def _plugin_host_lines(hosts: object) -> list[str]:
    """An isolated plugin's modules: each one's host (a native plugin's: named with its maker,
    and the modules the host serves), what befell it, and its lag."""
    if not isinstance(hosts, dict):
        return []
    lines = []
    for module_id, host in sorted(hosts.items()):
        if not isinstance(host, dict):
            continue
        lag = int(_number(host.get("latency_blocks")))
        named = module_id
        if host.get("maker"):
            named += f" ({host.get('plugin', '?')}, maker: {host['maker']})"
        together = host.get("group_modules")
        shared = ""
        if isinstance(together, list) and len(together) > 1:
            shared = f" · {len(together)} modules in this host ({', '.join(map(str, together))})"
        lines.append(
            f"  {named}: host pid {host.get('host_pid', 0)} · {host.get('host_state', '?')}"
            f" · restarts {host.get('restarts', 0)} · {host.get('bypasses', 0)} calls bypassed"
            f" · plays {lag} block{'s' if lag != 1 else ''} late{shared}"
        )
        if host.get("error"):
            lines.append(f"    its host could not take it: {host['error']}")
        deaths = [str(death) for death in host.get("deaths") or []]
        if deaths:
            lines.append(f"    host deaths: {'; '.join(deaths)} — {host.get('decision', '')}")
    return lines


def format_plugin_health(record: dict[str, Any]) -> str:
    """`modules fold` and `chronus plugins fold`: one plugin of `/plugins/<name>/health`, with
    its last validation and every change of state."""
    uptime = _uptime(_number(record.get("uptime_seconds")))
    head = (
        f"{record.get('name', '?')} · {record.get('state', '?')} · v {record.get('version', '')}"
        f" · runs {record.get('runs_in', '?')} · up {uptime}"
    )
    lines = [head, f"  file: {record.get('path', '?')}"]
    lines.append(
        f"  blocks ok {record.get('success_count', 0)} · errors {record.get('error_count', 0)} · "
        f"restarts {record.get('restarts', 0)} · CPU {_number(record.get('cpu_us_p50')):.0f} / "
        f"{_number(record.get('cpu_us_p99')):.0f} µs per block (p50 / p99)"
    )
    lines += _plugin_host_lines(record.get("hosts"))
    if record.get("last_error"):
        lines.append(f"  last error: {record['last_error']}")
    if record.get("pending"):
        lines.append(f"  new version on its way: {record['pending']}")
    validation = record.get("validation")
    if isinstance(validation, dict):
        took = f"{1000 * _number(validation.get('duration')):.0f} ms"
        if validation.get("ok"):
            lines.append(f"  last validation: passed in {took}")
        else:
            kind = str(validation.get("error_type", ""))
            meaning = f" ({ERROR_TYPES[kind]})" if kind in ERROR_TYPES else ""
            lines.append(
                f"  last validation: failed in {took} — {kind}{meaning}: "
                f"{validation.get('error_message', '')}"
            )
    transitions = [t for t in record.get("transitions") or [] if isinstance(t, dict)]
    if transitions:
        lines.append("  history:")
    for t in transitions:
        when = time.strftime("%H:%M:%S", time.localtime(_number(t.get("at"))))
        detail = f" — {t['detail']}" if t.get("detail") else ""
        lines.append(f"    {when}  {t.get('state', '?'):<12} {t.get('reason', '')}{detail}")
    return "\n".join(lines)


def format_plugin_reply(address: str, args: tuple[object, ...], request: str = "") -> str:
    """What the engine answered to a plugin command, for people.

    `/plugins/loaded fold 1a2b3c4d5e6f active` → `loaded fold (v 1a2b3c4d5e6f): active`;
    `/plugins/unloaded fold` → `unloaded fold`; `/error /plugins/load <why>` → the error,
    with what its type means. `request` ("load fold") names what was asked.
    """
    words = [str(arg) for arg in args]
    if address == "/plugins/loaded" and len(words) >= 3:
        return f"loaded {words[0]} (v {words[1]}): {words[2]}"
    if address == "/plugins/unloaded" and words:
        return f"unloaded {words[0]}"
    if address == "/error":
        head = f"error: {request or (words[0] if words else 'a plugin command')} failed"
        # The validation's error type comes as its own argument or as "type: message".
        if len(words) >= 3 and words[1] in ERROR_TYPES:
            kind, why = words[1], " ".join(words[2:])
        else:
            why = " ".join(words[1:])
            kind, _, rest = why.partition(":")
            kind = kind.strip()
            if kind in ERROR_TYPES:
                why = rest.strip()
        if kind in ERROR_TYPES:
            head += f" — {kind} ({ERROR_TYPES[kind]})"
        if request.startswith("reload") and "plays on" not in why:  # the engine may say so
            why += ("; " if why else "") + "the old version keeps playing"
        return f"{head}\n  {why}" if why else head
    return f"{address[1:]}: {' '.join(words)}"


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
