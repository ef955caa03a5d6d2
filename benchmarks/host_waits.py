"""What late hosts cost a slot: its time in the rings per block, each ring waiting on its own
against one `WaitBudget` for all of them.

    python benchmarks/host_waits.py --modules 4 --blocks 40

One process plays a slot: each period (128 frames at 48 kHz, 2.67 ms) it offers call *k* to
each of `--modules` rings and collects call *k* − 1, as a stand-in does. No host renders:
each ring's header says its host is in step on the call collected (alive, done with the
call before), the case in which a slot waits (`SlotLink.collect`) — a machine that held
every host off the CPU for a while — for `--blocks` periods, each ring waiting on its own
then all sharing one budget, alternated for `--rounds`. Reported per mode and round: the
slot's time in the rings per block (p50, max, the first block's), the blocks in which it
passed the period, and the calls that waited. The process plays at a slot's priority
(SCHED_FIFO 60, where it may). Timings on a shared machine are noisy: the lead measures
again on a quiet one.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import add_json_flag, figures_out

from chronus.engine.lifecycle import try_realtime
from chronus.engine.slot import SLOT_PRIORITY
from chronus.plugins.host_ring import H, HostRing, RingShape, SlotLink
from chronus.plugins.wait_budget import WaitBudget

FRAMES, RATE = 128, 48000
PERIOD_S = FRAMES / RATE


def play(modules: int, blocks: int, shared: bool) -> dict[str, Any]:
    """`blocks` periods of a slot with `modules` rings whose hosts are all late."""
    budget = WaitBudget() if shared else None
    rings = [HostRing.private(RingShape(FRAMES, 1)) for _ in range(modules)]
    links = [SlotLink(ring, budget=budget) for ring in rings]
    block, params = np.zeros((FRAMES, 2)), np.zeros(1)
    fifo = np.zeros((4 * FRAMES, 2))
    times: list[float] = []
    for ring in rings:
        ring.header[H.HOST_PID] = 1
    start = time.perf_counter()
    for k in range(1, blocks + 1):
        began = time.perf_counter()
        for ring, link in zip(rings, links, strict=True):
            ring.header[H.HOST_DONE] = k - 2  # in step on call k - 1, never done
            link.submit(k, block, params, FRAMES)
            link.collect(k - 1, fifo, 0, FRAMES)
        took = time.perf_counter() - began
        times.append(took)
        next_at = start + k * PERIOD_S
        time.sleep(max(0.0, next_at - time.perf_counter()))
    waits = sum(int(ring.header[H.HOST_WAITS]) for ring in rings)
    return {
        "p50_ms": round(1000 * statistics.median(times), 3),
        "max_ms": round(1000 * max(times), 3),
        "first_ms": round(1000 * times[0], 3),
        "over_the_period": sum(1 for t in times if t > PERIOD_S),
        "calls_that_waited": waits,
        "calls": modules * blocks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=40, help="blocks with every host late")
    parser.add_argument("--rounds", type=int, default=3)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        realtime = try_realtime(SLOT_PRIORITY)
        play(args.modules, 2, shared=True)  # the ring's kernels loaded before any timing
        rounds: dict[str, list[dict[str, Any]]] = {"each ring alone": [], "one budget": []}
        for _ in range(args.rounds):
            rounds["each ring alone"].append(play(args.modules, args.blocks, shared=False))
            rounds["one budget"].append(play(args.modules, args.blocks, shared=True))
        for mode, results in rounds.items():
            print(f"{mode}: {args.modules} late hosts, {args.blocks} blocks a round")
            for result in results:
                print(f"  {result}")
        print(f"(SCHED_FIFO {SLOT_PRIORITY}: {realtime})")
        figures.update(modules=args.modules, blocks=args.blocks, realtime=realtime, rounds=rounds)


if __name__ == "__main__":
    main()
