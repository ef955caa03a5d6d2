"""The render's fixed cost per block, apart from its work per sample, at N chains playing.

    python benchmarks/block_cost.py [--chains 32 64] [--seconds 4] [--runs 4]
                                    [--compare OTHER_CHECKOUT ...]

The patch of `render_margin.py` (per chain `add a saw called vN through an acid filter`,
`vN through distortion`, a 16-step line of 16ths) in a `Renderer` of blocks up to 256, in a
fresh process of each checkout (first on `PYTHONPATH`), warmed by 2 s of blocks; then
blocks of 128 and of 256 frames in turn, each timed in CPU time of the rendering thread.
With T(n) the median time of a block of n: the fixed cost per block is 2·T(128) − T(256)
(what a block costs whatever its length: the graph's loop, the guard's and the modules'
Python frames, each kernel's call and set-up), the work per sample T(256) − T(128) per 128
frames. Runs alternate between the checkouts (a slow spell of the shared machine slows all
of them); each figure is the median over the runs. Every checkout's output is hashed: the
same samples, bit for bit, or the benchmark fails.

Not part of the test suite; timings on a shared machine are noisy (compare within a run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out
from render_margin import built, check_same

ROOT = Path(__file__).resolve().parent.parent
RATE = 48000
WARM_SECONDS = 2.0
SIZES = (128, 256)


def child(chains: int, seconds: float) -> None:
    """Build and play the patch; print the median CPU time of each block size (µs) and the
    output's hash as JSON."""
    import time

    import numpy as np
    from live_build import chain_lines, pattern_line

    lines = chain_lines(chains) + [pattern_line(v) for v in range(1, chains + 1)]
    renderer = built(lines, max(SIZES))
    out = np.zeros((max(SIZES), 2), dtype=np.float32)
    for _ in range(int(WARM_SECONDS * RATE / max(SIZES))):
        renderer.render(out, max(SIZES))
    took: dict[int, list[int]] = {n: [] for n in SIZES}
    digest = hashlib.sha256()
    clock = time.thread_time_ns
    for _ in range(int(seconds * RATE / sum(SIZES))):
        for n in SIZES:
            began = clock()
            renderer.render(out, n)
            took[n].append(clock() - began)
            digest.update(out[:n].tobytes())
    medians = {str(n): statistics.median(values) / 1000.0 for n, values in took.items()}
    json.dump({"us": medians, "sha256": digest.hexdigest(), "errors": list(renderer.errors)},
              sys.stdout)  # fmt: skip


def run_child(checkout: Path, chains: int, seconds: float) -> dict[str, Any]:
    """One measured run in a fresh process of `checkout`."""
    command = [sys.executable, __file__, "--child", "--chains", str(chains),
               "--seconds", str(seconds)]  # fmt: skip
    done = subprocess.run(
        command, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": f"{checkout}{os.pathsep}{Path(__file__).parent}"},
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--compare", type=Path, nargs="*", default=[], metavar="CHECKOUT")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args()
    if args.child:
        child(args.chains[0], args.seconds)
        return
    with figures_out(args.json) as figures:
        for chains in args.chains:
            figures[str(chains)] = measure(chains, args)


def measure(chains: int, args: argparse.Namespace) -> dict[str, Any]:
    """Alternate the checkouts' runs at `chains`; print and return each one's medians."""
    checkouts = {"this checkout": ROOT, **{str(c): c.resolve() for c in args.compare}}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    hashes: dict[str, str] = {}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            result = run_child(checkout, chains, args.seconds)
            if result["errors"]:
                raise SystemExit(f"{name}: the render reported errors: {result['errors']}")
            t128, t256 = result["us"]["128"], result["us"]["256"]
            runs[name].append(
                {"block 128": t128, "block 256": t256, "fixed": 2 * t128 - t256,
                 "per 128 frames": t256 - t128}
            )  # fmt: skip
            hashes[name] = result["sha256"]
    print(f"{chains} chains playing 16ths, blocks of 128 and 256 in turn, {args.seconds:g} s "
          f"× {args.runs} runs per checkout, alternated; CPU time, run medians (µs)")  # fmt: skip
    figures: dict[str, Any] = {}
    for name, kept in runs.items():
        row = figures[name] = {key: statistics.median(r[key] for r in kept) for key in kept[0]}
        spread = ", ".join(f"{r['fixed']:.0f}" for r in kept)
        print(f"  {name:<24} T(128) {row['block 128']:6.0f}, T(256) {row['block 256']:6.0f}: "
              f"fixed per block {row['fixed']:5.0f} (runs: {spread}), "
              f"per 128 frames {row['per 128 frames']:5.0f}")  # fmt: skip
    check_same(hashes, figures)
    return figures


if __name__ == "__main__":
    main()
