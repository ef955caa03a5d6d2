"""What the one door around every module's `process` (`chronus/dsp/guard.py`) costs a block.

    python benchmarks/guard_overhead.py [--chains 8 64] [--seconds 5] [--sweeps 2000] [--json]

The chain anchor's patch, per track saw → distortion → acid → master with a note every 16th
at 120 bpm (`../shared/anchors/scsynth-chain`), is rendered in blocks of 128 for `--seconds`:
its render time per block (median) is the block's cost. The guard's cost is measured per
call, against the code it replaced, on the same warmed modules: each sweep calls every module
of the patch once through the guard (`Guard.source`, `.mono`, `.stereo`, as the graph
chooses) and once the old way (the call inline in a `try`), in alternating order, with blocks
of one sample so that the modules' own work, the same in both, hides little of the
difference; the median over the sweeps of (guarded − inline) / modules is the cost per call.
Times the modules a block calls, over the block's render time: the share of a block (the
target: < 1 %); over the block's period too.

Then the same with the acid filters as a user plugin type (`acid_plugin`, the same class
registered under another name): plugin modules are timed per call (two clock reads and a
store into the plugin table) and counted; that cost per plugin call is reported beside. And
once more as a slot runs them, with the guard's CPU limit on (`Guard.limit_time`: a CPU timer
armed and disarmed around each plugin call, two `setitimer` calls).

Timings on a shared machine are noisy: the medians of alternated runs only; measure again on
a quiet machine for the record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.dsp import catalog
from chronus.dsp.filters import Acid
from chronus.dsp.guard import time_limit_s
from chronus.dsp.render import Renderer
from chronus.dsp.strips import pass_through, zero_mono
from chronus.protocol import validate

RATE, BLOCK = 48000, 128
STEP = RATE * 60 // 120 // 4
"""A 16th at 120 bpm, in samples."""
NOTES = (36, 36, 48, 36, 39, 36, 43, 46, 36, 36, 48, 36, 51, 48, 43, 39)


class AcidPlugin(Acid):
    """The acid filter under a name that is not built in: a user plugin's type."""

    TYPE = "acid_plugin"


def patch(chains: int, seconds: float, filter_type: str, limited: bool = False) -> Renderer:
    """The chain anchor's patch with its notes scheduled for `seconds` (plugin calls held to
    the slots' CPU limit if `limited`)."""
    renderer = Renderer(RATE, BLOCK)
    if limited:
        renderer.graph.guard.limit_time(time_limit_s(RATE, BLOCK))
    for v in range(chains):
        voice, dist, acid = f"v{v}", f"d{v}", f"a{v}"
        for address, args in (
            ("/patch/create", (voice, "saw")),
            ("/patch/create", (dist, "distortion")),
            ("/patch/create", (acid, filter_type)),
            ("/patch/connect", (voice, dist)),
            ("/patch/connect", (dist, acid)),
            ("/patch/connect", (acid, "master")),
            (f"/mod/{acid}/volume", (-30.0,)),
        ):
            renderer.schedule(0, validate(address, args))
        for step in range(int(seconds * RATE) // STEP):
            midi = NOTES[(step + v) % 16] + (v % 8)
            renderer.schedule(step * STEP, validate(f"/note/{voice}", (midi, 100, 0.1)))
    return renderer


def render_blocks(renderer: Renderer, seconds: float) -> tuple[list[float], float]:
    """Render `seconds`: each block's render time (µs) and the mean of modules it calls."""
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    times, calls = [], []
    for _ in range(int(seconds * RATE) // BLOCK):
        calls.append(len(renderer.graph._awake))
        start = time.perf_counter_ns()
        renderer.render(out, BLOCK)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times, statistics.fmean(calls)


def per_call_ns(renderer: Renderer, sweeps: int) -> tuple[float, int]:
    """The guard's cost per call over the old inline call (median over sweeps, ns), and the
    modules each sweep calls."""
    graph = renderer.graph
    guard = graph.guard
    nodes = list(graph._awake)
    mono_in, mono_out = np.zeros(BLOCK), np.zeros(BLOCK)
    inp, out = np.zeros((BLOCK, 2)), np.zeros((BLOCK, 2))
    calls = [
        (node, node.module, node.processor and node.module.DUAL_MONO, node.processor)
        for node in nodes
    ]

    def guarded() -> int:
        start = time.perf_counter_ns()
        for node, module, mono, processor in calls:
            if mono:
                guard.mono(node, module, mono_in, mono_out, 1)
            elif processor:
                guard.stereo(node, module, inp, out, 1)
            else:
                guard.source(node, module, mono_out, 1)
        return time.perf_counter_ns() - start

    def inline() -> int:  # what the graph did before the guard
        start = time.perf_counter_ns()
        for node, module, mono, processor in calls:
            try:
                if mono:
                    module.process_mono(mono_in, mono_out, 1)
                elif processor:
                    if node.quarantined:
                        pass_through(inp, out, 1)
                    else:
                        module.process_stereo(inp, out, 1)
                elif node.quarantined:
                    zero_mono(mono_out, 1)
                else:
                    module.process(mono_out, 1)
            except Exception as exc:
                guard.failed(node, exc)
        return time.perf_counter_ns() - start

    for _ in range(50):
        guarded()
        inline()
    diffs = []
    for i in range(sweeps):
        if i % 2:
            a = guarded()
            b = inline()
        else:
            b = inline()
            a = guarded()
        diffs.append((a - b) / len(calls))
    return statistics.median(diffs), len(calls)


def measure(
    chains: int, seconds: float, sweeps: int, filter_type: str, limited: bool = False
) -> dict[str, Any]:
    renderer = patch(chains, seconds + 0.5, filter_type, limited)
    render_blocks(renderer, 0.5)  # the patch made and playing
    times, modules = render_blocks(renderer, seconds)
    block_us = statistics.median(times)
    ns, swept = per_call_ns(renderer, max(200, sweeps * 8 // chains))
    period_us = 1e6 * BLOCK / RATE
    per_block_us = ns * modules / 1000
    return {
        "chains": chains,
        "modules_per_block": round(modules, 1),
        "modules_swept": swept,
        "block_us_p50": round(block_us, 1),
        "period_us": round(period_us, 1),
        "ns_per_call": round(ns, 1),
        "us_per_block": round(per_block_us, 2),
        "share_of_render_pct": round(100 * per_block_us / block_us, 3),
        "share_of_period_pct": round(100 * per_block_us / period_us, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sweeps", type=int, default=2000, help="per-call sweeps at 8 chains")
    add_json_flag(parser)
    args = parser.parse_args()
    catalog.register(AcidPlugin)
    Renderer(RATE, BLOCK).warm_up()
    with figures_out(args.json) as figures:
        for chains in args.chains:
            for kind, filter_type, limited in (
                ("builtin", "acid", False),
                ("plugin", "acid_plugin", False),
                ("plugin_limited", "acid_plugin", True),
            ):
                row = measure(chains, args.seconds, args.sweeps, filter_type, limited)
                figures[f"{chains}_{kind}"] = row
                print(
                    f"{chains} chains, acid {kind}: {row['modules_per_block']} modules a block, "
                    f"render p50 {row['block_us_p50']} µs (period {row['period_us']} µs); "
                    f"guard {row['ns_per_call']} ns a call = {row['us_per_block']} µs a block "
                    f"= {row['share_of_render_pct']} % of the render, "
                    f"{row['share_of_period_pct']} % of the period"
                )


if __name__ == "__main__":
    main()
