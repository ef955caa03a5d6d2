"""The wall and CPU time of a command and of every process it starts, engines included.

    python benchmarks/cpu_of.py COMMAND [ARG ...]
    python benchmarks/cpu_of.py python -m pytest -n 2 -m "not realtime and not serial"

Engines leave their starter's process tree (their own process group, a supervisor that
outlives its parent), so `time` misses their CPU. This process is made a child subreaper:
every descendant that is orphaned comes to it, it reaps them all after the command ends,
and the kernel adds their CPU to its children's. Prints the exit status, wall, CPU (user,
sys) and CPU per second of wall (how many cores were busy on average) to stderr; exits
with the command's status. Whether more pytest workers would help: a ratio well under the
core count on a quiet machine means the tests wait more than they compute.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(command: list[str]) -> int:
    """Run `command`, reap every descendant, print the figures; the command's status."""
    if ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("cpu_of: cannot become a child subreaper", file=sys.stderr)
        return 2
    started = time.monotonic()
    status = subprocess.Popen(command).wait()
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"status {status}, wall {wall:.1f} s, CPU {cpu:.1f} s (user {usage.ru_utime:.1f}, "
        f"sys {usage.ru_stime:.1f}), {cpu / wall:.2f} cores busy on average",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
