"""What the shell's pictures cost to draw, for a big patch.

    python benchmarks/views.py [--chains 64] [--rounds 30] [--seconds 5]

A patch of `--chains` chains (a saw through an acid filter and a delay, each saw playing its
own 16-step pattern with an alternation and a lane, the first one modulated by an lfo) is
built by the language into a dump shaped as `/engine/dump` gives it. Each picture is drawn
`--rounds` times after one warm-up, timed in CPU time (`process_time`, so that the others'
load on a shared machine stays out): `show patch` (the tree, to text), `show patterns` (the
grid at a beat, every row, to text), one frame of the live grid (as `show patterns` redraws
it while it plays, in a terminal 100 × 40, as lines of ANSI text) and `show <module>` (the
bars, to text). Then the live view itself runs for `--seconds` (drawing to a dummy terminal,
the beat moving with the clock):
its share of a core is the process's CPU time over that time. No engine is involved (the
beat comes from a clock here; from `EngineClient.now()` in the shell). Target (issue 16):
readable and fast at 64 chains; the live view under 1 % of a core.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from figures import add_json_flag, figures_out
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.lang.interpreter import Interpreter
from chronus.shell.live import REFRESH, ansi_lines, watch
from chronus.shell.pictures import module_bars, patch_tree, pattern_grid, render

NOTES = ("c2", "eb2", "g2", "bb2", "c3", "f2", "ab2", "d3")


def big_patch(chains: int) -> dict[str, Any]:
    """A dump of `chains` playing chains."""
    interpreter = Interpreter()
    lines = ["tempo 128"]
    for n in range(chains):
        a, b, c = NOTES[n % 8], NOTES[(n + 3) % 8], NOTES[(n + 5) % 8]
        lines += [
            f"add a saw called s{n} through an acid filter then delay",
            f"play {a} . {b} <{c} {a}> {a} . [{b} {c}] . {a} {b} . {c} {a} . {b} . "
            f"every 16th on s{n}",
            f"lane s{n} cutoff 400 800 . 1600 1200",
        ]
    lines.append("lfo on s0 cutoff at 1/8 depth 50%")
    for line in lines:
        result = interpreter.interpret(line)
        if not result.ok:
            raise SystemExit(f"{line}: {result.error and result.error.render()}")
    return interpreter.context.to_dump()


def timed(draw: Any, rounds: int) -> list[float]:
    """CPU milliseconds of this process for each of `rounds` calls of `draw`, after one
    warm-up (CPU time, not wall time: on a shared machine the others' load stays out)."""
    draw()
    out = []
    for _ in range(rounds):
        start = time.process_time()
        draw()
        out.append(1000 * (time.process_time() - start))
    return out


def live_share(dump: dict[str, Any], seconds: float) -> float:
    """The share of a core the live view takes, drawing `dump` to a dummy terminal."""
    start = time.monotonic()

    def frame(width: int, height: int) -> list[str]:
        beat = 2 * (time.monotonic() - start)  # 120 bpm
        return ansi_lines(pattern_grid(dump, beat, True, width, height), width)

    with create_pipe_input() as pipe:
        runner = threading.Thread(target=watch, args=(frame, pipe, DummyOutput()))
        runner.start()
        time.sleep(1.0)  # the application up and drawing
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        pipe.send_text("q")
        runner.join(5)
    return cpu / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        dump = big_patch(args.chains)
        cases = {
            "patch_tree": lambda: render(patch_tree(dump), 100),
            "grid_frame": lambda: render(pattern_grid(dump, 37.3, True, 100), 100, True),
            "live_frame": lambda: ansi_lines(pattern_grid(dump, 37.3, True, 100, 40), 100),
            "module_bars": lambda: render(module_bars(dump, "s0"), 100),
        }
        tree_lines = render(patch_tree(dump), 100).count("\n") + 1
        grid_lines = render(pattern_grid(dump, 37.3, False, 100), 100).count("\n") + 1
        print(f"{args.chains} chains, {len(dump['modules'])} modules, {len(dump['tracks'])} tracks")
        print(f"  show patch: {tree_lines} lines; show patterns: {grid_lines} lines")
        print(f"  {'picture':<14}{'median ms':>10}{'max ms':>9}   ({args.rounds} rounds)")
        for name, draw in cases.items():
            times = timed(draw, args.rounds)
            print(f"  {name:<14}{statistics.median(times):>10.1f}{max(times):>9.1f}")
            figures[f"{name}_ms"] = statistics.median(times)
        share = figures["live_frame_ms"] / (1000 * REFRESH)
        print(f"  live grid: one frame every {REFRESH:g} s costs {100 * share:.1f} % of a core")
        whole = live_share(dump, args.seconds)
        print(f"  the live view running {args.seconds:g} s: {100 * whole:.1f} % of a core")
        figures.update(chains=args.chains, frame_cpu_share=share, live_cpu_share=whole)


if __name__ == "__main__":
    main()
