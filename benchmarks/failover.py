"""Failover, measured: SIGKILL the active slot while an 8-voice acid pattern plays.

The pattern runs in the engine's sequencer (eight 16ths at 120 bpm, each an 8-note chord);
the benchmark only watches and kills.

For each kill: how long the kernel took to end the process (`exit_ms`, a pidfd becoming
readable) and when the supervisor saw the death (`detect_ms`, from the worker's lifeline),
blocks the standby covered, underruns, the time from the death seen until a new standby
is back in lockstep (`rejoin_ms`, timed by the supervisor: spare promoted into the empty seat,
state captured at a block boundary — `ask_to_send_ms` from asking for it to sending it on —
commands replayed, state loaded — `join_load_ms`), and the snapshot's size and capture time.
At the end the engine's recording is compared with an offline render of its session log, and
each underrun is set against the host stalls a SCHED_FIFO 99 sleeper on each CPU recorded
(`tests/stalls.py`): how many fell in a ~50 ms poll window that saw one, against how many of
all windows saw one; and what the audio I/O logged at each underrun (`recent_underruns`: how
late the callback came, how many blocks each seat was short).

    python benchmarks/failover.py --backend device --kills 10 --every 3
    python benchmarks/failover.py --backend device --kills 60 --every 10   # the 10-minute soak
    python benchmarks/failover.py --backend device --kills 0 --seconds 600  # its control
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.stats import UNDERRUN_CAUSES
from chronus.protocol import validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.stalls import StallMonitor

ROOTS = (36, 39, 43, 46, 48, 51, 41, 44)
STALL_MS = 4.0
"""Host stalls at least this long are recorded (a SCHED_FIFO 99 sleeper on each CPU)."""
SNAPSHOT = re.compile(r"\((\d+) bytes, ([\d.]+) ms to capture\)")


def _patch(client: EngineClient) -> None:
    client.send([
        validate("/patch/create", ("bass", "saw")), validate("/mod/bass/voices", (8.0,)),
        validate("/mod/bass/volume", (-12.0,)), validate("/patch/create", ("f", "acid")),
        validate("/patch/create", ("d", "distortion")), validate("/patch/connect", ("bass", "f")),
        validate("/patch/connect", ("f", "d")), validate("/patch/connect", ("d", "master")),
        validate("/seq/bass/pattern", (_pattern(),)),
    ])  # fmt: skip
    client.sync()


def _pattern() -> str:
    chords = (
        "[" + ",".join(str(ROOTS[(step + v) % 8] + 12 * (v % 3)) for v in range(8)) + "]:90"
        for step in range(8)
    )
    return " ".join(chords)


def _active(status: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in status["slots"] if s["role"] == "active")


def _attribute(polls: list[tuple[int, int, int]], stalls: list[tuple[int, int, int]]) -> None:
    """How many underruns fell in a poll window (~50 ms) that saw a host stall, against how
    many windows saw one at all (the chance a window has a stall by coincidence)."""
    slack = 10_000_000  # a stall that ended just before the window can still be paid for in it

    def stalled(start: int, end: int) -> bool:
        return any(s < end and s + d > start - slack for _, s, d in stalls)

    hit = [stalled(start, end) for start, end, _ in polls]
    underruns = sum(n for _, _, n in polls)
    explained = sum(n for (_, _, n), h in zip(polls, hit, strict=True) if h)
    longest = max((d for _, _, d in stalls), default=0) / 1e6
    share = 100 * sum(hit) / max(1, len(polls))
    print(f"  host stalls ≥ {STALL_MS:g} ms: {len(stalls)} (longest {longest:.0f} ms); "
          f"underruns in a window with one: {explained} of {underruns}; "
          f"windows with one: {sum(hit)} of {len(polls)} ({share:.0f} %)")  # fmt: skip


def _causes(rows: list[dict[str, Any]], underruns: int) -> None:
    """What the audio I/O saw at each underrun: its cause, and which seats were short."""
    counts = collections.Counter(r["cause"] for r in rows)
    print(f"  underruns logged by the I/O: {len(rows)} of {underruns}: {dict(counts)}")
    for cause in counts:
        group = [r for r in rows if r["cause"] == cause]
        shapes = collections.Counter(
            (r["behind"]["A"] if r["active"] == "A" else r["behind"]["B"],
             r["behind"]["B"] if r["active"] == "A" else r["behind"]["A"])
            for r in group
        )  # fmt: skip
        gaps = sorted(r["after_ms"] for r in group)
        print(f"    {cause} ({UNDERRUN_CAUSES[cause]}): (active, standby) blocks short "
              f"{dict(shapes)}; callback gap median {statistics.median(gaps):.2f} ms, "
              f"max {gaps[-1]:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--seconds", type=float, default=0.0, help="play at least this long")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Play, kill, compare and print; the headline figures go into `figures`."""
    work = Path(tempfile.mkdtemp(prefix="chronus-failover-"))
    log, wav = work / "session.log", work / "out.wav"
    engine = EngineProcess(
        port=0, backend=args.backend,
        extra_args=["--files", str(work), "--log", str(log), "--record", str(wav)],
    ).boot()  # fmt: skip
    rows: list[dict[str, float]] = []
    try:
        with engine.client() as client, StallMonitor(STALL_MS, capacity=1 << 15) as host:
            _patch(client)
            started = time.monotonic()
            next_kill = started + args.every
            pending: dict[str, Any] | None = None
            last_kill = -1e9
            underruns_seen = 0
            underrun_times: list[tuple[float, int]] = []  # (seconds after the last kill, count)
            underrun_rows: list[dict[str, Any]] = []  # as the audio I/O logged them
            polls: list[tuple[int, int, int]] = []  # (from ns, to ns, underruns in between)
            polled_ns = time.monotonic_ns()
            while (
                len(rows) < args.kills
                or pending is not None
                or time.monotonic() - started < args.seconds
            ):
                now = time.monotonic()
                status = client.status()
                now_ns = time.monotonic_ns()
                fresh = status["io"]["underruns"] - underruns_seen
                polls.append((polled_ns, now_ns, fresh))
                polled_ns = now_ns
                if fresh > 0:
                    underrun_times.append((now - last_kill, fresh))
                    underruns_seen = status["io"]["underruns"]
                    seen_block = underrun_rows[-1]["block"] if underrun_rows else -1
                    underrun_rows += [
                        r for r in status["io"]["recent_underruns"] if r["block"] > seen_block
                    ]
                both = all(s["seat"] == "running" for s in status["slots"])
                if pending is not None and both:
                    snap = [SNAPSHOT.search(e) for e in status["engine"]["events"]]
                    found = [m for m in snap if m]
                    rejoin = status["engine"]["last_rejoin"]
                    rows.append({
                        "rejoin_ms": rejoin["after_death_ms"],
                        "ask_to_send_ms": rejoin["state_capture_ms"],
                        "join_load_ms": rejoin["load_ms"],
                        "covered": status["io"]["covered_by_standby"] - pending["covered"],
                        "underruns": status["io"]["underruns"] - pending["underruns"],
                        "bytes": float(found[-1].group(1)) if found else 0.0,
                        "capture_ms": float(found[-1].group(2)) if found else 0.0,
                        "late": float(sum(s["late_commands"] for s in status["slots"])),
                        "exit_ms": pending["exit_ms"],
                        "detect_ms": (status["engine"]["last_death_seen_ns"] - pending["ns"]) / 1e6,
                    })  # fmt: skip
                    pending = None
                elif pending is None and both and now >= next_kill and len(rows) < args.kills:
                    pid = int(_active(status)["pid"])
                    gone = os.pidfd_open(pid)  # readable once the kernel has ended it
                    pending = {
                        "ns": time.monotonic_ns(),
                        "covered": status["io"]["covered_by_standby"],
                        "underruns": status["io"]["underruns"],
                    }
                    os.kill(pid, signal.SIGKILL)
                    select.select([gone], [], [], 1.0)
                    pending["exit_ms"] = (time.monotonic_ns() - pending["ns"]) / 1e6
                    os.close(gone)
                    last_kill = now
                    next_kill = now + args.every
                time.sleep(0.05)
            end = client.status()
        engine.quit()
    finally:
        engine.kill()
    session = read_stamped_log(log)
    recorded, rate = read_wav(wav)
    offline = render_session(session, len(recorded))
    differing = np.nonzero(np.any(recorded != offline, axis=1))[0]
    io = end["io"]
    print(f"backend {args.backend}: {len(rows)} SIGKILLs of the active slot, "
          f"{len(recorded) / rate:.1f} s recorded")  # fmt: skip
    per_kill = (
        "exit_ms", "detect_ms", "rejoin_ms", "ask_to_send_ms", "join_load_ms", "covered",
        "underruns", "bytes", "capture_ms", "late",
    )  # fmt: skip
    figures.update(kills=len(rows), seconds=len(recorded) / rate)
    for key in per_kill:
        values = [r[key] for r in rows] or [0.0]
        print(f"  {key:11s} median {statistics.median(values):9.2f}  max {max(values):9.2f}")
        figures[key] = {"median": statistics.median(values), "max": max(values)}
    figures.update(
        underruns=io["underruns"], xruns=io["xruns"],
        xruns_after_host_stall=io["xruns_in_host_stalls"],
        divergences=end["engine"]["divergences"], failovers=end["engine"]["failovers"],
    )  # fmt: skip
    engine_status = end["engine"]
    print(f"  engine: divergences {engine_status['divergences']}, "
          f"failovers {engine_status['failovers']}, underruns {io['underruns']}, "
          f"xruns {io['xruns']} ({io['xruns_in_host_stalls']} right after a host stall), "
          f"covered {io['covered_by_standby']}, "
          f"tap blocks lost {engine_status['recording']['lost_blocks']}")  # fmt: skip
    print(f"  callbacks in a burst that waited for a block: {io['burst_waits']}, "
          f"and got it in time: {io['burst_saves']}")  # fmt: skip
    stampers = end["host"]
    if stampers["watched"]:
        print(f"  host stalls of a CPU seen by the engine's stampers: {stampers['stalls']} "
              f"(longest {stampers['longest_stall_ms']:.1f} ms)")  # fmt: skip
    slots = end["slots"]
    print(f"  standby found the active held up: "
          f"{sum(s.get('found_active_held_up', 0) for s in slots)} times; most blocks rendered "
          f"beyond the lead while the device was late: "
          f"{max(s.get('most_extra_blocks', 0) for s in slots)}")  # fmt: skip
    windows = ((0.0, 0.5, "within 0.5 s of a kill"), (0.5, 4.0, "0.5-4 s after (spare warming)"),
               (4.0, float("inf"), "later, or with no kill before"))  # fmt: skip
    for low, high, label in windows:
        count = sum(n for t, n in underrun_times if low <= t < high)
        print(f"  underruns {label}: {count}")
        figures[f"underruns {label}"] = count
    _attribute(polls, host.stalls)
    _causes(underrun_rows, io["underruns"])
    blocks = sorted({int(i) // session.block for i in differing})
    # The engine stops its slots before its recorder, so the recording ends in a fade.
    shutdown = (len(recorded) - rate // 2) // session.block
    running = [b for b in blocks if b < shutdown]
    figures["blocks_differing"] = len(running)
    print(f"  recording vs offline render of the session log: {len(running)} blocks differ "
          f"{running[:10]} (+{len(blocks) - len(running)} in the last 0.5 s, at shutdown); "
          f"underruns {io['underruns']}")  # fmt: skip


if __name__ == "__main__":
    main()
