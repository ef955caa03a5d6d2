"""What the sequencer costs per block, with 16 busy tracks, and what a new pattern costs.

Drives a `Sequencer` exactly as the renderer does (one `next_sample` check per block, `fire`
when due) with a performer that does nothing, so only the sequencer's own work is timed.

A new pattern is parsed by the engine's supervisor and loaded by each slot from the tables it
prepared (`chronus/engine/prepared.py`); before that, the slot parsed it in the block it
arrived in. `--patterns N` times taking a new pattern at once for N random patterns the
notation accepts (nested groups, chords, alternations, repeats, Euclid, velocities; fixed
seed), both ways alternated: parsed afresh, and loaded from its prepared bytes.

`--busy N` does it on a real `Renderer` (a saw playing a pattern) for N busy patterns of a
few hundred characters (`tests/busy_patterns.py`): the render path's part of a pattern change
in the block it arrives in (the slot's load from the prepared tables plus the command's
apply) and in the block of the bar line where it takes effect (the sequencer's work there),
against a parameter change. `--code DIR` runs the busy measurement in another source tree
too (e.g. an export of the commit before this change), in subprocesses alternated with this
tree's; a tree without prepared patterns is measured parsing in the block. Both new-pattern
measurements count the thread's CPU time (`time.thread_time_ns`), so that a shared machine's
preemptions do not land in them.

    python benchmarks/sequencer.py [--seconds 60] [--tracks 16] [--patterns 3000]
    python benchmarks/sequencer.py --seconds 0 --patterns 0 --busy 100 --code /tmp/before
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see --code

from figures import add_json_flag, figures_out

from chronus.dsp.render import Renderer
from chronus.protocol import Message, validate
from chronus.seq import notation
from chronus.seq.notation import PatternError, parse
from chronus.seq.sequencer import Sequencer

try:
    from chronus.seq.pattern import Pattern
except ImportError:  # a tree from before prepared patterns: the slot parses in the block
    Pattern = None  # type: ignore[assignment,misc]

HERE = str(Path(__file__).resolve().parent.parent)
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


def _forget() -> None:
    """Empty the parsed-pattern cache (its name changed with prepared patterns)."""
    clear = getattr(notation, "clear_cache", None)
    if clear is None:
        clear = notation.parse_cached.cache_clear  # type: ignore[attr-defined]
    clear()


def _load(data: bytes) -> None:
    """What a slot does for a prepared pattern before the block: load it, remember it."""
    notation.remember(Pattern.from_bytes(data))


def new_pattern_cost(count: int) -> tuple[dict[str, np.ndarray], str]:
    """µs to take a new pattern at once, parsed afresh and loaded from its prepared bytes
    (alternated), for the random patterns that parse."""
    rng = random.Random(20261122)
    nothing = Nothing()
    seq = Sequencer(RATE)
    seq.start(0)
    costs: dict[str, list[float]] = {"parsed": [], "prepared": []}
    worst, worst_text = 0.0, ""
    for _ in range(count):
        text = " ".join(random_pattern(rng) for _ in range(rng.randint(4, 16)))[:512]
        try:
            data = parse(text).to_bytes()
        except PatternError:
            continue
        for mode in ("parsed", "prepared"):
            _forget()
            t0 = time.thread_time_ns()
            if mode == "prepared":
                _load(data)
            seq.track_message("t", "pattern", (text, 1), 0, nothing)
            cost = (time.thread_time_ns() - t0) / 1e3
            costs[mode].append(cost)
            if mode == "parsed" and cost > worst:
                worst, worst_text = cost, text
            seq.track_message("t", "clear", (), 0, nothing)
    return {mode: np.array(c) for mode, c in costs.items()}, worst_text


class _Timed:
    """Wraps a renderer's sequencer `fire` to time the calls in one block."""

    def __init__(self, renderer: Renderer) -> None:
        self.fire = renderer.sequencer.fire
        self.spent = 0
        renderer.sequencer.fire = self  # type: ignore[method-assign]

    def __call__(self, sample: int, performer: Any) -> None:
        t0 = time.thread_time_ns()
        self.fire(sample, performer)
        self.spent += time.thread_time_ns() - t0


def busy_change_cost(texts: list[str], seed: int) -> dict[str, list[float]]:
    """µs of the render path's work for a busy pattern change and for a parameter change:
    in the block the command arrives in, and at the bar line where the pattern takes over."""
    modes = ("parsed", "prepared") if Pattern is not None else ("parsed",)
    out: dict[str, list[float]] = {f"{m}_{w}": [] for m in modes for w in ("arrive", "bar")}
    out["param_arrive"] = []
    rng = random.Random(seed)
    for text in texts:
        data = parse(text).to_bytes() if Pattern is not None else b""
        for mode in (*modes, "param"):
            renderer = Renderer(RATE, BLOCK)
            for message in (
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
                validate("/seq/bass/pattern", ("c2 eb2 g2 c3",)),
            ):
                renderer.schedule(0, message)
            block = np.zeros((BLOCK, 2), dtype=np.float32)
            while renderer.position < rng.randrange(RATE // 2, 2 * RATE):  # somewhere in a bar
                renderer.render(block, BLOCK)
            timed = _Timed(renderer)
            message: Message
            if mode == "param":
                message = validate("/mod/bass/cutoff", (rng.uniform(200.0, 4000.0),))
            else:
                message = validate("/seq/bass/pattern", (text,))
            _forget()
            gc.collect()  # as a slot keeps its garbage frozen: time the work, not a collection
            t0 = time.thread_time_ns()
            if mode == "prepared":
                _load(data)
            renderer._apply(message, renderer.position)  # what `render` does first in the block
            out[f"{mode}_arrive"].append((time.thread_time_ns() - t0) / 1e3)
            if mode == "param":
                continue
            track = renderer.sequencer.tracks["bass"]
            while renderer.position + BLOCK <= track.pending_sample:
                renderer.render(block, BLOCK)
            timed.spent = 0
            gc.collect()
            renderer.render(block, BLOCK)  # the block with the bar line
            out[f"{mode}_bar"].append(timed.spent / 1e3)
            assert track.config.pattern is not None and track.config.pattern.text == text
    return out


def _busy_in(tree: str, texts: list[str], seed: int) -> dict[str, list[float]]:
    if tree == HERE:
        return busy_change_cost(texts, seed)
    command = [sys.executable, __file__, "--busy-json", "--seed", str(seed)]
    env = {**os.environ, "PYTHONPATH": tree}  # its chronus; the texts come on stdin
    done = subprocess.run(
        command, env=env, input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def busy_report(count: int, seed: int, code: str, rounds: int) -> None:
    from tests.busy_patterns import busy_patterns

    trees = [HERE] + ([os.path.abspath(code)] if code else [])
    results: dict[str, dict[str, list[float]]] = {tree: {} for tree in trees}
    per_round = max(1, count // rounds)
    for r in range(rounds):
        texts = busy_patterns(per_round, seed + r)
        for tree in trees if r % 2 == 0 else trees[::-1]:
            for key, values in _busy_in(tree, texts, seed + r).items():
                results[tree].setdefault(key, []).extend(values)
    print(f"busy pattern changes ({per_round * rounds} patterns), µs in the render path:")
    for tree in trees:
        label = "this tree" if tree == HERE else tree
        for key, values in sorted(results[tree].items()):
            p = np.percentile(values, [50, 99])
            print(
                f"  {label:10s} {key:16s} median {statistics.median(values):8.1f} | "
                f"p99 {p[1]:8.1f} | max {max(values):8.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--patterns", type=int, default=3000)
    parser.add_argument("--busy", type=int, default=0, help="busy pattern changes to time")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=4, help="alternations with --code")
    parser.add_argument("--code", default="", help="another source tree to time --busy in")
    parser.add_argument("--busy-json", action="store_true", help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args()
    if args.busy_json:
        print(json.dumps(busy_change_cost(json.loads(sys.stdin.read()), args.seed)))
        return
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Print what `args` asks for; the per-block cost goes into `figures` (µs and %)."""
    if args.busy:
        busy_report(args.busy, args.seed, args.code, args.rounds)
    if not args.seconds:
        return
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
    figures.update(
        tracks=args.tracks, seconds=args.seconds, events=events, budget_us=budget_us,
        mean_us=float(times.mean()), p99_us=float(np.percentile(times, 99)),
        max_us=float(times.max()), event_blocks=len(busy),
        event_block_mean_us=float(busy.mean()) if len(busy) else 0.0,
    )  # fmt: skip
    if args.patterns:
        costs, worst = new_pattern_cost(args.patterns)
        for mode, c in costs.items():
            print(
                f"  a new pattern taken at once, {mode} ({len(c)} random patterns that parse): "
                f"p50 {np.percentile(c, 50):.0f} | p99 {np.percentile(c, 99):.0f} "
                f"| max {c.max():.0f} µs"
            )
        print(f"  the slowest to parse: {worst}")


if __name__ == "__main__":
    main()
