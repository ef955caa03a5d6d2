"""A big patch built live, command by command, as a player would: does the sound hold?

Each chain is what a player types: `add a saw called vN through an acid filter`, then
`vN through distortion` (the distortion goes between the saw and the filter). Each line is
turned into OSC by the language (as the shell does) and sent over UDP to a real engine, and
the next line goes as soon as the engine has taken the last one (`/engine/sync`). `--bare N`
sends N bare `/patch/create` of every type in turn instead, none connected, and then removes
them all again. After the build the engine idles for `--settle` seconds (nothing sounding),
then with `--play` every chain plays a 16-step pattern of 16ths for `--seconds`; with
`--kills K` the active slot is killed (SIGKILL) K times, evenly over that time, and the
rejoins are timed (at this size a slot's state is captured by a forked child).

Printed (one JSON object): underruns and xruns while building, idling and playing; slot
deaths (`deaths`: how many "died" events), kills as hung and respawns; the longest one command
took to apply in a slot; the slots' render time per block (p50 / p99 / max) while idle and
while playing; the build's length and the commands the engine refused. While playing
(without `--kills`), whose fault each underrun was: the host's stalls seen by a sleeper per
CPU, and the active slot's renders over a period, *heavy* (over a period of the slot's own
CPU time: the render crossed it) or *held* (over a period on the wall clock only: the slot
was kept off its CPU), counted per window of ~50 ms.

    python benchmarks/live_build.py --backend device --chains 32
    python benchmarks/live_build.py --backend device --chains 128 --play --seconds 60
    python benchmarks/live_build.py --backend device --bare 1000
    python benchmarks/live_build.py --backend device --chains 64 --play --kills 6
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.dsp.specs import module_types
from chronus.engine.client import EngineClient, EngineProcess
from chronus.lang.interpreter import Interpreter
from chronus.protocol import Message, validate
from tests.stalls import StallMonitor

NOTES = (0, 0, 12, 0, 3, 0, 15, 7, 0, 10, 0, 12, 5, 0, 17, 3)
ROOTS = (36, 43, 48, 39, 44, 46, 31, 51)
NAMES = ("c", "c#", "d", "eb", "e", "f", "f#", "g", "ab", "a", "bb", "b")


def chain_lines(chains: int) -> list[str]:
    """The lines a player types to build `chains` saw → distortion → acid chains."""
    lines: list[str] = []
    for v in range(1, chains + 1):
        lines.append(f"add a saw called v{v} through an acid filter")
        lines.append(f"v{v} through distortion")
    return lines


def pattern_line(v: int) -> str:
    """A 16-step line of 16ths for chain `v`, as the chain anchor's scripts play it."""
    steps = []
    for s in range(16):
        midi = ROOTS[v % len(ROOTS)] + NOTES[(s + v) % 16]
        steps.append(f"{NAMES[midi % 12]}{midi // 12 - 1}")
    return f"play {' '.join(steps)} every 16th on v{v}"


def _send_line(client: EngineClient, interpreter: Interpreter, line: str) -> list[str]:
    result = interpreter.interpret(line)
    if not result.ok:
        raise SystemExit(f"the language refused {line!r}: {result.error}")
    client.send(result.messages)
    _, notes = client.sync(timeout=30.0)
    return [f"{line}: {note[1]}" for note in notes if note[0] == "/error"]


def _send_messages(client: EngineClient, messages: list[Message], per_sync: int) -> list[str]:
    errors: list[str] = []
    for start in range(0, len(messages), per_sync):
        client.send(messages[start : start + per_sync])
        _, notes = client.sync(timeout=30.0)
        errors += [str(note[1]) for note in notes if note[0] == "/error"]
    return errors


class Watch:
    """Counters of the engine between two looks."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.last = client.status(timeout=10.0)

    def delta(self) -> dict[str, Any]:
        now = self.client.status(timeout=10.0)
        before, self.last = self.last, now
        io0, io1 = before["io"], now["io"]
        e0, e1 = before["engine"], now["engine"]
        slots = now["slots"]
        return {
            "underruns": io1["underruns"] - io0["underruns"],
            "xruns": io1["xruns"] - io0["xruns"],
            "xruns_after_host_stall": io1["xruns_in_host_stalls"] - io0["xruns_in_host_stalls"],
            "failovers": e1["failovers"] - e0["failovers"],
            "respawns": e1["respawns"] - e0["respawns"],
            "events": [ev for ev in e1["events"] if ev not in e0["events"]],
            "deaths": sum(" died " in ev for ev in e1["events"] if ev not in e0["events"]),
            "max_apply_us": max(slot.get("max_apply_us", 0.0) for slot in slots),
            "slowest_command": max(slots, key=lambda slot: slot["max_apply_us"])["slowest_command"],
            "max_gc_us": max(slot["max_gc_us"] for slot in slots),
            "render": {slot["name"]: slot["render"] for slot in slots},
            "slots": {  # what may make a slot late other than its render (maxima: ever)
                slot["name"]: {
                    "slow_wakes": slot["slow_wakes"] - old.get("slow_wakes", 0),
                    "heavy_renders": slot["heavy_renders"] - old.get("heavy_renders", 0),
                    "held_renders": slot["held_renders"] - old.get("held_renders", 0),
                    "late_blocks": slot["late_blocks"] - old.get("late_blocks", 0),
                    "captures_forked": slot["captures_forked"] - old.get("captures_forked", 0),
                    **{
                        k: slot[k]
                        for k in ("lead", "max_wake_us", "max_cycle_us", "capture_stall_us")
                    },
                }
                for slot in slots
                for old in [next((o for o in before["slots"] if o["name"] == slot["name"]), {})]
            },
            "seats": {slot["name"]: slot["seat"] for slot in slots},
            "recent_underruns": [
                {k: u[k] for k in ("block", "after_ms", "behind", "cause")}
                for u in io1["recent_underruns"]
                if u["block"] > io0["last_underrun_block"] or not io0["underruns"]
            ][-8:],
            "host_stalls": now["host"]["stalls"] - before["host"]["stalls"],
            "host_longest_stall_ms": now["host"]["longest_stall_ms"],
            "dsp_load": e1["dsp_load"],
        }


def _play_and_kill(client: EngineClient, seconds: float, kills: int) -> list[dict[str, Any]]:
    """Let it play `seconds`, killing the active slot `kills` times on the way."""
    done: list[dict[str, Any]] = []
    every = seconds / (kills + 1)
    end = time.monotonic() + seconds
    for _ in range(kills):
        time.sleep(every)
        status = client.status(timeout=10.0)
        active = next(slot for slot in status["slots"] if slot["role"] == "active")
        os.kill(int(active["pid"]), signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            after = client.status(timeout=10.0)
            rejoin = after["engine"]["last_rejoin"]
            if after["engine"]["respawns"] > status["engine"]["respawns"] and all(
                slot["seat"] == "running" for slot in after["slots"]
            ):
                break
        survivor = next(slot for slot in after["slots"] if slot["role"] == "active")
        done.append({
            "rejoin": rejoin,
            "capture_stall_us": survivor["capture_stall_us"],
            "captures_forked": survivor["captures_forked"],
            "underruns_so_far": after["io"]["underruns"],
        })  # fmt: skip
    time.sleep(max(0.0, end - time.monotonic()))
    return done


def _steal_ms() -> tuple[float, ...]:
    """Per CPU, the time the hypervisor ran something else while this VM's CPU wanted to
    run (the `steal` column of /proc/stat, in ms; its resolution is a clock tick, 10 ms):
    a CPU slowed rather than stopped leaves no gap the sleepers see, but counts here."""
    tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
    rows = []
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if fields[0].startswith("cpu") and fields[0] != "cpu":
                rows.append(int(fields[8]) * tick_ms if len(fields) > 8 else 0.0)
    return tuple(rows)


def _watch_host(client: EngineClient, seconds: float) -> dict[str, Any]:
    """Poll the engine every ~50 ms for `seconds` while a SCHED_FIFO 99 sleeper per CPU
    records the host's stalls (`tests/stalls.py`): how many underruns fell in a window that
    saw a stall of 4 ms or more (the host stopped the VM: no lead covers that), against how
    many windows saw one at all (the chance of a coincidence); and the CPU time the
    hypervisor stole (`_steal_ms`). The windows with an underrun are listed in
    CLOCK_MONOTONIC, to find them in a scheduler trace (`perf sched record -k CLOCK_MONOTONIC`)."""
    slack = 10_000_000  # a stall that ended just before the window is paid for in it
    polls: list[tuple[int, int, int]] = []
    steals: list[float] = []
    renders: list[tuple[int, int]] = []  # the active's heavy and held renders per window
    with StallMonitor(4.0, capacity=1 << 14) as host:
        status = client.status()
        seen = status["io"]["underruns"]
        counts = _render_counts(status)
        since = time.monotonic_ns()
        stolen = _steal_ms()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.05)
            status = client.status()
            now_underruns = status["io"]["underruns"]
            now = time.monotonic_ns()
            now_stolen = _steal_ms()
            polls.append((since, now, now_underruns - seen))
            steals.append(max(b - a for a, b in zip(stolen, now_stolen, strict=True)))
            now_counts = _render_counts(status)
            active = next(s["name"] for s in status["slots"] if s["role"] == "active")
            (heavy, held), (was_heavy, was_held) = now_counts[active], counts.get(active, (0, 0))
            renders.append((heavy - was_heavy, held - was_held))
            seen, since, stolen, counts = now_underruns, now, now_stolen, now_counts
        stalls = host.stalls

    def stalled(start: int, stop: int) -> bool:
        return any(s < stop and s + d > start - slack for _, s, d in stalls)

    hit = [stalled(start, stop) for start, stop, _ in polls]
    return {
        "underruns": sum(n for _, _, n in polls),
        "underruns_in_host_stall_windows": sum(
            n for (_, _, n), h in zip(polls, hit, strict=True) if h
        ),
        "host_stalls": len(stalls),
        "longest_host_stall_ms": round(max((d for _, _, d in stalls), default=0) / 1e6, 1),
        "windows_with_a_stall": f"{sum(hit)} of {len(polls)}",
        "stolen_ms_most_of_a_cpu": round(sum(steals), 1),
        "windows_with_stolen_time": f"{sum(1 for t in steals if t > 0)} of {len(polls)}",
        "windows_with_an_underrun_monotonic_ns": [
            (start, stop, n) for start, stop, n in polls if n
        ][:20],
        "stolen_ms_in_windows_with_an_underrun": [
            round(t, 1) for (_, _, n), t in zip(polls, steals, strict=True) if n
        ][:20],
        **_render_faults(polls, renders, hit),
    }


def _render_counts(status: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Per slot, its renders over a period so far: (heavy, held), see `SlotField`."""
    return {s["name"]: (s["heavy_renders"], s["held_renders"]) for s in status["slots"]}


def _render_faults(
    polls: list[tuple[int, int, int]], renders: list[tuple[int, int]], hit: list[bool]
) -> dict[str, Any]:
    """Whose fault the underruns were, window by window, first match: a host stall the
    sleepers saw (`hit`); else a render of the active slot that took over a period of its
    CPU time (heavy: the render's own work, or a core running slow); else one over a period
    on the wall clock only (held: the slot kept off its CPU); else none of these. (A host
    stall can count as CPU time of the thread it stopped, so the stall comes first.)"""
    blame = {"host_stall": 0, "heavy_render": 0, "held_render": 0, "none_of_these": 0}
    for (_, _, n), (heavy, held), stalled in zip(polls, renders, hit, strict=True):
        if n:
            key = "host_stall" if stalled else "heavy_render" if heavy else "held_render"
            blame[key if stalled or heavy or held else "none_of_these"] += n
    return {
        "active_heavy_renders": sum(heavy for heavy, _ in renders),
        "active_held_renders": sum(held for _, held in renders),
        "windows_with_a_heavy_render": f"{sum(1 for h, _ in renders if h)} of {len(renders)}",
        "underruns_by_window": blame,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    engine = EngineProcess(port=0, backend=args.backend).boot()
    report: dict[str, Any] = {"backend": engine.ready_line}
    try:
        with engine.client() as client:
            interpreter = Interpreter()
            watch = Watch(client)
            began = time.monotonic()
            if args.bare:
                types = module_types()
                creates = [
                    validate("/patch/create", (f"m{i}", types[i % len(types)]))
                    for i in range(args.bare)
                ]
                errors = _send_messages(client, creates, args.per_sync)
            else:
                errors = []
                for line in chain_lines(args.chains):
                    errors += _send_line(client, interpreter, line)
            report["build_s"] = round(time.monotonic() - began, 3)
            report["build_errors"] = errors[:10]
            report["build_error_count"] = len(errors)
            report["building"] = watch.delta()
            time.sleep(args.settle)
            watch.delta()
            time.sleep(args.settle)
            report["idle"] = watch.delta()
            if args.bare:
                removes = [validate("/patch/remove", (f"m{i}",)) for i in range(args.bare)]
                report["remove_errors"] = _send_messages(client, removes, args.per_sync)[:10]
                report["removing"] = watch.delta()
            elif args.play:
                for v in range(1, args.chains + 1):
                    errors += _send_line(client, interpreter, pattern_line(v))
                time.sleep(1.0)
                watch.delta()
                if args.kills:
                    report["kills"] = _play_and_kill(client, args.seconds, args.kills)
                else:
                    report["host"] = _watch_host(client, args.seconds)
                report["playing"] = watch.delta()
            report["status"] = {
                "slots": [
                    {k: s.get(k) for k in ("name", "role", "seat", "note", "restarts", "errors")}
                    for s in watch.last["slots"]
                ],
                "events": watch.last["engine"]["events"],
            }
    finally:
        report["exit_code"] = engine.quit()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("device", "null"), default="device")
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--bare", type=int, default=0, help="bare creates instead of chains")
    parser.add_argument("--per-sync", type=int, default=20, help="bare creates per sync")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--play", action="store_true")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--kills", type=int, default=0, help="SIGKILLs of the active slot")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=1))


if __name__ == "__main__":
    main()
