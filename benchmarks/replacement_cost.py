"""Where the CPU of a replaced slot worker goes, and what the active slot feels of it.

Plays the chaos soak's patch (`chaos.patch`: 8 voices, drums, effects) and, every
`--every` seconds, SIGKILLs the standby or the spare (`--kinds`, in turn). For `--window`
seconds after each kill it samples every process of the engine's group every 5 ms
(`/proc/<pid>/schedstat`: CPU time in ns) and charges the CPU each used to its part (the
active, the standby or joiner, the spare, a capture child forked by a slot, the template,
the supervisor, the audio I/O, the CPU stampers) and to a phase (0–0.25 s, 0.25–1 s, 1–2 s,
2 s and after). From the engine's status before and after: the I/O's underruns and blocks
covered by the standby, the active slot's heavy and held renders (a render longer than a
block period: its own CPU, or the CPU taken from it), the longest render of the active in
the window, and the last join's timings.

    python benchmarks/replacement_cost.py --backend null --rounds 8
    PYTHONPATH=/other/tree python benchmarks/replacement_cost.py ...  # the code to compare
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaos import patch
from engine_watch import group_processes, kill_group, role
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError, EngineProcess

PHASES = (0.25, 1.0, 2.0)
"""Ends of the phases after a kill (s); the last phase runs to the end of the window."""
SAMPLE_S = 0.005


def cpu_ns(pid: int) -> int | None:
    """CPU time a process has used (ns), or None if it is gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _phase(t: float) -> str:
    start = 0.0
    for end in PHASES:
        if t < end:
            return f"{start:g}-{end:g} s"
        start = end
    return f"{start:g} s-"


def _part(pid: int, title: str, seats: dict[int, str]) -> str:
    name = role(title)
    if name.startswith("slot"):
        return seats.get(pid, "capture child")  # a slot's fork keeps its title
    return name.split(" ")[0] if name.startswith(("cpu", "supervisor")) else name


def _seats(status: dict[str, Any]) -> dict[int, str]:
    return {int(s["pid"]): str(s["role"]) for s in status["slots"] if s.get("pid")}


def _active(status: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in status["slots"] if s["role"] == "active")


def one_kill(client: EngineClient, pgid: int, kind: str, window: float) -> dict[str, Any] | None:
    """Kill the standby or the spare, sample for `window` s; the round's figures."""
    before = client.status(timeout=2.0)
    if not all(s.get("seat") == "running" for s in before["slots"]):
        return None
    titles = group_processes(pgid)
    if kind == "kill_standby":
        victim = next(int(s["pid"]) for s in before["slots"] if s["role"] == "standby")
    else:
        victim = next((pid for pid, t in titles.items() if t == "spare"), 0)
        if not victim:
            return None
    seats = _seats(before)
    active_pid = int(_active(before)["pid"])
    last = {pid: cpu_ns(pid) for pid in titles}
    charged: dict[tuple[str, str], int] = collections.defaultdict(int)
    os.kill(victim, signal.SIGKILL)
    began = time.monotonic()
    next_status = began + 0.25
    max_render = 0.0
    while (t := time.monotonic() - began) < window:
        titles = group_processes(pgid)
        if time.monotonic() >= next_status:
            try:
                status = client.status(timeout=1.0)
                seats.update(_seats(status))
                for s in status["slots"]:
                    if int(s.get("pid", 0)) == active_pid:
                        max_render = max(max_render, float(s["render"]["max_us"]))
            except (EngineError, OSError):
                pass
            next_status += 0.25
        for pid, title in titles.items():
            now = cpu_ns(pid)
            if now is None:
                continue
            was = last.get(pid)
            if was is None:  # born in this window: all its CPU is the replacement's
                was = 0 if pid != victim else now
            charged[(_part(pid, title, seats), _phase(t))] += now - was
            last[pid] = now
        time.sleep(SAMPLE_S)
    after = client.status(timeout=2.0)
    a0, a1 = (
        _active(before),
        next((s for s in after["slots"] if int(s.get("pid", 0)) == active_pid), _active(after)),
    )
    return {
        "kind": kind,
        "underruns": after["io"]["underruns"] - before["io"]["underruns"],
        "covered": after["io"]["covered_by_standby"] - before["io"]["covered_by_standby"],
        "active_heavy": a1["heavy_renders"] - a0["heavy_renders"],
        "active_held": a1["held_renders"] - a0["held_renders"],
        "active_max_render_us": max(max_render, float(a1["render"]["max_us"])),
        "capture_stall_us": a1.get("capture_stall_us", 0.0),
        "rejoin": after["engine"]["last_rejoin"],
        "load": os.getloadavg()[0],
        "cpu_ms": {f"{part} {phase}": round(ns / 1e6, 1) for (part, phase), ns in charged.items()},
    }


def run(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    engine = EngineProcess(port=0, backend=args.backend, own_group=True).boot()
    assert engine.process is not None
    pgid = os.getpgid(engine.process.pid)
    client = engine.client()
    rounds: list[dict[str, Any]] = []
    try:
        client.send(patch())
        client.sync(timeout=5.0)
        time.sleep(args.settle)
        kinds = args.kinds.split(",")
        for n in range(args.rounds):
            kind = kinds[n % len(kinds)]
            row = one_kill(client, pgid, kind, args.window)
            if row is None:
                print(f"round {n}: {kind} skipped (not ready)")
            else:
                rounds.append(row)
                print(_line(n, row), flush=True)
            time.sleep(max(0.0, args.every - args.window))
    finally:
        try:
            client.quit()
            engine.process.wait(10)
        except (EngineError, OSError, subprocess.TimeoutExpired):
            kill_group(pgid)
    figures["rounds"] = rounds
    _summary(rounds, figures)


def _line(n: int, row: dict[str, Any]) -> str:
    top = sorted(row["cpu_ms"].items(), key=lambda kv: -kv[1])[:8]
    return (
        f"round {n} {row['kind']}: underruns {row['underruns']}, covered {row['covered']}, "
        f"active heavy/held {row['active_heavy']}/{row['active_held']}, "
        f"max render {row['active_max_render_us']:.0f} us, load {row['load']:.1f}\n    "
        + ", ".join(f"{k} {v:.0f}" for k, v in top)
    )


def _summary(rounds: list[dict[str, Any]], figures: dict[str, Any]) -> None:
    for kind in sorted({r["kind"] for r in rounds}):
        rows = [r for r in rounds if r["kind"] == kind]
        parts: dict[str, list[float]] = collections.defaultdict(list)
        for r in rows:
            for key in {k for row in rows for k in row["cpu_ms"]}:
                parts[key].append(r["cpu_ms"].get(key, 0.0))
        med = {k: statistics.median(v) for k, v in parts.items()}
        summary = {
            "rounds": len(rows),
            "underruns": sum(r["underruns"] for r in rows),
            "covered": sum(r["covered"] for r in rows),
            "active_heavy": sum(r["active_heavy"] for r in rows),
            "active_held": sum(r["active_held"] for r in rows),
            "active_max_render_us_median": statistics.median(
                r["active_max_render_us"] for r in rows
            ),
            "cpu_ms_median": dict(sorted(med.items(), key=lambda kv: -kv[1])),
        }
        figures[kind] = summary
        print(
            f"{kind}: {len(rows)} rounds, underruns {summary['underruns']}, covered "
            f"{summary['covered']}, active heavy/held {summary['active_heavy']}/"
            f"{summary['active_held']}, active max render median "
            f"{summary['active_max_render_us_median']:.0f} us"
        )
        for key, value in list(summary["cpu_ms_median"].items())[:14]:
            print(f"    {key:32s} {value:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--kinds", default="kill_standby,kill_spare")
    parser.add_argument("--window", type=float, default=3.5, help="seconds sampled per kill")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between kills")
    parser.add_argument(
        "--settle", type=float, default=15.0,
        help="seconds before the first (the standby supervisor warms up meanwhile)",
    )  # fmt: skip
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        run(args, figures)


if __name__ == "__main__":
    main()
