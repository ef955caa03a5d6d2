"""What the sequencer costs per block, with 16 busy tracks, against the block's time budget.

Drives a `Sequencer` exactly as the renderer does (one `next_sample` check per block, `fire`
when due) with a performer that does nothing, so only the sequencer's own work is timed; and,
for the whole picture, renders the same 16 tracks on real modules with and without the
sequencer's part (the same notes stamped by hand).

    python benchmarks/sequencer.py [--seconds 60] [--tracks 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from chronus.protocol import validate
from chronus.seq.sequencer import Sequencer

RATE = 48000
BLOCK = 128
PATTERNS = (
    "c2 eb2 g2 c3 <bb2 [g2 f2]> c3*2 . eb2",
    "x . . . x . . . x . . . x . x .",
    "[x x] x(3,8) <x X>",
    "[c3,eb3,g3] . [c3,f3,ab3] .",
)


class Nothing:
    """A performer that plays nothing."""

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        pass

    def release(self, module_id: str) -> None:
        pass

    def set_param(self, module_id: str, param: str, value: float) -> None:
        pass

    def set_tempo(self, bpm: float) -> None:
        pass


def sequencer_only(seconds: float, tracks: int) -> tuple[np.ndarray, int]:
    seq = Sequencer(RATE)
    nothing = Nothing()
    for i in range(tracks):
        message = validate(f"/seq/t{i}/pattern", (PATTERNS[i % len(PATTERNS)],))
        seq.track_message(f"t{i}", "pattern", message.args, 0, nothing)
        if i % 3 == 0:
            seq.track_message(f"t{i}", "swing", (0.2,), 0, nothing)
        if i % 4 == 1:
            seq.track_message(f"t{i}", "lane", ("cutoff", "300 600 . 1200 2400"), 0, nothing)
    blocks = int(seconds * RATE / BLOCK)
    times = np.zeros(blocks)
    clock = time.perf_counter_ns
    for k in range(blocks):
        t0 = clock()
        done, end = k * BLOCK, (k + 1) * BLOCK
        while seq.next_sample < end:  # the renderer's loop, without the graph
            done = max(done, seq.next_sample)
            seq.fire(done, nothing)
        times[k] = clock() - t0
    return times / 1e3, seq.events_fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tracks", type=int, default=16)
    args = parser.parse_args()
    budget_us = 1e6 * BLOCK / RATE
    sequencer_only(2.0, args.tracks)  # warm caches
    times, events = sequencer_only(args.seconds, args.tracks)
    busy = times[times > np.median(times) * 3]
    print(
        f"{args.tracks} tracks, {args.seconds:g} s of audio, {events} events, "
        f"{len(times)} blocks of {BLOCK} at {RATE} Hz (budget {budget_us:.0f} µs)"
    )
    print(
        f"  per block: mean {times.mean():.2f} µs = {100 * times.mean() / budget_us:.3f} % "
        f"| p50 {np.percentile(times, 50):.2f} | p99 {np.percentile(times, 99):.1f} "
        f"| max {times.max():.0f} µs"
    )
    later = times[int(2 * RATE / BLOCK) :]
    print(
        f"  after the first 2 s (every cycle seen once): p99.9 {np.percentile(later, 99.9):.1f} "
        f"| max {later.max():.0f} µs"
    )
    print(
        f"  blocks with an event: {len(busy)}; their mean {busy.mean() if len(busy) else 0:.1f} µs "
        f"= {100 * (busy.mean() if len(busy) else 0) / budget_us:.2f} % of a block"
    )


if __name__ == "__main__":
    main()
