"""What one command costs a slot, against the size of the patch: it should not grow.

A `Renderer` (the slots' render path, in this process) holds N chains of saw → distortion →
acid (3 modules each, built as the language builds them, the cut route included), and then
each kind of command is applied `--trials` times, one at a time, between blocks, as a slot
applies them: create, connect, disconnect, remove, a parameter, a note, a pattern, an lfo
patched to a parameter, a tempo change. Each is timed with `perf_counter_ns` around
`Renderer._apply` (what a slot times for `max_apply_us`). Printed: per N and kind, the median
and the largest, in µs; `--json` prints the same as one JSON object.

    python benchmarks/commands.py [--sizes 0 32 128 341 600] [--trials 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.dsp.render import Renderer
from chronus.protocol import Message, validate

RATE = 48000
BLOCK = 128


def _chain(v: int) -> list[Message]:
    """What `add a saw called vN through an acid filter` + `vN through distortion` send."""
    return [
        validate("/patch/create", (f"v{v}", "saw")),
        validate("/patch/create", (f"acid{v}", "acid")),
        validate("/patch/connect", (f"v{v}", f"acid{v}")),
        validate("/patch/connect", (f"acid{v}", "master")),
        validate("/patch/create", (f"dist{v}", "distortion")),
        validate("/patch/disconnect", (f"v{v}", f"acid{v}")),
        validate("/patch/connect", (f"v{v}", f"dist{v}")),
        validate("/patch/connect", (f"dist{v}", f"acid{v}")),
    ]


def _kinds(i: int) -> list[tuple[str, list[Message]]]:
    """Trial `i` of each kind: (kind, the commands it needs, the last one timed)."""
    return [
        ("create saw", [validate("/patch/create", (f"t{i}", "saw"))]),
        ("create acid", [validate("/patch/create", (f"f{i}", "acid"))]),
        ("connect", [validate("/patch/connect", (f"t{i}", f"f{i}"))]),
        ("connect to master", [validate("/patch/connect", (f"f{i}", "master"))]),
        ("parameter", [validate(f"/mod/f{i}/cutoff", (500.0 + i,))]),
        ("note", [validate(f"/note/t{i}", (48, 100, 0.05))]),
        ("pattern", [validate(f"/seq/t{i}/pattern", ("c2 eb2 <g2 [bb2 c3]> c3*2",))]),
        (
            "lfo patched",
            [
                validate("/patch/create", (f"l{i}", "lfo")),
                validate("/patch/modulate", (f"l{i}", f"f{i}", "cutoff")),
            ],
        ),
        ("tempo", [validate("/tempo", (120.0 + i % 7,))]),
        ("disconnect", [validate("/patch/disconnect", (f"t{i}", f"f{i}"))]),
        ("remove", [validate("/patch/remove", (f"f{i}",))]),
    ]


def _timed(renderer: Renderer, message: Message) -> float:
    began = time.perf_counter_ns()
    renderer._apply(message, renderer.position)
    return (time.perf_counter_ns() - began) / 1000.0


def measure(size: int, trials: int) -> dict[str, dict[str, float]]:
    """Median and largest µs per kind of command, on a patch of `size` chains."""
    renderer = Renderer(RATE, BLOCK)
    renderer.warm_up()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for v in range(size):
        for message in _chain(v):
            renderer._apply(message, renderer.position)
        if v % 8 == 0:
            renderer.render(out, BLOCK)
    for _ in range(20):
        renderer.render(out, BLOCK)
    took: dict[str, list[float]] = {}
    step: Callable[[], None] = lambda: renderer.render(out, BLOCK)  # noqa: E731
    for i in range(trials):
        for kind, messages in _kinds(i):
            for message in messages[:-1]:
                renderer._apply(message, renderer.position)
            took.setdefault(kind, []).append(_timed(renderer, messages[-1]))
            step()
        for leftover in (f"t{i}", f"l{i}"):  # the patch keeps its size from trial to trial
            renderer._apply(validate("/patch/remove", (leftover,)), renderer.position)
    assert renderer.error_count == 0, list(renderer.errors)
    return {
        kind: {"median_us": round(statistics.median(v), 1), "max_us": round(max(v), 1)}
        for kind, v in took.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 32, 128, 341, 600])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {str(size): measure(size, args.trials) for size in args.sizes}
    if args.json:
        print(json.dumps(results))
        return
    kinds = list(next(iter(results.values())))
    print("chains (modules) | " + " | ".join(kinds))
    for size, row in results.items():
        cells = [f"{row[k]['median_us']:.0f} / {row[k]['max_us']:.0f}" for k in kinds]
        print(f"{size} ({3 * int(size)}) | " + " | ".join(cells))
    print("(µs: median / largest of each kind)")


if __name__ == "__main__":
    main()
