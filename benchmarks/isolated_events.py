"""What a note and a parameter change cost an isolated module: its calls with event rows.

    python benchmarks/isolated_events.py [--rounds 40] [--calls 200] [--json]

A stand-in of the built-in saw synth behind a private ring, its host (`HostServer`) stepped
in the same process after each call: the slot's side (`process`: offer the call, collect the
one before) and the host's side (`step`: replay the rows, render) timed per call, for calls
with no rows and calls each after a note and a parameter change (two rows). The two kinds
alternate round by round; medians of the rounds. In one process, so no wake-ups: what the
rows add, not what isolation costs (`isolated_hosts.py`, `isolated_engine.py`). Timings on a
shared machine are noisy: measure again on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from chronus.dsp.synth import SawSynth
from chronus.plugins.host import HostServer
from chronus.plugins.host_ring import HostRing, RingShape, SlotLink
from chronus.plugins.isolated import isolated_type, warm_stand_ins

RATE, BLOCK = 48000, 128


def measure(rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """Median µs per call, by the rows each call carried: the slot's side and the host's."""
    warm_stand_ins(RATE, BLOCK)
    stand_in = isolated_type(SawSynth)(RATE, BLOCK)
    ring = HostRing.private(RingShape(BLOCK, len(SawSynth.PARAMS)))
    host = HostServer(ring, SawSynth, RATE)
    host.start(1)
    stand_in.attach(SlotLink(ring, wait_s=0.0))
    out = np.zeros(BLOCK)
    slot: dict[int, list[float]] = {0: [], 2: []}
    hosted: dict[int, list[float]] = {0: [], 2: []}
    for index in range(rounds):
        for rows in (0, 2) if index % 2 else (2, 0):
            slot_ns = host_ns = 0
            for i in range(calls):
                if rows:
                    stand_in.note_on(48.0 + i % 12, 100.0, 600)
                    stand_in.set_param("cutoff", 500.0 + i % 7)
                began = time.perf_counter_ns()
                stand_in.process(out, BLOCK)
                slot_ns += time.perf_counter_ns() - began
                began = time.perf_counter_ns()
                host.step()
                host_ns += time.perf_counter_ns() - began
            slot[rows].append(slot_ns / calls / 1e3)
            hosted[rows].append(host_ns / calls / 1e3)
    return {
        f"{rows} rows": {
            "slot_us": statistics.median(slot[rows]),
            "host_us": statistics.median(hosted[rows]),
        }
        for rows in (0, 2)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.rounds, args.calls)
    if args.json:
        print(json.dumps(figures))
        return
    for kind, row in figures.items():
        print(f"{kind}: slot {row['slot_us']:.1f} µs/call, host {row['host_us']:.1f} µs/call")


if __name__ == "__main__":
    main()
