"""Busy pattern changes on a live engine: what they cost the slots, and underruns.

Boots a real engine (null backend by default), builds `--tracks` saws each through an acid
filter playing a busy pattern, then sends `--per-second` changes a second for `--seconds`,
round robin over the tracks: other busy valid patterns of a few hundred characters
(`tests/busy_patterns`, fixed seed, each one new to the slots; a quarter of them `now`, the
rest on the next bar line) in `patterns` mode, or parameter sets (`/mod/<id>/cutoff`) in
`params` mode, the reference a pattern change should cost no more than (the same busy
patterns play in both modes until the changes begin).
Reads `/engine/status` every half second: the slots' render times (each block's, commands
applied in it included; the window holds the last 1,024 blocks), `max_cycle_us` /
`max_command_us` (the status's `max_drain_us`, `max_command_us` in older trees; since the slot
started), the patterns a slot had to parse in a block for
want of a prepared one (-1 each where the status has no such field), and underruns.

`--code DIR` runs another source tree (e.g. an export of the commit before this change) in
runs alternated with this one, so that both see the same machine:

    git archive <commit> | tar -x -C /tmp/before
    python benchmarks/pattern_changes.py --mode both --code /tmp/before --runs 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate
from tests.busy_patterns import busy_patterns

HERE = str(Path(__file__).resolve().parent.parent)


def _build(client: EngineClient, tracks: int, patterns: list[str]) -> None:
    messages: list[Message] = []
    for i in range(tracks):
        messages += [
            validate("/patch/create", (f"v{i}", "saw")),
            validate(f"/mod/v{i}/volume", (-18.0,)),
            validate("/patch/create", (f"f{i}", "acid")),
            validate("/patch/connect", (f"v{i}", f"f{i}")),
            validate("/patch/connect", (f"f{i}", "master")),
            validate(f"/seq/v{i}/pattern", (patterns[i % len(patterns)],)),
        ]
    messages.append(validate("/seq/start", ()))
    client.send(messages)
    _, notes = client.sync(10.0)
    if any(reply[0] == "/error" for reply in notes):
        raise SystemExit(f"the patch was refused: {notes}")


def _change(i: int, tracks: int, mode: str, patterns: list[str], rng: random.Random) -> Message:
    track = f"v{i % tracks}"
    if mode == "params":
        return validate(f"/mod/f{i % tracks}/cutoff", (rng.uniform(200.0, 4000.0),))
    now = 1 if i % 4 == 3 else 0  # a quarter of them at once, the rest on the next bar line
    text = patterns[(tracks + i) % len(patterns)]  # not one a slot has seen (and cached)
    return validate(f"/seq/{track}/pattern", (text, now))


def _render_max(status: dict[str, Any]) -> float:
    return max((float(s["render"]["max_us"]) for s in status["slots"]), default=0.0)


def one_run(code: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {"PYTHONPATH": code, "PYTHONSAFEPATH": "1"}  # not this directory's chronus first
    engine = EngineProcess(port=0, backend=args.backend, env=env).boot()
    try:
        count = round(args.seconds * args.per_second)
        patterns = busy_patterns(args.patterns or count + args.tracks, seed=args.seed)
        with engine.client() as client:
            _build(client, args.tracks, patterns)
            time.sleep(3.5)  # the render window (2.7 s) past the build: steady blocks only
            before = client.status()
            rng = random.Random(args.seed)
            began = time.monotonic()
            next_poll = began + 0.5
            render_max = _render_max(before)
            steady_max = render_max
            for i in range(count):
                due = began + i / args.per_second
                while (now := time.monotonic()) < due:
                    if now >= next_poll:
                        render_max = max(render_max, _render_max(client.status()))
                        next_poll += 0.5
                    time.sleep(min(0.002, max(0.0, due - time.monotonic())))
                client.send([_change(i, args.tracks, mode, patterns, rng)])
            time.sleep(4.5)  # a pattern change waits for its bar line (2 s at 120 bpm)
            after = client.status()
            render_max = max(render_max, _render_max(after))
            _, notes = client.sync()
        engine.quit()
    finally:
        engine.kill()
    slots = after["slots"]
    return {
        "underruns": after["io"]["underruns"] - before["io"]["underruns"],
        "steady_max_us": steady_max,
        "render_max_us": render_max,
        "render_p99_us": max(float(s["render"]["p99_us"]) for s in slots),
        "max_cycle_us": max(float(s["max_cycle_us"]) for s in slots),
        "max_command_us": max(
            float(s.get("max_drain_us", s.get("max_command_us", -1))) for s in slots
        ),
        "parsed_in_block": sum(int(s.get("patterns_parsed", -1)) for s in slots),
        "errors": sum(1 for reply in notes if reply[0] == "/error"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    parser.add_argument("--mode", default="patterns", choices=("patterns", "params", "both"))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--per-second", type=float, default=25.0)
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument(
        "--patterns", type=int, default=0, help="distinct patterns (default: one per change)"
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--code", default="", help="another source tree, in alternated runs")
    add_json_flag(parser)
    args = parser.parse_args()
    trees = [HERE] + ([os.path.abspath(args.code)] if args.code else [])
    modes = ["patterns", "params"] if args.mode == "both" else [args.mode]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with figures_out(args.json) as figures:
        print(
            f"{args.per_second:g} changes/s for {args.seconds:g} s over {args.tracks} tracks "
            f"({args.backend} backend), {args.runs} run(s) each, alternated"
        )
        for _ in range(args.runs):
            for mode in modes:
                for tree in trees:
                    result = one_run(tree, mode, args)
                    results.setdefault((tree, mode), []).append(result)
                    label = "this tree" if tree == HERE else tree
                    print(f"  {mode:8s} {label}: {result}", flush=True)
        print("medians:")
        for (tree, mode), runs in results.items():
            label = "this tree" if tree == HERE else tree
            keys = runs[0].keys()
            medians = {k: statistics.median(float(r[k]) for r in runs) for k in keys}
            print(f"  {mode:8s} {label}: " + ", ".join(f"{k} {v:g}" for k, v in medians.items()))
            figures[f"{mode} {label}"] = runs
        figures["setup"] = {
            "backend": args.backend, "seconds": args.seconds, "per_second": args.per_second,
            "tracks": args.tracks, "runs": args.runs,
        }  # fmt: skip


if __name__ == "__main__":
    main()
