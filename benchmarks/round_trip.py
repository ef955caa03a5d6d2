"""The control round trip: chronus's `/engine/sync` against scsynth's `/sync`, UDP on localhost.

    python benchmarks/round_trip.py [--count 300] [--backend device|null] [--json]

Starts a chronus engine (`--backend`: the JACK device by default) and SuperCollider's scsynth
as a realtime server on the running JACK server (`scsynth -u PORT`), then times round trips
to each in turn, `--count` of each after 20 untimed:

- chronus: `/engine/sync token` until `/engine/synced token sample`, what `chronus send` and
  the shell wait for after a line (the supervisor answers once everything sent before it is
  stamped);
- scsynth: `/sync id` until `/synced id` (its answer once every asynchronous command sent
  before it is done).

Printed: min / p50 / p99 / max in ms of each. Without scsynth or without a JACK server,
chronus alone, and why. This machine is shared: compare only figures of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out
from latency import percentile
from scsynth import Server, why_not

from chronus.engine.client import EngineProcess

WARM_UP = 20


def spread(values: list[float]) -> dict[str, float]:
    """min / p50 / p99 / max of round trips in ms, and how many."""
    return {
        "count": len(values),
        "min_ms": round(min(values), 4),
        "p50_ms": round(statistics.median(values), 4),
        "p99_ms": round(percentile(values, 99), 4),
        "max_ms": round(max(values), 4),
    }


def measure(count: int, backend: str) -> dict[str, object]:
    """Round trips to a chronus engine and to scsynth, alternated; scsynth's figures are
    replaced by `{"not_measured": why}` where it cannot run."""
    why = why_not()
    times: dict[str, list[float]] = {"chronus": [], "scsynth": []}
    engine = EngineProcess(port=0, backend=backend).boot()
    try:
        with engine.client() as client, Server() as scsynth:
            pings: dict[str, Callable[[int], object]] = {"chronus": lambda _: client.sync()}
            if not why:
                scsynth.boot()
                pings["scsynth"] = scsynth.sync
            for i in range(WARM_UP + count):
                for name, ping in pings.items():
                    started = time.perf_counter_ns()
                    ping(i)
                    if i >= WARM_UP:
                        times[name].append((time.perf_counter_ns() - started) / 1e6)
        ready_line = engine.ready_line
    finally:
        engine.quit()
    return {
        "chronus": {**spread(times["chronus"]), "engine": ready_line},
        "scsynth": spread(times["scsynth"]) if times["scsynth"] else {"not_measured": why},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="round trips to each")
    parser.add_argument("--backend", default="device", choices=("device", "null"))
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        figures.update(measure(args.count, args.backend))
        print(f"round trips over UDP on localhost, {args.count} of each, alternated (ms):")
        for name in ("chronus", "scsynth"):
            row = figures[name]
            if "not_measured" in row:
                print(f"  {name:8s} not measured: {row['not_measured']}")
                continue
            print(f"  {name:8s} min {row['min_ms']:7.3f} | p50 {row['p50_ms']:7.3f} | "
                  f"p99 {row['p99_ms']:7.3f} | max {row['max_ms']:7.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
