"""Where a block of N chains playing spends its time: notes, modules, strips, the graph.

    python benchmarks/block_profile.py [--chains 64] [--seconds 10] [--block 128]

The patch of `render_margin.py` (per chain `add a saw called vN through an acid filter`,
`vN through distortion`, a 16-step line of 16ths) in a warm `Renderer` of this checkout
(first on `PYTHONPATH`), played 3 s, then `--seconds` of blocks in two passes, each timed in
CPU time of the rendering thread (`thread_time_ns`):

1. bare: each block whole, note blocks (the sequencer starts notes in them: all chains at
   once) apart from the others;
2. taken apart: the same kind of blocks with timers around the sequencer's firing
   (`Renderer._fire`: its Python and the notes handed to the modules), every module's call
   through the guard (by type: the guard's, the module's and the kernel's frames), and
   every strip kernel (what a module's output costs to reach where it goes); what is left
   is the graph's own loop and the master stage, plus the timers' own cost (two clock reads
   a call, printed as a count). The parts are timed on the wall clock (`perf_counter_ns`:
   the thread's CPU clock costs a system call a read here), the whole block in CPU time.

And the fixed cost: the median of blocks of 1 frame (another renderer of the patch), what a
block costs whatever its length. Not part of the test suite; timings on a shared machine
are noisy (compare within a run, give the load).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from figures import add_json_flag, figures_out
from live_build import chain_lines, pattern_line
from render_margin import RATE, WARM_SECONDS, built, percentiles

CLOCK = time.thread_time_ns
PART_CLOCK = time.perf_counter_ns
"""The parts' timers read the wall clock: the thread's CPU clock is a system call here
(~1 µs a read on this VM), several hundred a block."""


SEQUENCER = "notes fired: the sequencer"
INTO_MODULES = "notes fired: into the modules"


class Meter:
    """Nanoseconds spent per part in the block being rendered."""

    def __init__(self) -> None:
        self.block: dict[str, int] = defaultdict(int)
        self.calls = 0

    def timed(self, part: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed into `part` (or into the part `part(*args)` names)."""
        block = self.block

        def wrapper(*args: Any) -> Any:
            began = PART_CLOCK()
            try:
                return fn(*args)
            finally:
                block[part if isinstance(part, str) else part(*args)] += PART_CLOCK() - began
                self.calls += 1

        return wrapper


def instrument(renderer: Any, meter: Meter) -> None:
    """Put the meter's timers around the renderer's parts (on this instance only)."""
    graph = renderer.graph
    renderer._fire = meter.timed(SEQUENCER, renderer._fire)
    ahead = renderer._ahead  # inside the sequencer's time: taken out of it in `measure`
    ahead.note = meter.timed(INTO_MODULES, ahead.note)
    guard = graph.guard
    for door in ("source", "mono", "stereo"):
        setattr(guard, door, meter.timed(_module_part, getattr(guard, door)))
    graph._bind_strips = lambda: None  # keep the timed strips below
    for name in ("_to_mono", "_to_both", "_zero_mono", "_strip_stereo_kernel"):
        setattr(graph, name, meter.timed("strips", getattr(graph, name)))


def _module_part(node: Any, *_: Any) -> str:
    return f"module {node.module.TYPE}"


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Both passes and the fixed cost; print and keep each figure."""
    lines = chain_lines(args.chains) + [pattern_line(v) for v in range(1, args.chains + 1)]
    block = args.block
    out = np.zeros((block, 2), dtype=np.float32)
    blocks = int(args.seconds * RATE / block)
    period = block / RATE * 1e6
    print(f"{args.chains} chains playing 16ths, blocks of {block} ({period:.0f} µs), "
          f"{args.seconds:g} s a pass, CPU time; load {_load()}")  # fmt: skip

    renderer = built(lines, block)
    _play(renderer, out, int(WARM_SECONDS * RATE / block))
    bare: dict[str, list[float]] = {"note": [], "other": []}
    for _ in range(blocks):
        note = renderer.sequencer.next_sample < renderer.position + block
        began = CLOCK()
        renderer.render(out, block)
        bare["note" if note else "other"].append((CLOCK() - began) / 1000.0)
    for kind, values in bare.items():
        p = figures[f"{kind} blocks"] = percentiles(values)
        print(f"  {kind:<5} blocks {p['n']:>6}: p50 {p['p50']:6.0f} µs, p90 {p['p90']:6.0f}, "
              f"p99 {p['p99']:6.0f}, max {p['max']:6.0f}")  # fmt: skip

    meter = Meter()
    instrument(renderer, meter)
    parts: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in ("note", "other")}
    calls: dict[str, list[int]] = {"note": [], "other": []}
    for _ in range(blocks):
        note = renderer.sequencer.next_sample < renderer.position + block
        kind = "note" if note else "other"
        meter.block.clear()
        meter.calls = 0
        began = PART_CLOCK()
        renderer.render(out, block)
        total = PART_CLOCK() - began
        if INTO_MODULES in meter.block:
            meter.block[SEQUENCER] -= meter.block[INTO_MODULES]
        for part, ns in meter.block.items():
            parts[kind][part].append(ns / 1000.0)
        parts[kind]["the graph's loop, master, timers"].append(
            (total - sum(meter.block.values())) / 1000.0
        )
        calls[kind].append(meter.calls)
    figures["parts"] = {}
    for kind, by_part in parts.items():
        timed = int(np.median(calls[kind]))
        print(f"  {kind} blocks taken apart (median µs; {timed} timed calls a block):")
        kept = figures["parts"][kind] = {}
        for part, values in sorted(by_part.items(), key=lambda kv: -float(np.median(kv[1]))):
            kept[part] = float(np.median(values))
            print(f"    {part:<36} {kept[part]:7.0f}")

    ones = built(lines, block)
    _play(ones, out, int(WARM_SECONDS * RATE / block))
    took = []
    for _ in range(blocks):
        began = CLOCK()
        ones.render(out, 1)
        took.append((CLOCK() - began) / 1000.0)
    figures["fixed cost"] = float(np.median(took))
    print(f"  fixed cost (blocks of 1 frame, median): {figures['fixed cost']:.0f} µs")
    warm_firing(ones, figures)


class _Nowhere:
    """A performer that plays nothing: the sequencer's own work alone."""

    def note(self, *_: Any) -> None: ...
    def release(self, *_: Any) -> None: ...
    def set_param(self, *_: Any) -> None: ...
    def set_tempo(self, *_: Any) -> None: ...


def warm_firing(renderer: Any, figures: dict[str, Any]) -> None:
    """The notes' two parts again, but each straight after the one before, no block between
    (the caches hold what they touch): against the parts above, what the block's eviction of
    the notes' Python objects costs."""
    sequencer, graph, nowhere = renderer.sequencer, renderer.graph, _Nowhere()
    fires, notes = [], []
    ids = list(sequencer.tracks)
    for _ in range(200):
        began = PART_CLOCK()
        sequencer.fire(sequencer.next_sample, nowhere)
        fires.append((PART_CLOCK() - began) / 1000.0)
        held: set[str] = set()
        began = PART_CLOCK()
        for module_id in ids:
            graph.note_at(module_id, 1, 48.0, 100.0, 1000, held)
        notes.append((PART_CLOCK() - began) / 1000.0)
        for module in graph._ahead:
            module.flush_notes()
        graph._ahead.clear()
    figures["warm sequencer"] = float(np.median(fires))
    figures["warm notes into the modules"] = float(np.median(notes))
    print(f"  the same with warm caches (one after the other, no block between; median µs): "
          f"the sequencer {figures['warm sequencer']:.0f}, {len(ids)} notes into the modules "
          f"{figures['warm notes into the modules']:.0f}")  # fmt: skip


def _play(renderer: Any, out: np.ndarray, blocks: int) -> None:
    for _ in range(blocks):
        renderer.render(out, out.shape[0])


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--block", type=int, default=128)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)
        print(f"  load after: {_load()}")


if __name__ == "__main__":
    main()
