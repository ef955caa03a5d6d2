"""What rendering one module type across chains in one call would save: 64 acid ladders.

    python benchmarks/ladder_batch.py [--chains 64] [--blocks 2000] [--block 128]

The biggest part of a block of 64 playing chains is the acid filters' ladders (see
`block_profile.py`): 64 calls of `acid_mono`, each latency-bound on its four saturating
stages in series. Rendered three ways on the same 64 states and inputs (a saw of each chain's
own pitch; every 47th block retriggers the envelopes, as 16ths at 120 BPM do), each timed per
block in CPU time of this thread:

- **calls**: as the graph does today, one call of the kernel's entry point per chain from
  Python, each module's own state array;
- **one call**: the 64 states as rows of one array, one compiled call looping over them
  (`acid_mono` per row): what removing the per-call cost alone gives;
- **interleaved**: one call, the ladders four at a time inside each sample's loop (the same
  operations per ladder, so the same bits): four independent chains of stages in flight, the
  latency of one hidden under the others'.

Each way must give the same samples, bit for bit, or the benchmark fails. Not part of the
test suite; timings on a shared machine are noisy (compare within a run, give the load).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numba
import numpy as np
from figures import add_json_flag, figures_out

from chronus.dsp import filter_kernels as fk
from chronus.dsp.filter_kernels import _acid_controls, _ladder
from chronus.dsp.filters import Acid
from chronus.dsp.kernels import FloatArray, entry

RATE = 48000
NOTE_EVERY = 47
"""Blocks of 128 between two 16ths at 120 BPM (6000 samples), near enough."""
WIDTH = 4


@numba.njit(error_model="numpy")
def acid_rows(inp: FloatArray, out: FloatArray, n: int, states: FloatArray) -> None:
    """`acid_mono` on each row: one call for every chain."""
    for r in range(states.shape[0]):
        fk.acid_mono(inp[r], out[r], n, states[r])


@numba.njit(error_model="numpy")
def acid_rows_interleaved(inp: FloatArray, out: FloatArray, n: int, states: FloatArray) -> None:
    """`acid_mono` on each row, `WIDTH` (4) rows at a time in each sample's loop."""
    for r in range(0, states.shape[0], 4):
        pa, pb, pc, pd = states[r], states[r + 1], states[r + 2], states[r + 3]
        xa, xb, xc, xd = inp[r], inp[r + 1], inp[r + 2], inp[r + 3]
        ya, yb, yc, yd = out[r], out[r + 1], out[r + 2], out[r + 3]
        ta, wa = 0.35 * pa[fk.ACID_RATE], math.pi / pa[fk.ACID_RATE]
        tb, wb = 0.35 * pb[fk.ACID_RATE], math.pi / pb[fk.ACID_RATE]
        tc, wc = 0.35 * pc[fk.ACID_RATE], math.pi / pc[fk.ACID_RATE]
        td, wd = 0.35 * pd[fk.ACID_RATE], math.pi / pd[fk.ACID_RATE]
        st = fk.ACID_ST
        a0, a1, a2, a3 = pa[st], pa[st + 1], pa[st + 2], pa[st + 3]
        b0, b1, b2, b3 = pb[st], pb[st + 1], pb[st + 2], pb[st + 3]
        c0, c1, c2, c3 = pc[st], pc[st + 1], pc[st + 2], pc[st + 3]
        d0, d1, d2, d3 = pd[st], pd[st + 1], pd[st + 2], pd[st + 3]
        for i in range(n):
            g, a, b, gain = _acid_controls(pa, ta, wa)
            y, a0, a1, a2, a3 = _ladder(xa[i], a0, a1, a2, a3, g, a, b)
            ya[i] = y * gain
            g, a, b, gain = _acid_controls(pb, tb, wb)
            y, b0, b1, b2, b3 = _ladder(xb[i], b0, b1, b2, b3, g, a, b)
            yb[i] = y * gain
            g, a, b, gain = _acid_controls(pc, tc, wc)
            y, c0, c1, c2, c3 = _ladder(xc[i], c0, c1, c2, c3, g, a, b)
            yc[i] = y * gain
            g, a, b, gain = _acid_controls(pd, td, wd)
            y, d0, d1, d2, d3 = _ladder(xd[i], d0, d1, d2, d3, g, a, b)
            yd[i] = y * gain
        for p, s0, s1, s2, s3 in (
            (pa, a0, a1, a2, a3), (pb, b0, b1, b2, b3), (pc, c0, c1, c2, c3), (pd, d0, d1, d2, d3)
        ):  # fmt: skip
            p[st], p[st + 1], p[st + 2], p[st + 3] = s0, s1, s2, s3
            p[st + 4], p[st + 5], p[st + 6], p[st + 7] = s0, s1, s2, s3


def saws(chains: int, frames: int) -> FloatArray:
    """A naive saw per chain at its own pitch (c2 up by semitones), amplitude 0.3."""
    t = np.arange(frames)
    hz = 65.4 * 2.0 ** (np.arange(chains) / 12.0)
    return np.asarray(0.3 * (2.0 * ((t[None, :] * hz[:, None] / RATE) % 1.0) - 1.0))


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Time the three ways, check their bytes, print and keep the figures."""
    chains, n = args.chains - args.chains % WIDTH, args.block
    modules = [Acid(RATE, n) for _ in range(chains)]
    for k, module in enumerate(modules):
        module.set_param("cutoff", 300.0 + 40.0 * k)
        module.set_param("res", 0.3 + 0.6 * (k % 5) / 4)
    start = np.array([m._p.copy() for m in modules])
    inp = saws(chains, args.blocks * n)
    clock = time.thread_time_ns
    kernel = entry(fk.acid_mono)
    kernel(inp[0, :n].copy(), np.zeros(n), n, start[0].copy())  # compiled before taking entry
    kernel = entry(fk.acid_mono)

    def by_calls(states: FloatArray, x: FloatArray, y: FloatArray) -> None:
        for r in range(chains):
            kernel(x[r], y[r], n, states[r])

    ways = {"calls": by_calls, "one call": _batched(acid_rows, n),
            "interleaved": _batched(acid_rows_interleaved, n)}  # fmt: skip
    rows = [np.ascontiguousarray(start[r]) for r in range(chains)]  # own arrays, as modules
    took: dict[str, list[float]] = {name: [] for name in ways}
    results: dict[str, FloatArray] = {}
    states = {name: np.array(start) for name in ways}
    states["calls"] = rows  # type: ignore[assignment]
    outs = {name: np.zeros((chains, args.blocks * n)) for name in ways}
    x = np.zeros((chains, n))
    y = {name: np.zeros((chains, n)) for name in ways}
    for b in range(args.blocks):
        np.copyto(x, inp[:, b * n : (b + 1) * n])
        for name in sorted(ways, reverse=b % 2 == 1):  # in turn, the order swapped
            if b % NOTE_EVERY == 0:
                for p in states[name]:
                    p[fk.ACID_ENV] = 1.0
            began = clock()
            ways[name](states[name], x, y[name])
            took[name].append((clock() - began) / 1000.0)
            outs[name][:, b * n : (b + 1) * n] = y[name]
    for name, values in took.items():
        results[name] = outs[name]
        p50, p90 = np.percentile(values, [50, 90])
        figures[name] = {"p50": float(p50), "p90": float(p90)}
    base = figures["calls"]["p50"]
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{chains} acid ladders, blocks of {n}, {args.blocks} blocks, CPU time; load {load}")
    for name in ways:
        f = figures[name]
        print(f"  {name:<12} p50 {f['p50']:6.0f} µs, p90 {f['p90']:6.0f} "
              f"({f['p50'] / base:.2f}× the calls)")  # fmt: skip
    same = all(np.array_equal(results["calls"], r) for r in results.values())
    figures["same samples"] = same
    print(f"  the same samples every way: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("the ways rendered different samples")


def _batched(kernel: Any, n: int) -> Any:
    def run(states: FloatArray, x: FloatArray, y: FloatArray) -> None:
        kernel(x, y, n, states)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--block", type=int, default=128)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


if __name__ == "__main__":
    main()
