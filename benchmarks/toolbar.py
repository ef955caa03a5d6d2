"""What the live toolbar costs: the shell's CPU, the supervisor's, and nothing in the audio.

    python benchmarks/toolbar.py [--window 6] [--rounds 3] [--hz 10] [--calls 2000] [--json]

Starts a real engine (`chronus engine --backend null`, a subprocess) and plays a bass line
and a kick pattern on it, then measures three things:

- **the shell**: a real prompt (prompt_toolkit, drawing to a 120×40 VT100 terminal that
  writes to /dev/null, keystrokes from a pipe, the terminal's answer to the cursor position
  request fed in as a terminal would, so that the bottom toolbar is drawn) runs for
  `--window` seconds, alternately without the live toolbar (a fixed bottom line, no
  refresh) and with it (`LiveStatus` polling `/engine/now` and the prompt redrawn, both
  `--rate` times a second, by default the shell's `POLLS_PER_S`). The
  difference in this process's CPU time (every thread), as a share of one CPU, is what the
  toolbar costs. Target (issue 16): under 1 %. Apart from that, one poll's CPU time (the
  request, the wait, the JSON) is timed alone, so the rest is the redraw's.
- **the engine**: windows of `--window` seconds alternate between no client polling and one
  polling `/engine/now` at `--hz` (10, the top of the 4–10 Hz range): the underruns and
  xruns in each window, the audio callback's p99, the active slot's render p50 (both over
  the last 1024 blocks at the window's end) and the supervisor's CPU share (from
  /proc/<pid>/stat). Target: no difference between the two.
- **one answer**: the supervisor's `now()` and its JSON encoding, timed in this process on a
  `Supervisor` of its own (null backend), `--calls` times: p50 and p99 in microseconds,
  beside `status()` for scale.

Timings on a shared machine are noisy: the windows alternate so that drift hits both, and
the figures are medians. Re-measure on a quiet machine (and on JACK) for the record.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.supervisor import EngineConfig, Supervisor
from chronus.protocol import validate
from chronus.shell.toolbar import POLLS_PER_S, Extras, LiveStatus, draw_toolbar

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def play(client: EngineClient) -> None:
    """A bass line and a kick, playing."""
    client.send([
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/connect", ("bass", "master")),
        validate("/patch/create", ("kick", "kick")),
        validate("/patch/connect", ("kick", "master")),
        validate("/seq/bass/pattern", ("c2 eb2 g2 c3 c2 eb2 g2 bb2",)),
        validate("/seq/kick/pattern", ("x . x . x . x .",)),
    ])  # fmt: skip
    client.sync()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def prompt_window(seconds: float, live: LiveStatus | None) -> float:
    """Run a real prompt for `seconds`, with the live toolbar or without; this process's CPU
    seconds meanwhile (every thread: the prompt's loop and the poller)."""
    with open(os.devnull, "w") as sink, create_pipe_input() as pipe:
        output = Vt100_Output(sink, lambda: Size(rows=40, columns=120), term="xterm-256color")
        with create_app_session(input=pipe, output=output):
            extras = Extras(focus="bass", engine="127.0.0.1:0")
            session: PromptSession[str] = PromptSession(
                bottom_toolbar=lambda: draw_toolbar(live.latest if live else None, extras),
                refresh_interval=live.every_s if live else None,
                input=pipe,
                output=output,
            )
            done = threading.Event()

            def run() -> None:
                try:
                    session.prompt("chronus> ")
                except EOFError:
                    pass
                done.set()

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            time.sleep(0.3)
            # A terminal answers the prompt's cursor position request; until it has, the
            # prompt does not know the height below the cursor and draws no bottom toolbar.
            pipe.send_text("\x1b[1;1R")
            time.sleep(0.3)  # the first draw is the same either way
            if live is not None:
                live.start()
            began = time.process_time()
            time.sleep(seconds)
            spent = time.process_time() - began
            if live is not None:
                live.close()
            pipe.send_text("\x04")  # Ctrl-D
            done.wait(5)
    return spent


def shell_side(engine: EngineProcess, args: argparse.Namespace) -> dict[str, Any]:
    without: list[float] = []
    with_live: list[float] = []
    for _ in range(args.rounds):
        without.append(prompt_window(args.window, None) / args.window)
        live = LiveStatus.for_engine((engine.host, engine.port), lambda line: None)
        live.every_s = 1.0 / args.rate
        with_live.append(prompt_window(args.window, live) / args.window)
    cost = statistics.median(with_live) - statistics.median(without)
    live = LiveStatus.for_engine((engine.host, engine.port), lambda line: None)
    polls: list[float] = []
    for _ in range(args.calls // 10):
        began = time.process_time()
        live.poll()
        polls.append(time.process_time() - began)
        time.sleep(0.005)
    live.close()
    poll_us = 1e6 * statistics.fmean(polls)
    return {
        "poll_cpu_us_mean": round(poll_us, 1),
        "redraw_cpu_us": round(1e6 * cost / args.rate - poll_us, 1),
        "rate_hz": args.rate,
        "cpu_share_without": round(statistics.median(without), 5),
        "cpu_share_with": round(statistics.median(with_live), 5),
        "toolbar_cpu_share": round(cost, 5),
        "windows_without": [round(x, 5) for x in without],
        "windows_with": [round(x, 5) for x in with_live],
    }


def poller(address: tuple[str, int], hz: float, stop: threading.Event) -> Callable[[], int]:
    """Poll `/engine/now` at `hz` until `stop`; returns a function giving the answers."""
    answers = [0]

    def run() -> None:
        with EngineClient(*address) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                client.now()
                answers[0] += 1
                next_at += 1.0 / hz
                stop.wait(max(0.0, next_at - time.monotonic()))

    threading.Thread(target=run, daemon=True).start()
    return lambda: answers[0]


def engine_window(engine: EngineProcess, seconds: float, hz: float | None) -> dict[str, Any]:
    assert engine.process is not None
    pid = engine.process.pid
    with engine.client() as client:
        before = client.status()
        cpu_before = cpu_seconds(pid)
        stop = threading.Event()
        answers = poller((engine.host, engine.port), hz, stop) if hz else (lambda: 0)
        time.sleep(seconds)
        stop.set()
        cpu = cpu_seconds(pid) - cpu_before
        after = client.status()
    active = next(slot for slot in after["slots"] if slot["role"] == "active")
    return {
        "underruns": after["io"]["underruns"] - before["io"]["underruns"],
        "xruns": after["io"]["xruns"] - before["io"]["xruns"],
        "callback_p99_us": after["io"]["callback"]["p99_us"],
        "render_p50_us": active["render"]["p50_us"],
        "supervisor_cpu_share": round(cpu / seconds, 4),
        "answers": answers(),
    }


def engine_side(engine: EngineProcess, args: argparse.Namespace) -> dict[str, Any]:
    off: list[dict[str, Any]] = []
    on: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        off.append(engine_window(engine, args.window, None))
        on.append(engine_window(engine, args.window, args.hz))

    def summary(windows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "underruns": sum(w["underruns"] for w in windows),
            "xruns": sum(w["xruns"] for w in windows),
            "callback_p99_us": statistics.median(w["callback_p99_us"] for w in windows),
            "render_p50_us": statistics.median(w["render_p50_us"] for w in windows),
            "supervisor_cpu_share": statistics.median(w["supervisor_cpu_share"] for w in windows),
            "answers_per_s": round(
                sum(w["answers"] for w in windows) / (len(windows) * args.window), 1
            ),
        }

    return {
        "poll_hz": args.hz,
        "without": summary(off),
        "with": summary(on),
        "windows": {"without": off, "with": on},
    }


def one_answer(args: argparse.Namespace) -> dict[str, Any]:
    supervisor = Supervisor(EngineConfig(port=0, backend="null"))
    try:
        supervisor.start()
        time.sleep(1.0)
        times: dict[str, list[float]] = {"now": [], "status": []}
        for _ in range(args.calls):
            for name, call in (("now", supervisor.now), ("status", supervisor.status)):
                began = time.perf_counter()
                json.dumps(call())
                times[name].append(time.perf_counter() - began)
            time.sleep(0.001)
        reply = json.dumps(supervisor.now())
    finally:
        supervisor.shutdown()

    def p(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1e6, 1)

    return {
        "now_us_p50": p(times["now"], 0.5),
        "now_us_p99": p(times["now"], 0.99),
        "status_us_p50": p(times["status"], 0.5),
        "now_bytes": len(reply),
    }


def reference_ms() -> float:
    """CPU milliseconds of `sum(range(10**6))` (the best of 5): how fast Python ran here,
    to set the figures of two machines side by side."""
    best = float("inf")
    for _ in range(5):
        began = time.process_time()
        sum(range(10**6))
        best = min(best, time.process_time() - began)
    return round(best * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=6.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="windows of each kind")
    parser.add_argument("--hz", type=float, default=10.0, help="polls a second (engine part)")
    parser.add_argument(
        "--rate", type=float, default=POLLS_PER_S, help="the toolbar's polls and redraws a second"
    )
    parser.add_argument("--calls", type=int, default=2000, help="answers timed in-process")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            play(client)
        time.sleep(1.0)
        figures: dict[str, Any] = {
            "engine": engine_side(engine, args),
            "shell": shell_side(engine, args),
        }
    finally:
        engine.quit()
    figures["answer"] = one_answer(args)
    figures["reference_ms"] = reference_ms()
    figures["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures))
        return 0
    shell, eng, answer = figures["shell"], figures["engine"], figures["answer"]
    share = {key: f"{100 * shell[key]:.2f} %" for key in shell if "share" in key}
    print(
        f"shell: the toolbar at {shell['rate_hz']} Hz costs {share['toolbar_cpu_share']} of a CPU "
        f"({share['cpu_share_without']} → {share['cpu_share_with']}); one poll "
        f"{shell['poll_cpu_us_mean']} µs of CPU, one redraw {shell['redraw_cpu_us']} µs"
    )
    for label in ("without", "with"):
        w = eng[label]
        print(
            f"engine {label} polling at {eng['poll_hz']:g} Hz: underruns {w['underruns']}, xruns "
            f"{w['xruns']}, callback p99 {w['callback_p99_us']} µs, render p50 "
            f"{w['render_p50_us']} µs, supervisor {100 * w['supervisor_cpu_share']:.1f} % CPU"
        )
    print(
        f"one /engine/now answer: p50 {answer['now_us_p50']} µs, p99 {answer['now_us_p99']} µs "
        f"({answer['now_bytes']} bytes); status() p50 {answer['status_us_p50']} µs"
    )
    print(
        f"reference: sum(range(10**6)) took {figures['reference_ms']} ms of CPU; load average "
        f"{figures['load_average']:.1f} on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
