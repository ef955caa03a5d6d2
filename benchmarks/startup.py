"""Start-up: `chronus engine` to READY (warm and first run), the shell's prompt, the demo's
first sound. Optionally against an older tree, the runs alternated.

    python benchmarks/startup.py [--baseline OLD_TREE] [--runs 7] [--cold-runs 2]
                                 [--only ready,cold,shell,attach,demo,scsynth] [--json]

Each figure runs the `chronus` of a source tree (this checkout, and `--baseline`, e.g. a
`git archive` of an older commit) in a fresh subprocess with that tree on PYTHONPATH, the
null backend, and times it from just before the subprocess starts:

- ready: to the engine's READY line, with warm caches (a first untimed run fills them).
- cold: the same on a first run: the tree copied without any `__pycache__` (no bytecode, no
  numba kernel cache), so every kernel compiles. The copy is deleted after each run; the
  caches of the checkout itself are never touched.
- shell: `chronus --backend null` on a pseudo-terminal: to its first prompt, and to the
  first sound of `play c3 on probe for 1 s` typed right after `add a sine called probe`,
  both typed at once. The shell's history goes to a temporary HOME.
- attach: `chronus --port PORT` on a pseudo-terminal to its first prompt, on an engine already
  playing at PORT (one engine of this checkout for every run; `--engine 127.0.0.1:PORT` for a
  tree whose shell does not look for one); each run quits leaving it playing.
- demo: `chronus demo --backend null` to its first sounding block. A tree whose demo has no
  `--backend` is timed by doing what its demo did, in order: render the song (a
  subprocess), start an engine, play the script (in this process).
- scsynth (the anchor, with ready): after each READY of this checkout, SuperCollider's
  `scsynth -u PORT` on the running JACK server, to its "SuperCollider 3 server ready" line
  (`benchmarks/scsynth.py`); not measured, and why, without scsynth or a JACK server.

A first sound is the `io.last_onset_ns` the engine reports in `/engine/status`: the
CLOCK_MONOTONIC time the audio I/O handed the first sounding block on (the null backend has
no device latency to add). Medians, and the spread, of every run; this machine is shared and
noisy, so compare only figures of the same run.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from figures import add_json_flag, figures_out
from scsynth import Server, why_not

from chronus.engine.client import EngineClient, EngineError, EngineProcess

HERE = Path(__file__).resolve().parents[1]
SONG = "examples/pattern_song.chr"


def run_env(tree: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1", **extra}


def chronus_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "chronus", *args]


def first_onset(port: int, since_ns: int, timeout: float = 30.0) -> float:
    """Seconds from `since_ns` to the engine's first sounding block."""
    deadline = time.monotonic() + timeout
    with EngineClient("127.0.0.1", port) as client:
        while time.monotonic() < deadline:
            try:
                onset = int(client.status(timeout=0.5)["io"]["last_onset_ns"])
            except EngineError:
                onset = 0
            if onset:
                return (onset - since_ns) / 1e9
            time.sleep(0.002)
    raise SystemExit(f"no sound from the engine at port {port} within {timeout} s")


def time_ready(tree: Path, cwd: Path) -> tuple[float, list[str], float]:
    """Seconds to READY, the engine's stderr until then, and the CPU seconds its processes
    used from start to exit (a figure the other loads of a shared machine disturb less)."""
    started = time.perf_counter()
    engine = subprocess.Popen(
        chronus_cmd("engine", "--backend", "null", "--port", "0"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(tree), cwd=cwd,
    )  # fmt: skip
    assert engine.stdout is not None and engine.stderr is not None
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(engine.stderr or []), daemon=True)
    reader.start()
    line = engine.stdout.readline()
    took = time.perf_counter() - started
    engine.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(engine.pid, 0)  # with every child it reaped: all of them
    engine.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    if not line.startswith("READY"):
        raise SystemExit(f"{tree}: the engine did not start: {''.join(stderr)[-2000:]}")
    return took, stderr, usage.ru_utime + usage.ru_stime


def cold_copy(tree: Path, into: Path) -> Path:
    copy = into / "tree"
    for part in ("chronus", "grammar", "examples"):
        shutil.copytree(tree / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def time_cold(tree: Path, cwd: Path) -> tuple[float, int]:
    """Seconds to READY on a first run, and the progress lines the engine wrote meanwhile."""
    with tempfile.TemporaryDirectory(prefix="chronus-cold-") as temp:
        took, stderr, _ = time_ready(cold_copy(tree, Path(temp)), cwd)
    return took, sum("compiling DSP kernels" in line for line in stderr)


def time_demo(tree: Path, cwd: Path) -> float:
    """Seconds from `chronus demo` to its first sound."""
    help_text = subprocess.run(
        chronus_cmd("demo", "--help"), capture_output=True, text=True, env=run_env(tree)
    ).stdout
    if "--backend" not in help_text:
        return time_demo_steps(tree, cwd)
    since = time.monotonic_ns()
    demo = subprocess.Popen(
        chronus_cmd("demo", "--backend", "null", "-o", str(cwd / "demo.wav")),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=run_env(tree), cwd=cwd,
        start_new_session=True,
    )  # fmt: skip
    assert demo.stderr is not None
    try:
        for line in demo.stderr:
            if found := re.search(r"on the engine at 127\.0\.0\.1:(\d+)", line):
                return first_onset(int(found.group(1)), since)
        raise SystemExit(f"{tree}: the demo never played")
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C: it quits its engine and exits
        try:
            demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.communicate()


def time_demo_steps(tree: Path, cwd: Path) -> float:
    """The steps an older demo took, in order: render, start an engine, play.

    Playing starts with the script's first instant, sent at once (as its player does); the
    sound that follows is the song's first.
    """
    from chronus.session.script import load_script_file

    first = [timed.message for timed in load_script_file(tree / SONG).messages if timed.time == 0]
    since = time.monotonic_ns()
    subprocess.run(
        chronus_cmd("render", str(tree / SONG), "-o", str(cwd / "demo.wav"), "--pcm16"),
        check=True, capture_output=True, env=run_env(tree), cwd=cwd,
    )  # fmt: skip
    engine = EngineProcess(port=0, backend="null", env={"PYTHONPATH": str(tree)}).boot()
    try:
        with engine.client() as client:
            client.send(first)
        return first_onset(engine.port, since)
    finally:
        engine.quit()


def _leaves(tree: Path) -> bool:
    """Whether the tree's shell attaches to an engine it finds and asks on `quit` (then it
    is told `--new-engine`, `--port` and `quit --stop`/`--leave`)."""
    return "--new-engine" in (tree / "chronus" / "cli.py").read_text(encoding="utf-8")


def time_shell(tree: Path, cwd: Path) -> tuple[float, float]:
    """Seconds from `chronus` to its prompt, and to the sound of a line typed at once."""
    fresh = ("--new-engine",) if _leaves(tree) else ()
    bye = b"quit --stop\r" if _leaves(tree) else b"quit\r"
    with tempfile.TemporaryDirectory(prefix="chronus-home-") as home:
        since = time.monotonic_ns()
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(cwd)
            os.execve(
                sys.executable,
                chronus_cmd("--backend", "null", *fresh),
                run_env(tree, HOME=home, TERM="xterm"),
            )
        seen = b""
        prompt = 0.0
        typed = False
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    seen += chunk
                    if b"\x1b[6n" in chunk:  # the prompt asks where the cursor is
                        os.write(fd, b"\x1b[1;1R")
                if not prompt and b"chronus>" in seen:
                    prompt = (time.monotonic_ns() - since) / 1e9
                if prompt and not typed:
                    os.write(fd, b"add a sine called probe\rplay c3 on probe for 1 s\r")
                    typed = True
                found = re.search(rb"chronus on 127\.0\.0\.1:(\d+)", seen)
                if typed and found:
                    sound = first_onset(int(found.group(1)), since)
                    os.write(fd, bye)
                    return prompt, sound
            raise SystemExit(f"{tree}: no prompt or no engine: {seen[-500:]!r}")
        finally:
            _reap(pid, fd)


def _reap(pid: int, fd: int) -> None:
    """Wait for the shell on the pty `fd` to end (reading what it writes), else kill it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
        if select.select([fd], [], [], 0.05)[0]:
            try:
                os.read(fd, 65536)
            except OSError:
                pass
    else:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    os.close(fd)


def time_attach(tree: Path, cwd: Path, port: int) -> float:
    """Seconds from `chronus` to its prompt on the engine already playing at `port` (found
    there by a tree whose shell looks for one, else named with `--engine`)."""
    found = ("--port", str(port)) if _leaves(tree) else ("--engine", f"127.0.0.1:{port}")
    with tempfile.TemporaryDirectory(prefix="chronus-home-") as home:
        since = time.monotonic_ns()
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(cwd)
            os.execve(sys.executable, chronus_cmd(*found), run_env(tree, HOME=home, TERM="xterm"))
        seen = b""
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and b"chronus>" not in seen:
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        seen += os.read(fd, 65536)
                    except OSError:
                        break
                    if b"\x1b[6n" in seen[-64:]:  # the prompt asks where the cursor is
                        os.write(fd, b"\x1b[1;1R")
            if b"chronus>" not in seen or f":{port}".encode() not in seen:
                raise SystemExit(f"{tree}: no prompt on the engine at {port}: {seen[-500:]!r}")
            took = (time.monotonic_ns() - since) / 1e9
            os.write(fd, b"quit --leave\r" if _leaves(tree) else b"quit\r")
            return took
        finally:
            _reap(pid, fd)


def summary(values: list[float]) -> str:
    if not values:
        return "—"
    spread = f"{min(values):.2f}–{max(values):.2f}"
    return f"{statistics.median(values):.2f} s ({spread}, n={len(values)})"


def alternate(
    trees: dict[str, Path], runs: int, measure: Callable[[Path], float]
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in trees}
    for i in range(runs):
        order = list(trees.items())
        if i % 2:
            order.reverse()
        for name, tree in order:
            results[name].append(measure(tree))
            print(f"  {name}: {results[name][-1]:.3f} s", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="an older source tree to compare with")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument("--only", default="ready,cold,shell,attach,demo,scsynth")
    add_json_flag(parser)
    args = parser.parse_args()
    # Run in the background by a shell, this process ignores SIGINT, and so would every
    # `chronus` it starts: the demo could not be stopped with Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, object]) -> None:
    """Time what `args.only` asks for; print a table and put each row's runs in `figures`,
    by key (`ready`, `cold`, ...) and tree (`this tree`, `baseline`)."""
    trees = {"this tree": HERE}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    wanted = set(args.only.split(","))
    rows: list[tuple[str, str, str, dict[str, list[float]]]] = []
    no_scsynth = why_not() if "scsynth" in wanted and "ready" in wanted else "not asked for"
    boots: list[float] = []
    with tempfile.TemporaryDirectory(prefix="chronus-startup-") as temp:
        cwd = Path(temp)
        for tree in trees.values():
            time_ready(tree, cwd)  # fill the bytecode and kernel caches
        if "ready" in wanted:
            print("READY, warm caches", file=sys.stderr)
            cpu: dict[Path, list[float]] = {tree: [] for tree in trees.values()}

            def ready(tree: Path) -> float:
                took, _, used = time_ready(tree, cwd)
                cpu[tree].append(used)
                if tree == HERE and not no_scsynth:
                    with Server() as scsynth:
                        boots.append(scsynth.boot())
                return took

            rows.append(("ready", "`chronus engine` to READY", "warm caches",
                         alternate(trees, args.runs, ready)))  # fmt: skip
            used = {name: cpu[tree] for name, tree in trees.items()}
            rows.append(("ready_cpu", "CPU time of the engine's processes, start to exit",
                         "warm caches", used))  # fmt: skip
            if boots:
                rows.append(("scsynth", "`scsynth -u PORT` (JACK) to its ready line", "—",
                             {"this tree": boots}))  # fmt: skip
        if "cold" in wanted:
            print("READY, first run", file=sys.stderr)
            progress: dict[Path, list[int]] = {tree: [] for tree in trees.values()}

            def cold(tree: Path) -> float:
                took, lines = time_cold(tree, cwd)
                progress[tree].append(lines)
                return took

            rows.append(("cold", "`chronus engine` to READY", "first run (no caches)",
                         alternate(trees, args.cold_runs, cold)))  # fmt: skip
            for name, tree in trees.items():
                print(f"  {name}: progress lines on a first run: {progress[tree]}")
            figures["cold_progress_lines"] = {name: progress[t] for name, t in trees.items()}
        if "shell" in wanted:
            print("shell", file=sys.stderr)
            shell: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in trees.values()}

            def prompt(tree: Path) -> float:
                shell[tree].append(time_shell(tree, cwd))
                return shell[tree][-1][0]

            rows.append(("prompt", "`chronus` to its prompt", "warm caches",
                         alternate(trees, args.runs, prompt)))  # fmt: skip
            sounds = {name: [s for _, s in shell[tree]] for name, tree in trees.items()}
            rows.append(("typed_sound", "`chronus` to the sound of a line typed at once",
                         "warm caches", sounds))  # fmt: skip
        if "attach" in wanted:
            print("attach", file=sys.stderr)
            playing = EngineProcess(port=0, backend="null", env={"PYTHONPATH": str(HERE)}).boot()
            try:
                attach = alternate(trees, args.runs, lambda t: time_attach(t, cwd, playing.port))
            finally:
                playing.quit()
            rows.append(("attach", "`chronus` to its prompt on an engine already playing",
                         "warm caches", attach))  # fmt: skip
        if "demo" in wanted:
            print("demo", file=sys.stderr)
            demo = alternate(trees, args.runs, lambda tree: time_demo(tree, cwd))
            rows.append(("demo", "`chronus demo` to its first sound", "warm caches", demo))
    names = list(trees)
    print("\n| figure | caches | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for key, figure, caches, results in rows:
        print(f"| {figure} | {caches} | "
              + " | ".join(summary(results.get(n, [])) for n in names) + " |")  # fmt: skip
        figures[key] = results
    if no_scsynth and no_scsynth != "not asked for":
        print(f"scsynth not measured: {no_scsynth}")
        figures["scsynth"] = {"not_measured": no_scsynth}


if __name__ == "__main__":
    main()
