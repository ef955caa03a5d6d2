"""What the example user modules cost per block, next to the built-in effects.

    python benchmarks/example_modules.py [--blocks 3000] [--rounds 5] [--json]

Each example of `examples/modules/` is loaded as the engine loads a plugin (`import_plugin`)
and driven directly with a 128-frame stereo block of a test signal, after a warm-up;
`distortion` (fold mode) and `delay` are the built-in references. The modules take turns,
round after round, so that a noisy neighbour hits all of them alike; the figure is the
median over rounds of each round's median µs per block (p99 likewise), stereo and, for the
dual-mono ones, mono. The budget a user module is validated against is a quarter of a
block (667 µs at 48 kHz).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.dsp.catalog import create_module
from chronus.dsp.module import Processor
from chronus.plugins.source import import_plugin, version_of

ROOT = Path(__file__).resolve().parent.parent
RATE, BLOCK = 48000, 128


def make(name: str) -> Processor:
    path = ROOT / "examples" / "modules" / f"{name}.py"
    if path.exists():
        module = import_plugin(path, name, version_of(path.read_bytes()))(RATE, BLOCK)
    else:
        module = create_module(name, RATE, BLOCK)
        if name == "distortion":
            module.set_param("mode", 2)
    assert isinstance(module, Processor)
    return module


def calls(module: Processor) -> dict[str, Callable[[], None]]:
    """One block of the module's stereo path (and mono path if it has one)."""
    t = np.arange(BLOCK) / RATE
    inp = np.ascontiguousarray(np.column_stack([np.sin(2 * np.pi * 110 * t)] * 2) * 0.8)
    out = np.zeros((BLOCK, 2))
    found = {"stereo": lambda: module.process_stereo(inp, out, BLOCK)}
    if module.DUAL_MONO:
        mono_in, mono_out = np.ascontiguousarray(inp[:, 0]), np.zeros(BLOCK)
        found["mono"] = lambda: module.process_mono(mono_in, mono_out, BLOCK)
    return found


def timed(call: Callable[[], None], blocks: int) -> list[float]:
    times = []
    for _ in range(blocks):
        started = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - started) / 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object of figures")
    args = parser.parse_args()
    paths = {
        f"{name} {path}": call
        for name in ("fold", "crush", "chorus", "distortion", "delay")
        for path, call in calls(make(name)).items()
    }
    for call in paths.values():
        timed(call, 100)  # warm: compiled, caches hot
    p50: dict[str, list[float]] = {key: [] for key in paths}
    p99: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(args.rounds):
        for key, call in paths.items():
            times = sorted(timed(call, args.blocks))
            p50[key].append(times[len(times) // 2])
            p99[key].append(times[int(0.99 * len(times))])
    figures = {
        key: {"us_p50": round(statistics.median(p50[key]), 2),
              "us_p99": round(statistics.median(p99[key]), 2)}
        for key in paths
    }  # fmt: skip
    if args.json:
        print(json.dumps(figures))
        return
    period = 1e6 * BLOCK / RATE
    for key, row in figures.items():
        share = 100 * row["us_p50"] / period
        print(f"{key:18} p50 {row['us_p50']:7.2f} µs  p99 {row['us_p99']:7.2f} µs  ({share:.2f} %)")


if __name__ == "__main__":
    main()
