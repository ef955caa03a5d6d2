"""The command language's speed: grammar load at start-up, and parse + resolve + map per line.

    python benchmarks/lang_parse.py [--loads 15] [--rounds 20]

Load: a fresh `python` process imports `chronus.lang` and gets the LALR parser (the tables
built for the shipped grammar, from `grammar/tables`, or from ~/.cache/chronus, or built the
first time); the time is taken inside the child from before the import to after the parser
is ready, so interpreter start-up is left out. "First line" adds interpreting one line.
Median of `--loads` runs, each with an empty cache folder (a fresh install's first start);
building the tables from the grammar is timed apart.

Per line: every line of `tests/lang/corpus.txt`, replayed block by block with its shared
context as the test does, `--rounds` times after one warm-up pass; each `interpret()` call
(parse → intents → resolve against the context → canonical OSC, or a friendly error) is
timed with `perf_counter_ns`. A line the grammar rejects goes on to the frame reader, which
reads it from known words and tries its readings on a copy of the patch: such lines are
counted apart, as "read by the frame reader" when a reading ran and among the errors when
it offered commands or refused. Targets (issues 5 and 14): p99 < 1 ms per line over the
whole corpus, the frame reader included; load < 200 ms (issue 14: parser ready < 100 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import add_json_flag, figures_out

from chronus.lang.interpreter import Interpreter

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "lang" / "corpus.txt"

CHILD = """
import json, time
t0 = time.perf_counter()
from chronus.lang.parser import load_parser
load_parser()
t1 = time.perf_counter()
from chronus.lang.interpreter import Interpreter
Interpreter().interpret("add a saw bass through an acid filter; play c3 for 1 beat")
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "first": t2 - t0}))
"""

BUILD = """
import json, time
from chronus.lang.parser import _build, grammar_text
text = grammar_text()
t0 = time.perf_counter()
_build(text)
print(json.dumps({"load": time.perf_counter() - t0}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def blocks() -> list[list[str]]:
    """The corpus as blocks of input lines (setups and cases alike), in order."""
    out: list[list[str]] = [[]]
    for line in CORPUS.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            if out[-1]:
                out.append([])
            continue
        if line.startswith("#"):
            continue
        text = line[2:] if line.startswith("> ") else line.split(" => ")[0].split(" !! ")[0]
        out[-1].append(text)
    return [block for block in out if block]


def time_lines(rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Microseconds per line: (lines the grammar maps to OSC, lines the frame reader read,
    lines that fail)."""
    ok: list[float] = []
    read: list[float] = []
    failed: list[float] = []
    corpus = blocks()
    for round_ in range(rounds + 1):
        for block in corpus:
            interpreter = Interpreter()
            for text in block:
                start = time.perf_counter_ns()
                result = interpreter.interpret(text)
                elapsed = (time.perf_counter_ns() - start) / 1000
                if round_:  # round 0 warms up (example table, caches)
                    kind = (read if result.read_as else ok) if result.ok else failed
                    kind.append(elapsed)
    return ok, read, failed


def time_loads(runs: int) -> tuple[list[float], list[float], float]:
    """Milliseconds: (grammar load, load + first line) of `runs` fresh processes, each with
    an empty cache folder, and the time to build the tables from the grammar.

    The children may write bytecode (as an installed package has it) even where this
    process was told not to.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    loads: list[float] = []
    firsts: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as empty:
            out = subprocess.run(
                [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True,
                env={**env, "XDG_CACHE_HOME": empty},
            )  # fmt: skip
        data = json.loads(out.stdout)
        loads.append(data["load"] * 1000)
        firsts.append(data["first"] * 1000)
    out = subprocess.run(
        [sys.executable, "-c", BUILD], capture_output=True, text=True, check=True, env=env
    )
    return loads, firsts, json.loads(out.stdout)["load"] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15, help="fresh processes (default 15)")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the corpus")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, float]) -> None:
    """Time and print; the medians of the loads (ms) and the per-line percentiles (µs) of all
    lines go into `figures`."""
    loads, firsts, build = time_loads(args.loads)
    ok, read, failed = time_lines(args.rounds)
    every = ok + read + failed
    print(f"grammar load, fresh process (median of {args.loads}):")
    print(f"  import + parser ready        {statistics.median(loads):7.1f} ms   (target < 100 ms)")
    print(f"  + first line interpreted     {statistics.median(firsts):7.1f} ms")
    print(f"  building the tables instead  {build:7.1f} ms   (a grammar or lark not shipped)")
    print(f"parse + resolve + map per line ({args.rounds} rounds of {CORPUS.name}):")
    print(f"  {'lines':<14}{'count':>7}{'p50 µs':>9}{'p99 µs':>9}{'max µs':>9}")
    groups = (("mapped to OSC", ok), ("frame reader", read), ("errors", failed), ("all", every))
    for name, values in groups:
        print(
            f"  {name:<14}{len(values):>7}{percentile(values, 50):>9.0f}"
            f"{percentile(values, 99):>9.0f}{max(values):>9.0f}"
        )
    figures.update(
        load_ms=statistics.median(loads), first_line_ms=statistics.median(firsts),
        build_ms=build, lines=len(every), p50_us=percentile(every, 50),
        p99_us=percentile(every, 99), max_us=max(every),
        read_p99_us=percentile(read, 99), errors_p99_us=percentile(failed, 99),
    )  # fmt: skip
    verdict = "met" if percentile(every, 99) < 1000 else "MISSED"
    print(f"target p99 < 1000 µs per line: {verdict}")


if __name__ == "__main__":
    main()
