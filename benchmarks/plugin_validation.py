"""Validating a user module in the sandbox: its latency in a warm pool, and what the sandbox
adds to the checks.

    python benchmarks/plugin_validation.py [--runs 50] [--pause 0.2] [--module PATH] [--json]
    python benchmarks/plugin_validation.py --baseline OLD_TREE [--runs 30]

The module: by default `tests/plugins/faulty/good_kernel.py`, a typical user module (a
wavefolder on a numba kernel with `cache=True`, a DC blocker whose memory is state, dual
mono), copied into a temporary folder so that its numba cache lands there. One validation
before the timed ones compiles and caches its kernel, as the first validation of each
version of a module does; it is not counted.

Latency: `SandboxPool(workers=1)`, started and warm, `validate()` timed in the caller from
the call to the result: the request down the pipe to the warm worker, to its spare child
(forked and rehearsed while idle), the OS limits, the import, every check, the second
render in another child (the twin, at the same time) that is compared with the first
(`cross_process`), the answer back. Median and p90 of `--runs`, each after
an idle `--pause` (validations come one at a time, when a musician loads or reloads a
module: the worker uses the pause to fork and rehearse the children for the next one).
Target (issue 15): median < 100 ms. Back to back (`--pause 0`) a validation also waits for
those children.

Overhead: the same checks (`run_checks`, same settings, without the second process, which
only the sandbox has) four ways, alternated run by run, against two baselines in this
process (which has imported what a worker has: numpy, numba, chronus.dsp):

- in-process, re-imported: the file imported afresh under the same plugin name each run
  (its kernel loaded from numba's disk cache again, into a process that has loaded it
  before: what `run_checks` costs once the process has seen the module);
- in-process, first import: a copy of the file in a folder of its own under a new plugin
  name each run (`typical_0`, `typical_1`…; their kernels compiled and cached in a fork
  before the timed runs), so each run imports a module this process never had and loads
  its kernel from the cache as a first load does: what validating a file the user just
  named costs without any isolation;
- in a plain fork of this process (no limits, no rehearsal), the same file as the sandbox;
- `validate()` in the pool.

The hand-off: a file that does not compile (`tests/plugins/faulty/syntax_error.py`), whose
checks end at once, validated in this process and in the pool, alternated with the rest: what
the way to the sandbox's child and back costs (the pool's own work, in the caller's thread
when a worker is idle, the worker's hand-over, the child's limits, the pipes), whatever the
module.

Overhead = (median in the sandbox - median of a baseline) / that median, for each baseline:
what the pipes, the fork (a fresh process copies each page it writes), the limits and the
answer cost; the plain fork tells the cost of a fresh process from that of the sandbox's
own parts. Target (issue 15): < 5 %. Each way also gives the CPU time and the minor page
faults of its checks (in the sandbox: the child's, from its request to its answer, the
`child_cpu_ms` and `child_minor_faults` figures; in a plain fork: the child's whole life),
which a busy machine disturbs far less than the wall clock; the sandbox's also the CPU of the
thread that calls `validate()` (the pool's own Python on the clock, and any wait that
polls instead of sleeping). Wall-clock figures on a shared machine are noisy: compare within
one run.

With `--baseline OLD_TREE` (an older source tree, e.g. from `git archive`), only this: the
latency of `validate()` in a pool of this tree and in one of the old tree, each pool in a
process of its own (a tree's pool speaks its own worker's wire format), timed there from the
call to the result, alternated run by run, with the second process and without it (median
and p10), the CPU of the child's checks where the tree reports it (`child_cpu_ms`), the CPU
of the thread that calls `validate()`, and the hand-off in each pool.

Numba's cache names the Python module a kernel was compiled in, and `import_plugin` names
that module after the plugin, so a kernel cached under one name does not load under
another: hence one folder, cached once, per plugin name.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out

from chronus.plugins.worker import THREAD_ENV

os.environ.update(THREAD_ENV)  # before numpy loads: this process forks (the plain-fork runs)

from chronus.plugins.sandbox import SandboxPool
from chronus.plugins.source import plugin_module_name, version_of
from chronus.plugins.validation import CheckSettings, run_checks

NAME = "typical"
WAYS = {
    "re-import": "in-process, re-imported",
    "first import": "in-process, first import",
    "plain fork": "in a plain fork (no limits)",
    "sandbox": "in the sandbox",
}
"""The ways the same checks are run, alternated: key, label."""
FAULTY = Path(__file__).resolve().parent.parent / "tests" / "plugins" / "faulty"
TYPICAL = FAULTY / "good_kernel.py"
HANDOFF = FAULTY / "syntax_error.py"
"""A file whose checks end at once (it does not compile): validating it is the hand-off."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def in_a_fork(module: Path, settings: CheckSettings) -> tuple[float, bool, float, float]:
    """The checks in a plain fork of this process (no limits, no rehearsal): ms, passed,
    the child's CPU ms and minor page faults (from the fork to its exit)."""
    read_fd, write_fd = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            code = 0 if run_checks(module, NAME, settings).ok else 1
        finally:
            os._exit(code)
    os.close(write_fd)
    os.read(read_fd, 1)  # EOF: the child is done
    _, status, usage = os.wait4(pid, 0)
    os.close(read_fd)
    ok = os.waitstatus_to_exitcode(status) == 0
    cpu_ms = 1000 * (usage.ru_utime + usage.ru_stime)
    return (time.perf_counter() - t0) * 1000, ok, cpu_ms, float(usage.ru_minflt)


def in_process(module: Path, name: str, settings: CheckSettings) -> tuple[float, float, float]:
    """The checks in this process: wall ms, CPU ms, minor page faults."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_checks(module, name, settings)
    took, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    assert result.ok, result.error_message
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before.ru_minflt
    return took, cpu, float(faults)


def first_imports(module: Path, runs: int, settings: CheckSettings) -> list[tuple[Path, str]]:
    """`runs` copies of `module`, each in a folder of its own with its own plugin name, their
    kernels compiled and cached in a fork (so this process never imports them)."""
    copies = []
    for k in range(runs):
        folder = module.parent / f"first-{k}"
        folder.mkdir()
        copies.append((folder / module.name, f"{NAME}_{k}"))
        shutil.copyfile(module, copies[-1][0])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if all(run_checks(p, name, settings).ok for p, name in copies) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("a copy of the module did not pass while its kernel was cached")
    return copies


def measure(module: Path, runs: int, pause: float, figures: dict[str, Any]) -> None:
    """Time `runs` validations each way; print them and put the figures in `figures`."""
    pooled: list[float] = []
    with SandboxPool(workers=1) as pool:
        began = time.perf_counter()
        if not pool.wait_ready():
            raise SystemExit("the sandbox worker did not start")
        ready_ms = (time.perf_counter() - began) * 1000
        first = pool.validate(module, NAME)
        if not first.ok:
            raise SystemExit(f"{module} does not pass: {first.error_type}: {first.error_message}")
        for _ in range(runs):
            time.sleep(pause)
            t0 = time.perf_counter()
            result = pool.validate(module, NAME)
            pooled.append((time.perf_counter() - t0) * 1000)
            assert result.ok, result.error_message
    settings = CheckSettings(cross_process=False)  # the same checks as in-process
    copies = first_imports(module, runs, settings)
    ways: dict[str, list[tuple[float, float, float]]] = {way: [] for way in WAYS}
    handoff: dict[str, list[float]] = {"in-process": [], "sandbox": []}
    parts: dict[str, list[float]] = {}
    caller_cpu: list[float] = []
    """The CPU of the thread that calls `validate()` (the pool's own work on its clock)."""
    with SandboxPool(workers=1, settings=settings) as pool:
        pool.wait_ready()
        imported = plugin_module_name(NAME, version_of(module.read_bytes()))
        for path, name in copies:
            sys.modules.pop(imported, None)  # imported afresh, as in a forked child
            time.sleep(pause)
            ways["re-import"].append(in_process(module, NAME, settings))
            sys.modules.pop(imported, None)
            time.sleep(pause)
            ways["first import"].append(in_process(path, name, settings))
            time.sleep(pause)
            took, fork_ok, cpu, faults = in_a_fork(module, settings)
            ways["plain fork"].append((took, cpu, faults))
            time.sleep(pause)
            t0, c0 = time.perf_counter(), time.thread_time()
            boxed = pool.validate(module, NAME)
            took = (time.perf_counter() - t0) * 1000
            caller_cpu.append((time.thread_time() - c0) * 1000)
            cpu, faults = boxed.figures["child_cpu_ms"], boxed.figures["child_minor_faults"]
            ways["sandbox"].append((took, cpu, faults))
            add_parts(parts, boxed.figures, took)
            assert fork_ok and boxed.ok, boxed.error_message
            for way, took in handed_off(pool, pause).items():
                handoff[way].append(took)
    med = {way: [statistics.median(run[i] for run in rows) for i in range(3)]
           for way, rows in ways.items()}  # fmt: skip
    p50, p90 = statistics.median(pooled), percentile(pooled, 90)
    here, first_ms, fork_ms, boxed_ms = (med[way][0] for way in WAYS)
    overhead = 100 * (boxed_ms - here) / here
    overhead_first = 100 * (boxed_ms - first_ms) / first_ms
    cpu_first = 100 * (med["sandbox"][1] - med["first import"][1]) / med["first import"][1]
    paired = statistics.median(
        100 * (boxed[0] - first[0]) / first[0]
        for boxed, first in zip(ways["sandbox"], ways["first import"], strict=True)
    )  # each run's sandbox against the first import next to it: less swayed by load's drift
    print(f"module: {module.name}; {runs} runs each, {pause:g} s apart; worker warm in "
          f"{ready_ms:.0f} ms")  # fmt: skip
    print(f"validation in a warm pool   median {p50:6.1f} ms  p90 {p90:6.1f} ms  (target < 100 ms)")
    print("the same checks, alternated (medians)  wall ms   CPU ms  minor faults")
    for way, label in WAYS.items():
        wall, cpu, faults = med[way]
        print(f"  {label:28s} {wall:8.1f} {cpu:8.1f} {faults:12.0f}")
    print("sandbox overhead (target < 5 %), wall:")
    print(f"  over a first import       {overhead_first:6.1f} %   (the CPU of the checks: "
          f"{cpu_first:+.1f} %)")  # fmt: skip
    print(f"  … paired run by run       {paired:6.1f} %   (the median of each run's difference)")
    print(f"  over a re-import          {overhead:6.1f} %")
    print(f"  over a plain fork         {100 * (boxed_ms - fork_ms) / fork_ms:6.1f} %")
    hand = {way: statistics.median(values) for way, values in handoff.items()}
    print(
        f"the hand-off ({HANDOFF.name}, alternated): in-process {hand['in-process']:.2f} ms, "
        f"in the sandbox {hand['sandbox']:.2f} ms (p10 {percentile(handoff['sandbox'], 10):.2f})"
    )
    print(handoff_parts(parts))
    print(f"  the caller's CPU in validate(): {statistics.median(caller_cpu):.3f} ms median")
    figures.update({f"sandbox_{part}": statistics.median(v) for part, v in parts.items()})
    figures["sandbox_caller_cpu_ms"] = statistics.median(caller_cpu)
    figures.update(
        module=module.name, runs=runs, pause_s=pause, ready_ms=ready_ms, validate_ms_p50=p50,
        validate_ms_p90=p90, validate_ms_max=max(pooled), in_process_ms=here,
        first_import_ms=first_ms, plain_fork_ms=fork_ms, sandboxed_ms=boxed_ms,
        overhead_pct=overhead, overhead_first_import_pct=overhead_first,
        overhead_first_import_paired_pct=paired,
        in_process_cpu_ms=med["re-import"][1], first_import_cpu_ms=med["first import"][1],
        plain_fork_cpu_ms=med["plain fork"][1], sandboxed_cpu_ms=med["sandbox"][1],
        overhead_first_import_cpu_pct=cpu_first, first_import_faults=med["first import"][2],
        sandboxed_faults=med["sandbox"][2], handoff_in_process_ms=hand["in-process"],
        handoff_sandbox_ms=hand["sandbox"],
        cpu_us_p99=float(first.figures.get("cpu_us_p99", 0.0)),
    )  # fmt: skip


HANDOFF_PARTS = ("children_ms", "request_ms", "checks_ms", "answer_ms", "rehearsal_cut")
"""The hand-off's figures a validation in the sandbox gives (see `ValidationResult`)."""


def add_parts(parts: dict[str, list[float]], figures: dict[str, float], took: float) -> None:
    """Add to `parts` the `HANDOFF_PARTS` of a validation with these `figures` that took
    `took` ms, and what the parts leave of it (`rest_ms`: the pool's own work, the hop to a
    pool thread and back where a tree has one, the second process)."""
    for part in HANDOFF_PARTS:
        parts.setdefault(part, []).append(figures.get(part, math.nan))
    timed = sum(figures.get(part, math.nan) for part in HANDOFF_PARTS[:4])
    parts.setdefault("rest_ms", []).append(took - timed)


def handoff_parts(parts: dict[str, list[float]]) -> str:
    """A line on the hand-offs of the validations whose `HANDOFF_PARTS` are `parts`."""
    if any(math.isnan(value) for values in parts.values() for value in values):
        return "  (this tree's sandbox does not time its hand-offs)"
    med = {key: statistics.median(values) for key, values in parts.items()}
    p10 = {key: percentile(values, 10) for key, values in parts.items()}
    cut = round(sum(parts["rehearsal_cut"]))
    return (
        f"  ms, median (p10): the children handed over {med['children_ms']:.2f} "
        f"({p10['children_ms']:.2f}), the request to the child {med['request_ms']:.2f} "
        f"({p10['request_ms']:.2f}), the checks {med['checks_ms']:.2f} "
        f"({p10['checks_ms']:.2f}), the answer to the pool {med['answer_ms']:.2f} "
        f"({p10['answer_ms']:.2f}), the rest {med['rest_ms']:.2f} ({p10['rest_ms']:.2f}); "
        f"the request came while the child rehearsed in {cut} of {len(parts['rehearsal_cut'])}"
    )


def handed_off(pool: SandboxPool, pause: float) -> dict[str, float]:
    """ms to validate `HANDOFF` (checks that end at once) in this process and in `pool`."""
    took: dict[str, float] = {}
    for way in ("in-process", "sandbox"):
        time.sleep(pause)
        t0 = time.perf_counter()
        result = pool.validate(HANDOFF, NAME) if way == "sandbox" else run_checks(HANDOFF, NAME)
        took[way] = (time.perf_counter() - t0) * 1000
        assert result.error_type == "syntax_error", (way, result.error_message)
    return took


SERVE = """
import json, sys, time
from chronus.plugins.sandbox import SandboxPool
from chronus.plugins.validation import CheckSettings

with SandboxPool(workers=1, settings=CheckSettings(**json.loads(sys.argv[1]))) as pool:
    print(json.dumps(pool.wait_ready()), flush=True)
    for line in sys.stdin:
        t0, c0 = time.perf_counter(), time.thread_time()
        result = pool.validate(*json.loads(line))
        took, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        print(json.dumps({"ms": took, "caller_cpu_ms": cpu, **result.to_dict()}), flush=True)
"""
"""A pool of whichever tree is on the path, validating the files it is sent, one JSON line
each ([path, name]), answering each with the ms `validate()` took, the CPU of the thread
that called it, and the result."""


class RemotePool:
    """A warm pool of the chronus of `tree` (None: this one) in a process of its own, so
    that each tree's pool talks to its own worker (their wire formats may differ). The
    process runs from `tree`, with `tree` on PYTHONPATH."""

    def __init__(self, tree: Path | None, settings: CheckSettings) -> None:
        root = tree or Path(__file__).resolve().parent.parent
        env = {**os.environ, **THREAD_ENV, "PYTHONPATH": str(root)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, json.dumps(dataclasses.asdict(settings))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, env=env, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        if json.loads(self.process.stdout.readline() or "false") is not True:
            self.close()
            raise SystemExit(f"the sandbox worker of {tree or 'this tree'} did not start")

    def validate(self, path: Path, name: str) -> dict[str, Any]:
        """The result of `validate()` in that pool as a dict, with the ms it took (`ms`)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([str(path), name]) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        """End the process (its pool closes as its input ends)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def against(module: Path, old: Path, runs: int, pause: float, figures: dict[str, Any]) -> None:
    """`validate()` in a pool of this tree and one of `old`, alternated, with the second
    process (the default settings) and without it; print and put the medians in `figures`."""
    for cross in (True, False):
        settings = CheckSettings(cross_process=cross)
        wall: dict[str, list[float]] = {"this tree": [], "baseline": []}
        cpu: dict[str, list[float]] = {"this tree": [], "baseline": []}
        caller: dict[str, list[float]] = {"this tree": [], "baseline": []}
        handoff: dict[str, list[float]] = {"this tree": [], "baseline": []}
        parts: dict[str, dict[str, list[float]]] = {key: {} for key in cpu}
        pools = {"this tree": RemotePool(None, settings), "baseline": RemotePool(old, settings)}
        try:
            for key, pool in pools.items():
                assert pool.validate(module, NAME)["ok"], key  # caches the kernel
            for k in range(runs):
                for key in sorted(pools, reverse=k % 2 == 1):
                    time.sleep(pause)
                    result = pools[key].validate(module, NAME)
                    wall[key].append(result["ms"])
                    caller[key].append(result["caller_cpu_ms"])
                    assert result["ok"], (key, result["error_message"])
                    if "child_cpu_ms" in result["figures"]:
                        cpu[key].append(result["figures"]["child_cpu_ms"])
                    add_parts(parts[key], result["figures"], result["ms"])
                    time.sleep(pause)
                    result = pools[key].validate(HANDOFF, NAME)
                    assert result["error_type"] == "syntax_error", (key, result)
                    handoff[key].append(result["ms"])
        finally:
            for pool in pools.values():
                pool.close()
        what = "with the second process" if cross else "without the second process"
        print(f"against {old} ({what}), alternated, medians of {runs}:")
        for key in pools:
            child = (
                f"; the child's checks {statistics.median(cpu[key]):.1f} ms CPU" if cpu[key] else ""
            )
            hand = statistics.median(handoff[key])
            print(
                f"  {key:10s} {statistics.median(wall[key]):6.1f} ms (p10 "
                f"{percentile(wall[key], 10):.1f}){child}; the caller's CPU "
                f"{statistics.median(caller[key]):.3f} ms; the hand-off ({HANDOFF.name}) "
                f"{hand:.2f} ms, p10 {percentile(handoff[key], 10):.2f}"
            )
            print(handoff_parts(parts[key]))
            tag = "validate_ms_p50" if key == "this tree" else "baseline_validate_ms_p50"
            kind = "cross" if cross else "single"
            figures[f"{tag}_{kind}_ab"] = statistics.median(wall[key])
            figures[f"{tag.replace('validate', 'handoff')}_{kind}_ab"] = hand
            figures[f"{tag.replace('validate_ms', 'caller_cpu_ms')}_{kind}_ab"] = statistics.median(
                caller[key]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="validations each way (default 50)")
    parser.add_argument("--pause", type=float, default=0.2, help="idle seconds before each run")
    parser.add_argument("--module", type=Path, default=TYPICAL, help="the module file to validate")
    parser.add_argument("--baseline", type=Path, help="an older source tree to compare with")
    add_json_flag(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chronus-plugin-bench-") as folder:
        module = Path(folder) / args.module.name
        shutil.copyfile(args.module, module)
        with figures_out(args.json) as figures:
            if args.baseline:
                against(module, args.baseline.resolve(), max(1, args.runs), args.pause, figures)
            else:
                measure(module, max(1, args.runs), max(0.0, args.pause), figures)


if __name__ == "__main__":
    main()
