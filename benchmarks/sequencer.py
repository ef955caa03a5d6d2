"""What the sequencer costs per block, with 16 busy tracks, against the block's time budget.

Drives a `Sequencer` exactly as the renderer does (one `next_sample` check per block, `fire`
when due) with a performer that does nothing, so only the sequencer's own work is timed; and,
for the whole picture, renders the same 16 tracks on real modules with and without the
sequencer's part (the same notes stamped by hand).

A new pattern costs its parse and its first cycle in the block it arrives in, in both slots;
`--patterns N` times that for N random patterns the notation accepts (nested groups, chords,
alternations, repeats, Euclid, velocities; fixed seed), each parsed afresh.

    python benchmarks/sequencer.py [--seconds 60] [--tracks 16] [--patterns 3000]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from chronus.protocol import validate
from chronus.seq.notation import PatternError, parse_cached
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


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    """One element of a random pattern; `depth` bounds the nesting."""
    r = rng.random()

    def group(opener: str, sep: str, closer: str, most: int) -> str:
        items = (random_pattern(rng, depth + 1) for _ in range(rng.randint(2, most)))
        return opener + sep.join(items) + closer

    if depth > 3 or r < 0.4:
        text = rng.choice(("c3", "e3", "g3", "b3", "d4", "x", ".", "X", "c2:80"))
    elif r < 0.6:
        text = group("[", " ", "]", 5)
    elif r < 0.75:
        text = group("<", " ", ">", 7)
    elif r < 0.85:
        text = group("[", ",", "]", 4)
    else:
        text = f"x({rng.randint(1, 7)},{rng.randint(8, 16)})"
    return text + (f"*{rng.randint(2, 8)}" if rng.random() < 0.2 else "")


def new_pattern_cost(count: int) -> tuple[np.ndarray, str]:
    """µs to take a new pattern at once (parse + first cycle), for patterns that parse."""
    rng = random.Random(20261122)
    nothing = Nothing()
    seq = Sequencer(RATE)
    seq.start(0)
    costs, worst, worst_text = [], 0.0, ""
    for _ in range(count):
        text = " ".join(random_pattern(rng) for _ in range(rng.randint(4, 16)))[:512]
        parse_cached.cache_clear()
        t0 = time.perf_counter_ns()
        try:
            seq.track_message("t", "pattern", (text, 1), 0, nothing)
        except PatternError:
            continue
        cost = (time.perf_counter_ns() - t0) / 1e3
        costs.append(cost)
        if cost > worst:
            worst, worst_text = cost, text
        seq.track_message("t", "clear", (), 0, nothing)
    return np.array(costs), worst_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--patterns", type=int, default=3000)
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
    if args.patterns:
        costs, worst = new_pattern_cost(args.patterns)
        print(
            f"  a new pattern, parsed afresh and its first cycle placed ({len(costs)} random "
            f"patterns that parse): p50 {np.percentile(costs, 50):.0f} | p99 "
            f"{np.percentile(costs, 99):.0f} | max {costs.max():.0f} µs\n  the slowest: {worst}"
        )


if __name__ == "__main__":
    main()
