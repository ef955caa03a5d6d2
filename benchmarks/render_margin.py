"""The render's margin at 64 chains playing: time per block, note blocks apart, in-process.

    python benchmarks/render_margin.py [--chains 64] [--seconds 10] [--runs 3] [--block 128]
                                       [--compare OTHER_CHECKOUT ...] [--interleave]

The patch of `live_build.py --chains N --play` (per chain `add a saw called vN through an
acid filter`, `vN through distortion`, a 16-step line of 16ths), built in a `Renderer` in a
fresh process of each checkout (first on `PYTHONPATH`) after `warm_up` and 3 s of blocks,
then `--seconds` of blocks of `--block` frames, each timed in CPU time of the rendering
thread (`thread_time_ns`: on a loaded machine the wall clock also counts the time other
processes had the core; `--wall` times with `perf_counter_ns` instead). A *note
block* is one in which the sequencer starts notes (all chains at once: the 16ths fall on
the same sample); the others are every other block. Runs alternate between the checkouts
(a slow spell of the shared machine slows all of them); the percentiles are over every
block of every run, per checkout. Each checkout's last run also hashes its output, and the
hashes must agree: the same samples, bit for bit. `--interleave` instead renders the patch
twice in this process, with the notes fired ahead and with blocks split at them, one block
each in turn (the least noisy comparison on a busy machine).

Not part of the test suite; timings on a shared machine are noisy (compare within a run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out

ROOT = Path(__file__).resolve().parent.parent
RATE = 48000
WARM_SECONDS = 3.0


def built(lines: list[str], block: int) -> Any:
    """A warm `Renderer` of this process's checkout with `lines` scheduled at sample 0."""
    from chronus.dsp.render import Renderer
    from chronus.lang.interpreter import Interpreter

    renderer = Renderer(RATE, block)
    renderer.warm_up()
    interpreter = Interpreter()
    for line in lines:
        result = interpreter.interpret(line)
        if not result.ok:
            raise SystemExit(f"the language refused {line!r}: {result.error}")
        for message in result.messages:
            renderer.schedule(0, message)
    return renderer


def child(block: int, seconds: float, wall: bool) -> None:
    """Read the lines (JSON) on stdin, build and play them, print the timings as JSON."""
    import time

    import numpy as np

    renderer = built(json.load(sys.stdin), block)
    out = np.zeros((block, 2), dtype=np.float32)
    for _ in range(int(WARM_SECONDS * RATE / block)):
        renderer.render(out, block)
    blocks = int(seconds * RATE / block)
    took = np.zeros(blocks, dtype=np.int64)
    notes = np.zeros(blocks, dtype=bool)
    digest = hashlib.sha256()
    sequencer = renderer.sequencer
    clock = time.perf_counter_ns if wall else time.thread_time_ns
    for b in range(blocks):
        notes[b] = sequencer.next_sample < renderer.position + block
        began = clock()
        renderer.render(out, block)
        took[b] = clock() - began
        digest.update(out.tobytes())
    timings = {"us": (took / 1000.0).tolist(), "notes": notes.tolist()}
    checks = {"sha256": digest.hexdigest(), "errors": list(renderer.errors)}
    json.dump({**timings, **checks}, sys.stdout)


def interleaved(lines: list[str], block: int, seconds: float) -> None:
    """This checkout only: two renderers of the patch in one process, the sequencer's notes
    fired ahead in one and the blocks split at them in the other (`Renderer.fire_ahead`),
    rendering one block each in turn, so that both see the same moment of the machine."""
    import time

    import numpy as np

    pair = {"split": built(lines, block), "ahead": built(lines, block)}
    pair["split"].fire_ahead = False
    outs = {name: np.zeros((block, 2), dtype=np.float32) for name in pair}
    for _ in range(int(WARM_SECONDS * RATE / block)):
        for name, renderer in pair.items():
            renderer.render(outs[name], block)
    kept: dict[str, dict[str, list[float]]] = {n: {"note": [], "other": []} for n in pair}
    same = True
    for b in range(int(seconds * RATE / block)):
        sequencer, position = pair["ahead"].sequencer, pair["ahead"].position
        kind = "note" if sequencer.next_sample < position + block else "other"
        for name in sorted(pair, reverse=b % 2 == 1):
            began = time.thread_time_ns()
            pair[name].render(outs[name], block)
            kept[name][kind].append((time.thread_time_ns() - began) / 1000.0)
        same = same and outs["split"].tobytes() == outs["ahead"].tobytes()
    print(f"split against fired ahead, one process, blocks interleaved, {seconds:g} s, CPU time")
    for name, kinds in kept.items():
        for kind, values in kinds.items():
            p = percentiles(values)
            print(f"  {name:<6} {kind:<5} blocks {p['n']:>6}: p50 {p['p50']:6.0f} µs, "
                  f"p90 {p['p90']:6.0f}, p99 {p['p99']:6.0f}, max {p['max']:6.0f}")  # fmt: skip
    print(f"  the same samples both ways: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("fired ahead, the patch rendered other samples")


def run_child(checkout: Path, lines: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """One measured run in a fresh process of `checkout`."""
    command = [sys.executable, __file__, "--child", "--block", str(args.block),
               "--seconds", str(args.seconds), *(["--wall"] if args.wall else [])]  # fmt: skip
    done = subprocess.run(
        command,
        input=json.dumps(lines), check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and the largest of `values` (µs)."""
    import numpy as np

    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"n": len(values), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(max(values))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--compare", type=Path, nargs="*", default=[], metavar="CHECKOUT")
    parser.add_argument("--wall", action="store_true", help="time blocks on the wall clock")
    parser.add_argument(
        "--interleave", action="store_true", help="split against fired ahead, in one process"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args()
    if args.child:
        child(args.block, args.seconds, args.wall)
        return
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Alternate the checkouts' runs; print and keep each one's percentiles."""
    from live_build import chain_lines, pattern_line

    lines = chain_lines(args.chains) + [pattern_line(v) for v in range(1, args.chains + 1)]
    if args.interleave:
        interleaved(lines, args.block, args.seconds)
        return
    checkouts = {"this checkout": ROOT, **{str(c): c.resolve() for c in args.compare}}
    kept: dict[str, dict[str, list[float]]] = {n: {"note": [], "other": []} for n in checkouts}
    hashes: dict[str, str] = {}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            result = run_child(checkout, lines, args)
            if result["errors"]:
                raise SystemExit(f"{name}: the render reported errors: {result['errors']}")
            for us, note in zip(result["us"], result["notes"], strict=True):
                kept[name]["note" if note else "other"].append(us)
            hashes[name] = result["sha256"]
    period = args.block / RATE * 1e6
    clock = "wall clock" if args.wall else "CPU time of the rendering thread"
    print(f"{args.chains} chains playing 16ths, blocks of {args.block} ({period:.0f} µs), "
          f"{args.seconds:g} s × {args.runs} runs per checkout, alternated; {clock}")  # fmt: skip
    for name, kinds in kept.items():
        figures[name] = {}
        for kind, values in kinds.items():
            p = figures[name][kind] = percentiles(values)
            print(f"  {name:<24} {kind:<5} blocks {p['n']:>6}: p50 {p['p50']:6.0f} µs, "
                  f"p90 {p['p90']:6.0f}, p99 {p['p99']:6.0f}, max {p['max']:6.0f}")  # fmt: skip
    check_same(hashes, figures)


def check_same(hashes: dict[str, str], figures: dict[str, Any]) -> None:
    """Say whether every checkout's output hashed the same (kept in `figures`); exit if not."""
    same = len(set(hashes.values())) == 1
    figures["same samples"] = same
    print(f"  the same samples in every checkout: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(f"the checkouts rendered different samples: {hashes}")


if __name__ == "__main__":
    main()
