"""Every benchmark, one at a time, and the table of their figures in `docs/PERFORMANCE.md`.

    python benchmarks/run.py [--quick] [--only NAME ...] [--print] [--save FILE]
    python benchmarks/run.py --load FILE [--print]       # the table again, from saved figures
    python benchmarks/run.py --list

Each benchmark runs in a subprocess of its own, never two at once, with `--json` (or its
JSON printout) so that its figures come as one JSON object; its prose goes to a log, and its
temporary files with it, in one folder (`--logs`, or a new temporary one, named at the end).
Each figure is set against its target (issue 13's, or the earlier issue named in the
target), with SuperCollider's scsynth measured in the same run where there is an anchor, and
a "met?" computed from the figure as measured. The table
replaces what is between `<!-- benchmarks/run.py: begin -->` and `<!-- benchmarks/run.py:
end -->` in docs/PERFORMANCE.md (made before the first section if absent); the rest of that
file is left as it is.

`--quick` runs each benchmark with fewer runs and shorter durations, to check that all of it
works (3–4 minutes here; the table says "quick"); the full run is the one for the record
(some 15 minutes by an estimate from the quick run's parts; nothing else heavy should run
meanwhile). `--only` runs the named benchmarks
(see `--list`); the other rows then say "not run", so use `--print` to look at a partial run
without replacing the table. A benchmark whose prerequisite is missing (a JACK server,
scsynth) or that fails gives rows that say "not measured" and why.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.table import Row, Target, at_most, below, none_of, render, replace_section

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
RATE, BLOCK = 48000, 128
PERIOD_US = 1e6 * BLOCK / RATE
Figures = dict[str, Any]


@dataclass(frozen=True)
class Setting:
    """What a run has to work with."""

    quick: bool
    jack: bool
    """A JACK server answers."""
    scsynth: str
    """Why scsynth cannot run as a realtime server ("" if it can)."""


@dataclass(frozen=True)
class Reading:
    """One figure read from a benchmark's JSON: our cell, the value checked against the
    target (None: not measured), scsynth's cell."""

    chronus: str
    value: float | None
    anchor: str = "—"


@dataclass(frozen=True)
class Figure:
    """A row of the table and how to read it from its benchmark's figures."""

    item: str
    figure: str
    target: Target | None
    read: Callable[[Figures], Reading]


@dataclass(frozen=True)
class Bench:
    """One run of one benchmark script and the rows it gives."""

    name: str
    script: str
    args: Callable[[Setting], list[str]]
    figures: tuple[Figure, ...]
    needs_jack: bool = False
    json_flag: bool = True
    """Whether it takes `--json` (else it prints its JSON as it is)."""

    def command(self, setting: Setting) -> list[str]:
        """The command line after the interpreter."""
        return [str(Path("benchmarks") / self.script), *self.args(setting)]


# -- formatting ------------------------------------------------------------------------------


def us(value: float) -> str:
    """Microseconds, or milliseconds from 1 ms on."""
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


def ms(value: float) -> str:
    """Milliseconds, with three decimals below 10 ms."""
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def seconds(values: list[float]) -> str:
    """The median of runs in seconds, with their spread."""
    ordered = sorted(values)
    mid = statistics.median(ordered)
    spread = f", {ordered[0]:.2f}–{ordered[-1]:.2f} s" if len(ordered) > 1 else ""
    return f"{mid:.2f} s (n = {len(ordered)}{spread})"


def not_measured(why: str) -> Reading:
    """A figure that is not there, and why."""
    return Reading(f"not measured: {why}", None)


# -- live_build.py ---------------------------------------------------------------------------


def _phases(report: Figures) -> list[Figures]:
    return [report[p] for p in ("building", "idle", "removing", "playing") if p in report]


def build_underruns(report: Figures) -> Reading:
    """Underruns while building and in the idle time after it (paced commands land then)."""
    building, idle = report["building"], report["idle"]
    total = building["underruns"] + idle["underruns"]
    refused = report.get("build_error_count", 0)
    text = (
        f"{total} ({building['underruns']} while building, in {report['build_s']:.1f} s; "
        f"{idle['underruns']} idle after)"
    )
    return Reading(text + (f"; {refused} commands refused" if refused else ""), total)


def deaths(report: Figures) -> Reading:
    """Slot deaths in every phase of a live build."""
    phases = _phases(report)
    died = sum(p["deaths"] for p in phases)
    respawns = sum(p["respawns"] for p in phases)
    return Reading(f"{died} ({respawns} respawns)", died)


def longest_command(report: Figures) -> Reading:
    """The longest command a slot applied, in ms (the target's unit)."""
    phases = [report["building"], report["idle"]]
    worst = max(phases, key=lambda p: p["max_apply_us"])
    return Reading(f"{us(worst['max_apply_us'])} ({worst['slowest_command'] or '—'})",
                   worst["max_apply_us"] / 1000)  # fmt: skip


def _render_share(phase: Figures) -> Reading:
    renders = list(phase["render"].values())
    p50 = max(r["p50_us"] for r in renders)
    p99 = max(r["p99_us"] for r in renders)
    share = 100 * p50 / PERIOD_US
    text = f"{share:.1f} % (p50 {us(p50)}, p99 {us(p99)} of a {PERIOD_US:.0f} µs block)"
    return Reading(text, share)


def idle_render(report: Figures) -> Reading:
    """The idle patch's render per block, as % of the block."""
    return _render_share(report["idle"])


def bare_underruns(report: Figures) -> Reading:
    """Underruns while creating, idling and removing the bare modules."""
    counts = [p["underruns"] for p in _phases(report)]
    return Reading(f"{sum(counts)} (building, idle, removing: {', '.join(map(str, counts))})",
                   sum(counts))  # fmt: skip


def bare_created(report: Figures) -> Reading:
    """How many of the 1,000 creates the engine took."""
    created = 1000 - report.get("build_error_count", 0)
    errors = report.get("build_errors") or []
    why = f" (refused: {errors[0]})" if errors else ""
    return Reading(f"{created}{why}", created)


def playing(report: Figures) -> Reading:
    """Underruns while the chains play, with the render times then."""
    phase = report["playing"]
    render = max(phase["render"].values(), key=lambda r: r["max_us"])
    died = phase["deaths"]
    text = (
        f"{phase['underruns']} (render p50 {us(render['p50_us'])}, p99 {us(render['p99_us'])}, "
        f"max {us(render['max_us'])}; {died} slot deaths; {report['building']['underruns']} "
        f"underruns while building)"
    )
    return Reading(text, phase["underruns"])


def live_build(name: str, chains: int, *figures: Figure) -> Bench:
    """`live_build.py` building `chains` chains on JACK."""
    return Bench(name, "live_build.py", lambda s: ["--backend", "device", "--chains", str(chains)],
                 figures, needs_jack=True, json_flag=False)  # fmt: skip


def chain_rows(chains: int, item: str) -> tuple[Figure, ...]:
    """The rows of a live build of `chains` chains: underruns, deaths, longest command."""
    what = f"{chains} chains ({3 * chains} modules) built live on JACK, command by command"
    return (
        Figure(item, f"{what}: underruns", none_of(), build_underruns),
        Figure(item, f"{what}: slots killed", none_of(), deaths),
        Figure(
            item,
            f"{what}: longest command applied in a slot",
            below(0.5, "< 0.5 ms"),
            longest_command,
        ),
    )


# -- pattern_changes.py, chain_vs_scsynth.py --------------------------------------------------


def pattern_underruns(figures: Figures) -> Reading:
    """Underruns of every run of busy pattern changes."""
    runs, setup = figures["patterns this tree"], figures["setup"]
    counts = [r["underruns"] for r in runs]
    longest = max(r["render_max_us"] for r in runs)
    parsed = sum(r["parsed_in_block"] for r in runs)
    text = (
        f"{sum(counts)} ({', '.join(map(str, counts))} in {len(runs)} "
        f"run{'s' if len(runs) > 1 else ''} of "
        f"{setup['seconds']:g} s; longest block {us(longest)}; patterns parsed in a slot "
        f"{parsed})"
    )
    return Reading(text, sum(counts))


def against_scsynth(ours: float, theirs: float | None, detail: str, anchor: str) -> Reading:
    """Our time over scsynth's (seconds), the figure a ratio target is checked against; not
    measured where scsynth gave no time."""
    if not theirs or theirs <= 0:
        return Reading(f"{ours:.3f} s ({detail})", None, "not measured: scsynth is not installed")
    return Reading(f"{ours / theirs:.2f}× ({ours:.3f} s, {detail})", ours / theirs,
                   f"{theirs:.3f} s ({anchor})")  # fmt: skip


def chain_ratio(tracks: int) -> Callable[[Figures], Reading]:
    """The chain anchor's render time over scsynth's render work, at `tracks` tracks."""

    def read(figures: Figures) -> Reading:
        row = figures[str(tracks)]
        work = row["scsynth render work"]
        detail = (
            f"in-process, median of {row['runs']}; whole process "
            f"{row['chronus render, whole process (this checkout)']:.2f} s"
        )
        by_hand = [v for k, v in row.items() if k.startswith("by hand, dual-mono")]
        if by_hand and work > 0:
            detail += f"; the chains by hand, dual mono: {by_hand[0] / work:.2f}×"
        render = row["chronus render, in-process (this checkout)"]
        return against_scsynth(render, work, detail, "render work: 60 s − 1 s run")

    return read


# -- startup.py, round_trip.py, latency.py ----------------------------------------------------


def _scsynth_boot(figures: Figures) -> str:
    boots = figures.get("scsynth", {})
    if "this tree" in boots:
        return f"{seconds(boots['this tree'])} to its ready line (`scsynth -u`, JACK)"
    return f"not measured: {boots.get('not_measured', 'no figure')}"


def startup(key: str, anchored: bool = False) -> Callable[[Figures], Reading]:
    """The median of a start-up figure; with `anchored`, scsynth's boot beside it."""

    def read(figures: Figures) -> Reading:
        values = figures[key]["this tree"]
        text = seconds(values)
        if key == "cold":
            lines = figures.get("cold_progress_lines", {}).get("this tree", [])
            text += f"; progress lines {', '.join(map(str, lines))}" if lines else ""
        return Reading(text, statistics.median(values), _scsynth_boot(figures) if anchored else "—")

    return read


def _spread(row: Figures) -> str:
    return f"p50 {ms(row['p50_ms'])}, p99 {ms(row['p99_ms'])} (n = {row['count']})"


def round_trip(figures: Figures) -> Reading:
    """Both round trips; no target."""
    sc = figures["scsynth"]
    anchor = f"not measured: {sc['not_measured']}" if "not_measured" in sc else _spread(sc)
    return Reading(_spread(figures["chronus"]), None, anchor)


def latency(figures: Figures) -> Reading:
    """Typed line to sound; no target."""
    text = (
        f"p50 {ms(figures['p50'])}, p99 {ms(figures['p99'])} (n = {figures['trials']}), "
        f"+ {ms(figures['device_ms'])} device latency"
    )
    return Reading(text, None)


# -- dsp_vs_scsynth.py, big_replies.py -----------------------------------------------------


def dsp_ratio(voices: int) -> Callable[[Figures], Reading]:
    """The DSP anchor's render time over scsynth's, at `voices` voices."""

    def read(figures: Figures) -> Reading:
        row = figures[str(voices)]
        detail = f"median of {row['runs']}; whole process {row['whole_s']:.2f} s"
        if row.get("paired_ratio"):
            detail += f"; run by run {row['paired_ratio']:.2f}×"
        return against_scsynth(row["render_s"], row["scsynth_s"], detail, "`scsynth -N`")

    return read


def big_dump(figures: Figures) -> Reading:
    """The dump's size and time; the replies that failed are checked."""
    dump = figures["dump_ms"]
    text = (
        f"{figures['dump_json_bytes'] / 1000:.0f} KB in {ms(dump['median'])} (max "
        f"{ms(dump['max'])}); reply errors {figures['reply_errors']}"
    )
    return Reading(text, figures["reply_errors"])


# -- sequencer.py, lang_parse.py, failover.py, io_restart.py, xruns.py -------------------------


def sequencer(figures: Figures) -> Reading:
    """The sequencer's mean cost in the blocks where it fires, as % of a block."""
    share = 100 * figures["event_block_mean_us"] / figures["budget_us"]
    text = (
        f"{share:.2f} % ({us(figures['event_block_mean_us'])} in the {figures['event_blocks']} "
        f"blocks with an event; every block: mean {us(figures['mean_us'])}, p99 "
        f"{us(figures['p99_us'])})"
    )
    return Reading(text, share)


def grammar_load(figures: Figures) -> Reading:
    """The median time to a ready parser in a fresh process, ms."""
    return Reading(f"{ms(figures['load_ms'])} (median)", figures["load_ms"])


def per_line(figures: Figures) -> Reading:
    """p99 of a line's parse, resolve and map, in ms (the target's unit)."""
    text = f"p99 {us(figures['p99_us'])}, p50 {us(figures['p50_us'])} ({figures['lines']} lines)"
    return Reading(text, figures["p99_us"] / 1000)


def completion_menu(figures: Figures) -> Reading:
    """p99 of keystroke → completion menu drawn at the prompt, ms."""
    text = (
        f"p99 {ms(figures['p99_ms'])}, p50 {ms(figures['p50_ms'])} ({figures['keystrokes']} "
        f"keys, {figures['modules']} modules; flat word list p50 {ms(figures['word_list_p50_ms'])})"
    )
    return Reading(text, figures["p99_ms"])


def guard_share(chains: int, kind: str) -> Callable[[Figures], Reading]:
    """The one door's cost per block, as % of the block's period (checked) and of its render."""

    def read(figures: Figures) -> Reading:
        row = figures[f"{chains}_{kind}"]
        text = (
            f"{row['share_of_period_pct']:.3f} % ({row['ns_per_call']:.0f} ns a call × "
            f"{row['modules_per_block']:.0f} modules = {row['us_per_block']:.2f} µs; "
            f"{row['share_of_render_pct']:.2f} % of the block's render, p50 "
            f"{us(row['block_us_p50'])})"
        )
        return Reading(text, row["share_of_period_pct"])

    return read


def per_kill(key: str) -> Callable[[Figures], Reading]:
    """The worst and median of a per-kill figure (ms), the worst checked."""

    def read(figures: Figures) -> Reading:
        row = figures[key]
        text = f"max {ms(row['max'])}, median {ms(row['median'])} ({figures['kills']} kills)"
        return Reading(text, row["max"])

    return read


def kill_underruns(figures: Figures) -> Reading:
    """Underruns within 0.5 s of a SIGKILL of the active slot."""
    near = figures["underruns within 0.5 s of a kill"]
    text = (
        f"{near} ({figures['underruns']} in all {figures['seconds']:.0f} s; blocks differing "
        f"from the offline render {figures['blocks_differing']})"
    )
    return Reading(text, near)


def io_restart_underruns(figures: Figures) -> Reading:
    """Underruns apart from the I/O's gaps, and blocks differing outside them, together."""
    underruns, differing = figures["underruns"], figures["blocks_differing_outside_gaps"]
    text = (
        f"{underruns} underruns, {differing} blocks differing ({figures['kills']} kills, "
        f"{figures['blocks_missed']['median']:.0f} blocks missed per kill (median))"
    )
    return Reading(text, underruns + differing)


def chaos_lost(figures: Figures) -> Reading:
    """Acknowledged commands missing from the session log or the final dump."""
    lost, misses = figures["commands_lost"], figures["dump_misses"]
    events = sum(k["events"] for k in figures["kinds"].values())
    text = (
        f"{lost} missing from the log, {misses} from the dump ({events} events in "
        f"{figures['minutes']:.1f} min, {len(figures['eras'])} engine(s))"
    )
    return Reading(text, lost + misses)


def chaos_leaks(figures: Figures) -> Reading:
    """Names left in /dev/shm, and processes left behind, once each engine stopped."""
    text = f"{figures['leaked']} names, {figures['orphans']} processes"
    return Reading(text, figures["leaked"] + figures["orphans"])


def chaos_rss(figures: Figures) -> Reading:
    """The most any process (the same one, start to end) grew, MB."""
    growth = figures["rss_growth_mb"]
    title = max(growth, key=growth.get) if growth else "—"
    most = growth.get(title, 0.0)
    return Reading(f"{most:.1f} MB ({title}, over {figures['minutes']:.1f} min)", most)


def chaos_kind(*kinds: str) -> Callable[[Figures], Reading]:
    """Underruns within 1 s of the events of `kinds`, and how they recovered."""

    def read(figures: Figures) -> Reading:
        rows = [figures["kinds"][k] for k in kinds if k in figures["kinds"]]
        if not rows:
            return not_measured("not in this run's kinds")
        near = sum(r["underruns_within_1s"] for r in rows)
        events = sum(r["events"] for r in rows)
        worst = max((r["recovery_ms_max"] or 0.0) for r in rows)
        text = f"{near} ({events} events; recovered in at most {worst:.0f} ms)"
        return Reading(text, near)

    return read


def chaos_back(kind: str) -> Callable[[Figures], Reading]:
    """The longest time `kind` took to come back, ms (infinite if it did not)."""

    def read(figures: Figures) -> Reading:
        row = figures["kinds"].get(kind)
        if row is None:
            return not_measured("not in this run's kinds")
        if row["failed"]:
            return Reading(f"did not come back ({row['failed']} of {row['events']})", math.inf)
        return Reading(f"max {row['recovery_ms_max']:.0f} ms ({row['events']} events)",
                       row["recovery_ms_max"])  # fmt: skip

    return read


def fuzz_faults(figures: Figures) -> Reading:
    """Crashes (a process of the engine replaced), tracebacks and internal errors."""
    crashed = sum(1 for same in figures["same_processes"].values() if not same)
    text = (
        f"{crashed} crashes, {figures['tracebacks']} tracebacks, {figures['internal_errors']} "
        f"internal errors in {figures['packets']:,} packets"
    )
    return Reading(text, crashed + figures["tracebacks"] + figures["internal_errors"])


def fuzz_counted(figures: Figures) -> Reading:
    """Families in which received + kernel drops ≠ sent, or the errors fall outside what
    the packets' forms predict."""
    bad = [f["family"] for f in figures["families"] if not f["all_counted"]]
    named = f" {bad}" if bad else ""
    text = f"{len(bad)} families off{named} (kernel drops {figures['kernel_drops']})"
    return Reading(text, len(bad))


def flood_underruns(figures: Figures) -> Reading:
    """Underruns while one peer floods, with the per-peer rate on and off."""
    text = ", ".join(
        f"rate {run['peer_rate'] or 'off'}: {run['underruns']}" for run in figures["runs"]
    )
    return Reading(text, sum(run["underruns"] for run in figures["runs"]))


def flood_shed(figures: Figures) -> Reading:
    """How many of a flooder's packets the supervisor handled, the rate on against off; and
    another client's TCP sync meanwhile."""
    parts = []
    for run in figures["runs"]:
        tcp = run["flood"]["tcp"]
        parts.append(
            f"rate {run['peer_rate'] or 'off'}: handled {run['handled']:,} of "
            f"{run['flood_sent']:,} (shed {run['shed']:,}, kernel drops "
            f"{run['kernel_drops']:,}), TCP sync p50 {tcp.get('p50_ms', '-')} ms"
        )
    return Reading("; ".join(parts), None)


def flood_calm(figures: Figures) -> Reading:
    """The calm UDP senders' syncs lost during the flood: those the kernel put on the
    flooder's socket lose what they sent before the engine found the flooder."""
    parts = []
    for run in figures["runs"]:
        calm = run["calm_senders"]
        lost = calm["lost_each"]
        parts.append(
            f"rate {run['peer_rate'] or 'off'}: {sum(1 for n in lost if n)} of {len(lost)} calm "
            f"UDP senders lost syncs, at most {max(lost, default=0)} of {calm['syncs_each']}"
        )
    return Reading("; ".join(parts), None)


def own_xruns(figures: Figures) -> Reading:
    """chronus's xruns that no host stall explains; the bare callback's beside them."""
    rounds = figures["rounds"]
    total = sum(r["xruns"] for r in rounds)
    own = total - sum(r["after_host_stall"] for r in rounds)
    bare = sum(r["bare_xruns"] for r in rounds)
    bare_own = bare - sum(r["bare_after_host_stall"] for r in rounds)
    text = (
        f"{own} of {total} xruns in {len(rounds)} × {figures['seconds']:g} s "
        f"(underruns {sum(r['underruns'] for r in rounds)})"
    )
    anchor = f"a bare callback: {bare_own} of {bare} xruns (not scsynth)"
    return Reading(text, own, anchor)


# -- plugin_validation.py ---------------------------------------------------------------------


def plugin_validation(figures: Figures) -> Reading:
    """The median wall time of a validation in a warm pool, ms."""
    text = (
        f"{ms(figures['validate_ms_p50'])} median, p90 {ms(figures['validate_ms_p90'])} "
        f"({figures['runs']} runs of {figures['module']})"
    )
    return Reading(text, figures["validate_ms_p50"])


def sandbox_overhead(figures: Figures) -> Reading:
    """What the sandbox adds to the same checks run in-process on a first import of the file,
    % (medians, alternated); the re-import baseline and the CPU figure beside it."""
    text = (
        f"{figures['overhead_first_import_pct']:.0f} % ({ms(figures['sandboxed_ms'])} in the "
        f"sandbox, {ms(figures['first_import_ms'])} in-process on a first import; CPU "
        f"{figures['overhead_first_import_cpu_pct']:+.0f} %; over a re-import "
        f"{figures['overhead_pct']:.0f} %, {ms(figures['in_process_ms'])})"
    )
    return Reading(text, figures["overhead_first_import_pct"])


# -- plugin_startup.py ------------------------------------------------------------------------


def plugin_startup(figures: Figures) -> Reading:
    """The median time from `chronus engine` to its last user module active, s."""
    text = (
        f"{seconds(figures['loaded_s'])} ({figures['modules']} modules, "
        f"{'validated' if figures['validated'] else 'forced'}; READY alone "
        f"{seconds(figures['ready_s'])})"
    )
    return Reading(text, figures["loaded_median_s"])


def plugin_reload(figures: Figures) -> Reading:
    """The median time from `/plugins/reload` to `/plugins/loaded`, s."""
    if not figures["reload_s"]:
        return not_measured("no reload timed")
    return Reading(seconds(figures["reload_s"]), statistics.median(figures["reload_s"]))


def plugin_live(figures: Figures) -> Reading:
    """Underruns while user modules are loaded, reloaded and unloaded, beside host stalls."""
    text = (
        f"{figures['underruns']} in {figures['seconds']} s ({figures['cycles']} cycles of a "
        f"{figures['module']} module: load, 2 reloads, unload; host stalls "
        f"{figures['host_stalls']}, longest {figures['longest_host_stall_ms']} ms)"
    )
    return Reading(text, figures["underruns"])


# -- link_phase.py ----------------------------------------------------------------------------


def link_phase(figures: Figures) -> Reading:
    """The recorded beats' distance from the Link peer's, p99 of its size (ms)."""
    text = (
        f"p99 {ms(figures['p99_ms'])} (p50 {ms(figures['p50_ms'])}, max {ms(figures['max_ms'])}"
        f"; {figures['beats']} beats, {figures['nudges']} nudges, {figures['xruns']} xruns, "
        f"{figures['underruns']} underruns, {figures['left_out']} beats at an underrun left out)"
    )
    return Reading(text, figures["p99_ms"])


# -- the benchmarks, in the table's order ------------------------------------------------------


SURVIVED = "kill_active,kill_standby,kill_spare,stop_cont,kill_io,burst,commit,snapshot"
"""The chaos kinds the engine survives whole (the quick run's): a killed supervisor's
successor does not take changes yet, so the kinds after it would fail."""


def _quick(setting: Setting, quick: list[str], full: list[str]) -> list[str]:
    return quick if setting.quick else full


BENCHES: tuple[Bench, ...] = (
    live_build("live_build_128", 128, *chain_rows(128, "1")),
    live_build(
        "live_build_32",
        32,
        *chain_rows(32, "1"),
        Figure(
            "2",
            "idle: 32 chains (96 modules), nothing sounding: render per block",
            below(5.0, "< 5 % of a block"),
            idle_render,
        ),
    ),
    Bench(
        "live_build_bare",
        "live_build.py",
        lambda s: ["--backend", "device", "--bare", "1000"],
        (
            Figure(
                "3",
                "1,000 unconnected modules on JACK, created and removed: modules created",
                Target("1,000", "==", 1000.0),
                bare_created,
            ),
            Figure(
                "3",
                "1,000 unconnected modules: underruns",
                none_of("0 (nothing audible)"),
                bare_underruns,
            ),
            Figure("3", "1,000 unconnected modules: slots killed", none_of(), deaths),
            Figure(
                "3",
                "1,000 unconnected modules, idle: render per block",
                None,
                lambda r: _render_share(r["idle"]),
            ),
        ),
        needs_jack=True,
        json_flag=False,
    ),
    Bench(
        "pattern_changes",
        "pattern_changes.py",
        lambda s: [
            "--backend",
            "device",
            *_quick(s, ["--runs", "1", "--seconds", "4"], ["--runs", "3", "--seconds", "8"]),
        ],
        (
            Figure(
                "4",
                "busy valid pattern changes, 25 a second, JACK: underruns",
                none_of(),
                pattern_underruns,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "chain_vs_scsynth",
        "chain_vs_scsynth.py",
        lambda s: ["--tracks", "8", "32", "--runs", "1" if s.quick else "5"],
        tuple(
            Figure(
                "5",
                f"the chain anchor, {n} chains, 60 s: render time against scsynth",
                at_most(2.0, "≤ 2×"),
                chain_ratio(n),
            )
            for n in (8, 32)
        ),
    ),
    Bench(
        "live_build_play",
        "live_build.py",
        lambda s: [
            "--backend",
            "device",
            "--chains",
            "64",
            "--play",
            "--seconds",
            "10" if s.quick else "60",
        ],
        (
            Figure(
                "6",
                "64 chains playing 16ths on one core, 128 frames, JACK: underruns while playing",
                none_of(),
                playing,
            ),
        ),
        needs_jack=True,
        json_flag=False,
    ),
    Bench(
        "startup",
        "startup.py",
        lambda s: _quick(
            s, ["--runs", "2", "--cold-runs", "1"], ["--runs", "7", "--cold-runs", "2"]
        ),
        (
            Figure(
                "7",
                "`chronus engine` to READY, warm caches",
                below(1.0, "< 1 s"),
                startup("ready", anchored=True),
            ),
            Figure(
                "7",
                "`chronus engine` to READY, first run (empty numba cache)",
                below(8.0, "< 8 s"),
                startup("cold"),
            ),
            Figure(
                "7",
                "`chronus` (the shell) to its prompt",
                below(0.5, "at once (read: < 0.5 s)"),
                startup("prompt"),
            ),
            Figure(
                "16",
                "`chronus` to its prompt on an engine already playing (attached)",
                below(1.0, "< 1 s"),
                startup("attach"),
            ),
            Figure("7", "`chronus demo` to its first sound", below(2.0, "< 2 s"), startup("demo")),
        ),
    ),
    Bench(
        "round_trip",
        "round_trip.py",
        lambda s: [
            "--backend",
            "device" if s.jack else "null",
            "--count",
            "100" if s.quick else "300",
        ],
        (
            Figure(
                "8",
                "control round trip over UDP on localhost: chronus `/engine/sync` → "
                "`/engine/synced`, scsynth `/sync` → `/synced`",
                None,
                round_trip,
            ),
        ),
    ),
    Bench(
        "latency",
        "latency.py",
        lambda s: ["--backend", "device", "--trials", "30" if s.quick else "200"],
        (
            Figure(
                "8", "typed line → first sounding block handed to the device (JACK)", None, latency
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "dsp_vs_scsynth",
        "dsp_vs_scsynth.py",
        lambda s: ["--runs", "1" if s.quick else "5"],
        tuple(
            Figure(
                "9",
                f"the DSP anchor, {n} acid voices, 60 s: render time against scsynth",
                at_most(1.5, "≤ 1.5× (issue 3)"),
                dsp_ratio(n),
            )
            for n in (8, 32, 128)
        ),
    ),
    Bench(
        "big_replies",
        "big_replies.py",
        lambda s: ["--saws", "40", "--runs", "10" if s.quick else "30"],
        (
            Figure(
                "10",
                "`/engine/dump` of a 40-saw patch over TCP: replies that failed",
                none_of("arrives whole (0 failed)"),
                big_dump,
            ),
        ),
        json_flag=False,
    ),
    Bench(
        "sequencer",
        "sequencer.py",
        lambda s: ["--tracks", "16", "--patterns", "0", "--seconds", "10" if s.quick else "60"],
        (
            Figure(
                "—",
                "sequencer, 16 tracks: cost in the blocks with an event (mean)",
                below(2.0, "< 2 % of a block (issue 6)"),
                sequencer,
            ),
        ),
    ),
    Bench(
        "lang_parse",
        "lang_parse.py",
        lambda s: _quick(s, ["--loads", "3", "--rounds", "2"], ["--loads", "15", "--rounds", "20"]),
        (
            Figure(
                "—",
                "language: grammar loaded in a fresh process",
                below(100.0, "< 100 ms (issue 14)"),
                grammar_load,
            ),
            Figure(
                "—",
                "language: parse + resolve + map per line, frame reader included",
                below(1.0, "p99 < 1 ms (issues 5, 14)"),
                per_line,
            ),
        ),
    ),
    Bench(
        "guard_overhead",
        "guard_overhead.py",
        lambda s: _quick(s, ["--seconds", "2", "--sweeps", "500"], ["--seconds", "10"]),
        (
            *(
                Figure(
                    "15",
                    f"the guard around every module's process, chain anchor, {n} chains: "
                    "cost a block",
                    below(1.0, "< 1 % of a block (issue 15)"),
                    guard_share(n, "builtin"),
                )
                for n in (8, 64)
            ),
            Figure(
                "15",
                "the same, 64 chains, the 64 acid filters a user plugin's type (timed and "
                "counted per call)",
                None,
                guard_share(64, "plugin"),
            ),
        ),
    ),
    Bench(
        "failover",
        "failover.py",
        lambda s: [
            "--backend",
            "device",
            *_quick(s, ["--kills", "3", "--every", "2"], ["--kills", "10", "--every", "3"]),
        ],
        (
            Figure(
                "—",
                "SIGKILL of the active slot, JACK: death seen after",
                below(5.0, "< 5 ms (issue 4)"),
                per_kill("detect_ms"),
            ),
            Figure(
                "—",
                "SIGKILL of the active slot: a new standby in lockstep after",
                below(100.0, "< 100 ms (issue 4)"),
                per_kill("rejoin_ms"),
            ),
            Figure(
                "—",
                "SIGKILL of the active slot: underruns within 0.5 s of a kill",
                none_of("0 (issue 4)"),
                kill_underruns,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "io_restart",
        "io_restart.py",
        lambda s: _quick(s, ["--kills", "3", "--every", "4"], ["--kills", "10", "--every", "4"]),
        (
            Figure(
                "17",
                "SIGKILL of the audio I/O, JACK: output back after (kill to first block played)",
                below(500.0, "< 500 ms by restart (issue 17)"),
                per_kill("gap_ms"),
            ),
            Figure(
                "17",
                "SIGKILL of the audio I/O: underruns apart from the gaps, blocks differing from "
                "the offline render outside them",
                none_of("0 (issue 17)"),
                io_restart_underruns,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "chaos",
        "chaos.py",
        lambda s: [
            "--backend",
            "device",
            *_quick(
                s, ["--minutes", "1", "--rounds", "1", "--kinds", SURVIVED], ["--minutes", "10"]
            ),
        ],
        (
            Figure(
                "17",
                "chaos soak on JACK, an event every 5 s: acknowledged commands lost",
                none_of("0 (issue 17)"),
                chaos_lost,
            ),
            Figure(
                "17",
                "chaos soak: leaked in /dev/shm, and orphans, after the engine stopped",
                none_of("0 (issue 17)"),
                chaos_leaks,
            ),
            Figure(
                "17",
                "chaos soak: RSS growth of a process",
                below(5.0, "< 5 MB (issue 17)"),
                chaos_rss,
            ),
            Figure(
                "17",
                "chaos soak: SIGKILL of a slot or the spare: underruns within 1 s",
                none_of("0 (issue 17)"),
                chaos_kind("kill_active", "kill_standby", "kill_spare"),
            ),
            Figure(
                "17",
                "chaos soak: SIGKILL of the audio I/O: output back after",
                below(500.0, "< 500 ms by restart (issue 17)"),
                chaos_back("kill_io"),
            ),
            Figure(
                "17",
                "chaos soak: SIGKILL of the supervisor: OSC answered again after",
                below(1000.0, "< 1 s (issue 17)"),
                chaos_back("kill_supervisor"),
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "fuzz_osc",
        "fuzz_osc.py",
        lambda s: ["--packets", "7000" if s.quick else "100000"],
        (
            Figure(
                "17",
                "fuzz: packets in 7 families against a live engine: crashes, "
                "tracebacks, internal errors",
                none_of("0 (issue 17)"),
                fuzz_faults,
            ),
            Figure(
                "17",
                "fuzz: every bad packet counted (kernel drops included)",
                none_of("0 families off (issue 17)"),
                fuzz_counted,
            ),
        ),
    ),
    Bench(
        "peer_flood",
        "peer_flood.py",
        lambda s: [
            "--rate",
            "1000",
            *_quick(s, ["--seconds", "2", "--rounds", "1"], ["--seconds", "5", "--rounds", "2"]),
        ],
        (
            Figure(
                "17",
                "one peer's UDP flood: its packets handled, shed, dropped; another client's "
                "TCP sync",
                None,
                flood_shed,
            ),
            Figure(
                "17",
                "one peer's UDP flood: calm UDP senders' syncs lost (some share its socket)",
                None,
                flood_calm,
            ),
            Figure(
                "17",
                "one peer's UDP flood: underruns",
                none_of("0 (issue 17)"),
                flood_underruns,
            ),
        ),
    ),
    Bench(
        "xruns",
        "xruns.py",
        lambda s: _quick(
            s, ["--rounds", "1", "--seconds", "10"], ["--rounds", "2", "--seconds", "60"]
        ),
        (
            Figure(
                "—",
                "xruns of an 8-voice pattern on JACK not right after a host stall",
                none_of("0 (issue 4)"),
                own_xruns,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "plugin_validation",
        "plugin_validation.py",
        lambda s: ["--runs", "10" if s.quick else "50"],
        (
            Figure(
                "—",
                "plugins: a typical module validated in a warm sandbox pool",
                below(100.0, "< 100 ms (issue 15)"),
                plugin_validation,
            ),
            Figure(
                "—",
                "plugins: sandbox overhead (the same checks in-process, first import, vs in the "
                "sandbox)",
                below(5.0, "< 5 % (issue 15)"),
                sandbox_overhead,
            ),
        ),
    ),
    Bench(
        "plugin_startup",
        "plugin_startup.py",
        lambda s: ["--runs", "1" if s.quick else "5", "--reloads", "3" if s.quick else "10"],
        (
            Figure(
                "—",
                "plugins: `chronus engine` to READY with 12 user modules loaded and validated",
                below(3.0, "< 3 s (issue 15)"),
                plugin_startup,
            ),
            Figure(
                "—",
                "plugins: a reload while playing, `/plugins/reload` to `/plugins/loaded` "
                "(validated, imported, built in the standby, crossfaded)",
                None,
                plugin_reload,
            ),
        ),
    ),
    Bench(
        "plugin_live",
        "plugin_live.py",
        lambda s: ["--backend", "device", "--cycles", "2" if s.quick else "5"],
        (
            Figure(
                "—",
                "plugins: underruns while a user module is loaded, reloaded and unloaded under "
                "a playing pattern (JACK)",
                none_of("0 (issue 15)"),
                plugin_live,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "link_phase",
        "link_phase.py",
        lambda s: ["--backend", "device", "--seconds", "15" if s.quick else "60"],
        (
            Figure(
                "19",
                "Ableton Link on JACK: recorded beats against an independent peer's timeline",
                below(1.0, "< 1 ms p99 (issue 19)"),
                link_phase,
            ),
        ),
        needs_jack=True,
    ),
    Bench(
        "completion",
        "completion.py",
        lambda s: _quick(s, ["--rounds", "3"], ["--rounds", "40"]),
        (
            Figure(
                "16",
                "prompt: keystroke → completion menu drawn, 64 chains, through a PromptSession",
                below(50.0, "< 50 ms (issue 16)"),
                completion_menu,
            ),
        ),
    ),
)


# -- running ------------------------------------------------------------------------------------


def parse_figures(stdout: str) -> Figures:
    """The JSON object a benchmark printed: the whole output, or else its last line."""
    text = stdout.strip()
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        found = json.loads(text.splitlines()[-1]) if text else None
    if not isinstance(found, dict):
        raise ValueError("the benchmark printed no JSON object")
    return found


def run_bench(bench: Bench, setting: Setting, logs: Path, timeout: float) -> Figures | str:
    """Run one benchmark; its figures, or why there are none."""
    if bench.needs_jack and not setting.jack:
        return "no JACK server running"
    command = [sys.executable, *bench.command(setting)] + (["--json"] if bench.json_flag else [])
    log = logs / f"{bench.name}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(logs)}  # what it leaves there
    with log.open("w") as errors:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=errors, text=True, start_new_session=True)  # fmt: skip
        try:
            stdout, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # its group: the engines it started too
            child.communicate()
            return f"{bench.script} took more than {timeout:.0f} s (log: {log})"
    if child.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        return f"{bench.script} failed (exit {child.returncode}: {tail[0][:200]}; log: {log})"
    try:
        return parse_figures(stdout)
    except ValueError as exc:
        return f"{bench.script}: {exc} (log: {log})"


def rows_of(bench: Bench, setting: Setting, result: Figures | str) -> list[Row]:
    """The rows of one benchmark: read from its figures, or "not measured" and why."""
    how = "`" + " ".join(bench.command(setting)).removeprefix("benchmarks/") + "`"
    rows = []
    for figure in bench.figures:
        if isinstance(result, str):
            reading = not_measured(result)
        else:
            try:
                reading = figure.read(result)
            except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
                reading = not_measured(f"its figures lack {type(exc).__name__}: {exc}")
        rows.append(Row(figure.item, figure.figure, figure.target, reading.chronus,
                        reading.value, reading.anchor, how))  # fmt: skip
    return rows


# -- the record ----------------------------------------------------------------------------------


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def cpu_model() -> str:
    """The CPU's model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    """Where and when: commit (and whether the code differs from it; Markdown aside), CPUs,
    load average now."""
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md"))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": _git("rev-parse", "--short", "HEAD")
        + (" + uncommitted changes" if dirty else ""),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def header(record: Figures) -> list[str]:
    """The paragraphs above the table."""
    where = record["machine"]
    mode = (
        "**quick run** (fewer runs, shorter: it shows that everything works, not figures for "
        "the record)"
        if record["quick"]
        else "full run"
    )
    load = " / ".join(map(str, where["load"]))
    load_after = " / ".join(map(str, record["load_after"]))
    scsynth = record["scsynth_version"] or "scsynth: not installed"
    if record["scsynth_version"] and record["scsynth"]:
        scsynth += f" (no realtime server: {record['scsynth']})"
    only = f" Only: {', '.join(record['only'])}." if record["only"] else ""
    took = record["seconds"]
    length = f"{took / 60:.0f} min" if took >= 90 else f"{took:.0f} s"
    return [
        f"Written by `python benchmarks/run.py{' --quick' if record['quick'] else ''}` on "
        f"{where['date']}, a {mode} of {length}, at commit "
        f"`{where['commit']}`.{only} Machine: {where['nproc']} × {where['cpu']}, Python "
        f"{where['python']}; load average (1 / 5 / 15 min) {load} before, {load_after} after. "
        f"JACK server: {'running' if record['jack'] else 'none'}; {scsynth}.",
    ]


NOTES = [
    'Targets are issue 13\'s unless the cell names an earlier issue. "met?" is computed from '
    'the figure as measured, before any rounding; "n/a" where there is no target or no '
    "figure. The anchor is SuperCollider's scsynth measured in the same run (`-N` renders of "
    "`../shared/anchors/`, or a realtime server on the same JACK server). Timings on a shared "
    "machine are noisy: compare figures within one run, and read the sections below for what "
    "each benchmark measures. Each `how` runs from the checkout's root as `python "
    "benchmarks/…`.",
]


def table(record: Figures) -> str:
    """The section for docs/PERFORMANCE.md from a run's record (see `main`)."""
    setting = Setting(record["quick"], record["jack"], record["scsynth"])
    rows: list[Row] = []
    for bench in BENCHES:
        result = record["results"].get(bench.name, "not run (`--only`)")
        rows += rows_of(bench, setting, result)
    return render("The benchmark table", header(record), rows, NOTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter durations")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="see --list")
    parser.add_argument("--list", action="store_true", help="the benchmarks' names")
    parser.add_argument("--print", action="store_true", help="print the table, do not write it")
    parser.add_argument("--save", type=Path, help="also write the run's figures as JSON here")
    parser.add_argument("--load", type=Path, help="no runs: the table from a --save file")
    parser.add_argument("--logs", type=Path, help="folder for the logs and the benchmarks' "
                        "temporary files (default: a new one in the temporary folder)")  # fmt: skip
    parser.add_argument("--timeout", type=float, help="seconds per benchmark (default 2400, "
                        "quick 900)")  # fmt: skip
    args = parser.parse_args()
    names = [bench.name for bench in BENCHES]
    if args.list:
        for bench in BENCHES:
            print(f"{bench.name:18s} benchmarks/{bench.script}")
        return
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        parser.error(f"no benchmark called {', '.join(unknown)}; there are: {', '.join(names)}")
    if args.load:
        record = json.loads(args.load.read_text())
    else:
        record = run_all(args)
    section = table(record)
    if args.print:
        print(section)
        return
    DOC.write_text(replace_section(DOC.read_text(), section))
    print(f"wrote the table into {DOC}", file=sys.stderr)


def run_all(args: argparse.Namespace) -> Figures:
    """Run the benchmarks asked for, one after the other; the record of the run."""
    from benchmarks.scsynth import jack_running, version, why_not

    started = time.monotonic()
    setting = Setting(args.quick, jack_running(), why_not())
    timeout = args.timeout or (900.0 if args.quick else 2400.0)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="chronus-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    record: Figures = {
        "quick": args.quick, "jack": setting.jack, "scsynth": setting.scsynth,
        "scsynth_version": version(), "only": args.only, "machine": machine(), "results": {},
    }  # fmt: skip
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    for i, bench in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {' '.join(bench.command(setting))}", file=sys.stderr)
        began = time.monotonic()
        result = run_bench(bench, setting, logs, timeout)
        record["results"][bench.name] = result
        verdict = "done" if isinstance(result, dict) else result
        print(f"    {verdict} ({time.monotonic() - began:.0f} s)", file=sys.stderr)
    record["load_after"] = [round(x, 2) for x in os.getloadavg()]
    record["seconds"] = time.monotonic() - started
    if args.save:
        args.save.write_text(json.dumps(record, indent=1))
    print(f"logs: {logs}", file=sys.stderr)
    return record


if __name__ == "__main__":
    main()
