"""What the sweep of dead engines' shared memory costs an engine's start.

    python benchmarks/leftovers.py [--rounds 9] [--engines 1]

Each round, alternated: (A) a sweep with nothing to remove, as at most starts (it lists
/dev/shm and reads /proc/<pid>/stat once per owner it finds), then (B) a sweep after
`--engines` dead engines left what a SIGKILLed engine leaves (14 segments and 3 semaphores
each, under the names a real engine gives them, 4 kB each here: what a file holds does not
change what its unlink costs much on tmpfs), which also reads every process's
/proc/<pid>/maps to keep anything a live process still maps. Wall time (`perf_counter`):
the work is the kernel's. Medians (range); the more processes run, the longer (B) takes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from figures import add_json_flag, figures_out

from chronus.engine.leftovers import SHM, sweep

KINDS = (
    "audio-a", "audio-b", "cmd-a", "cmd-b", "control", "cpus", "handover-a", "handover-b",
    "io", "lifelines", "patterns", "slot-a", "slot-b", "tap",
)  # fmt: skip


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leave(pid: int) -> int:
    """Leave what a SIGKILLed engine with supervisor `pid` leaves; how many files."""
    names = [f"chronus-{pid}-1-{kind}-{n:06x}" for n, kind in enumerate(KINDS)]
    names += [f"sem.chronus-{pid}-1-sem-{n:08x}" for n in range(3)]
    for name in names:
        (SHM / name).write_bytes(b"\1" * 4096)
    return len(names)


def main() -> None:
    """Time the sweeps, alternated, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--engines", type=int, default=1, help="dead engines per round")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        sweep()  # what others left before: not ours to time
        nothing: list[float] = []
        some: list[float] = []
        files = 0
        for _ in range(args.rounds):
            began = time.perf_counter()
            sweep()
            nothing.append(1e3 * (time.perf_counter() - began))
            files = sum(_leave(_dead_pid()) for _ in range(args.engines))
            done = sweep()
            some.append(1e3 * done.seconds)
            assert len(done.removed) >= files, done.line()
        processes = sum(name.isdigit() for name in os.listdir("/proc"))
        load = os.getloadavg()[0]
        for label, times in (("nothing to remove", nothing), (f"{files} files", some)):
            print(
                f"sweep, {label}: {statistics.median(times):.2f} ms "
                f"({min(times):.2f}–{max(times):.2f})"
            )
        print(f"{processes} processes, load {load:.1f}, {args.rounds} rounds")
        figures.update(
            nothing_ms=statistics.median(nothing),
            leftovers_ms=statistics.median(some),
            files=files,
            processes=processes,
            load=load,
        )


if __name__ == "__main__":
    main()
