"""What a sandbox child's answer, or its ending, means: a validation's result as plain data.

A child that validates a module (see `chronus.plugins.worker`) writes its answer, one JSON
object on one line, down a pipe of its own and closes it; whoever holds the pipe's other end
(the pool, since the `sand15b` branch) reads it with a deadline, and takes it as soon as the
pipe holds exactly one line that is an answer (not at EOF, which would often cost the reader a
second wake-up: the child closes the pipe just after it writes). Anything else — no answer,
a short one, garbage, two answers, no EOF in time — is read to EOF and judged by how the
child ended: its wait status, which only its parent (the worker) can give, asked through
`Ending`.

    result = judge(first_fd, twin_fd, deadline, time_limit, path, ending)
"""

from __future__ import annotations

import math
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from chronus.plugins.cpu_limit import COMPILE_ALLOWANCE_S
from chronus.plugins.ladspa.reference import split_reference
from chronus.plugins.worker import json_object

__all__ = [
    "STEAL_FROM_S",
    "WALL_FACTOR",
    "Deadline",
    "Ending",
    "failed",
    "host_steal",
    "judge",
    "read_until",
    "run_delay",
    "run_times",
    "wall_limit",
]

WALL_FACTOR = 3.0
"""A validation's clock limit, in multiples of its CPU limit (`wall_limit`)."""
STEAL_FROM_S = 0.05
"""Seconds into a validation at which its `Deadline` first reads the host's steal: past a
quick job's end (13–25 ms in a warm pool), since reading `/proc/stat` costs ~0.12 ms."""

Ending = Callable[[str, bool], int]
"""`ending(which, finished)`: the wait status of child `which` ("spare" or "twin"), killed
first unless `finished` (its pipe reached EOF). It raises if the status cannot be had."""

_SIGNAL_NAMES: dict[int, str] = {
    signal.SIGSEGV: "a segmentation fault",
    signal.SIGBUS: "a bus error",
    signal.SIGABRT: "an abort",
    signal.SIGILL: "an illegal instruction",
    signal.SIGFPE: "a floating-point exception",
}


def wall_limit(time_limit: float) -> float:
    """How long a validation may take on the clock: `WALL_FACTOR` times its CPU limit, so
    that a busy machine (the module's process gets a share of a core) does not fail an
    honest module, while a module that waits instead of computing is still stopped. Time
    its children spend waiting for a CPU moves it on (`Deadline`)."""
    return WALL_FACTOR * time_limit


def run_times(pid: int) -> tuple[float, float]:
    """Seconds process `pid`'s main thread has spent on a CPU, and runnable but kept off
    one (the run queue's delay), from `/proc/PID/schedstat`; zeros if it cannot be read."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as stats:
            fields = stats.read().split()
            return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def host_steal() -> float:
    """Seconds the hypervisor has held this machine's CPUs from it since boot, summed over
    them (`steal` in `/proc/stat`); 0 if it cannot be read. A task's own clocks do not see
    it: its CPU time leaves it out (paravirtual time accounting) and it was not waiting."""
    try:
        with open("/proc/stat", "rb") as stat:
            return int(stat.readline().split()[8]) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def run_delay(pid: int) -> float:
    """Seconds process `pid`'s main thread has spent runnable but kept off a CPU; 0 if it
    cannot be read."""
    return run_times(pid)[1]


class Deadline:
    """A validation's deadline on the clock (`time.monotonic()`), moved on by the time its
    children waited for a CPU that others held, by the CPU they used beyond `cpu_limit`
    (numba compiling the module: a child ends itself when the module's own CPU reaches it,
    `chronus.plugins.cpu_limit`) and by the time the hypervisor held the machine's CPUs
    (`host_steal`, all of them summed, from `STEAL_FROM_S` after the deadline was made),
    at most `most` seconds: a busy host, a stalling virtual machine or a cold compile does
    not fail an honest module, while a module that sleeps or blocks is neither running nor
    runnable and is still stopped. Nothing is read on a quick job's clock: the steal from
    `STEAL_FROM_S` on, the children's clocks once the deadline has passed. These count from
    each child's start, so a spare's work and waits before its job count too, and a child
    that waits for a CPU while the host steals it has that time counted twice: that errs
    on the module's side, within `most`."""

    def __init__(
        self, at: float, pids: tuple[int, ...] = (), most: float = 0.0, cpu_limit: float = 0.0
    ) -> None:
        self.at = at
        self._first = at
        self._pids = pids
        self._most = most
        self._cpu_limit = cpu_limit
        self._steal_at = time.monotonic() + STEAL_FROM_S
        self._steal_from: float | None = None
        self.read: dict[int, tuple[float, float]] = {}
        """Each child's seconds on a CPU and waiting for one, as last read (`left`)."""
        self.stolen = 0.0
        """Seconds the hypervisor held the machine's CPUs since, as last read (`left`)."""
        self.capped = False
        """Whether what moves the deadline reached `most` (the machine was too busy)."""

    def left(self) -> float:
        """Seconds until the deadline (≤ 0: it has passed, what moves it counted), or until
        the steal is first read, if that comes first."""
        now = time.monotonic()
        if self._pids and self._steal_from is None:
            if now < self._steal_at and now < self.at:
                return min(self.at, self._steal_at) - now
            self._steal_from = host_steal()
        left = self.at - now
        if left > 0 or not self._pids:
            return left
        self.read = {pid: run_times(pid) for pid in self._pids}
        self.stolen = max(0.0, host_steal() - (self._steal_from or 0.0))
        moved = max(self._moved_by(*times) for times in self.read.values()) + self.stolen
        self.capped = 0 < self._most <= moved
        self.at = max(self.at, self._first + min(moved, self._most))
        return self.at - time.monotonic()

    def account(self) -> str:
        """What the children's clocks said when the deadline was last looked at past its
        time: how long each had been on a CPU and waiting for one, and how far that moved
        the deadline (for a timeout's message: a module's wait is told from a busy host)."""
        if not self.read:
            return ""
        children = "; ".join(f"{on_cpu:.2f} s on a CPU and {waited:.2f} s waiting for one"
                             for on_cpu, waited in self.read.values())  # fmt: skip
        moved = self.at - self._first
        busy = (": as far as it may, the machine was too busy; try again when it is less so"
                if self.capped else "")  # fmt: skip
        return (
            f" [since they started, its processes spent {children}; the host held the "
            f"machine's CPUs {self.stolen:.2f} s; the deadline moved {moved:.2f} s{busy}]"
        )

    def _moved_by(self, on_cpu: float, waited: float) -> float:
        beyond = on_cpu - self._cpu_limit if self._cpu_limit > 0 else 0.0
        return waited + max(0.0, beyond)


def failed(error_type: str, message: str, **figures: float) -> dict[str, Any]:
    """A failed result as plain data."""
    return {"ok": False, "error_type": error_type, "error_message": message,
            "figures": dict(figures)}  # fmt: skip


def read_until(fd: int, deadline: float | Deadline) -> tuple[bytes, bool, dict[str, Any] | None]:
    """What was written to `fd`: until it holds exactly one line that parses as an answer
    (a JSON object), else until EOF; whether it came whole (that line, or EOF) before
    `deadline`; and the answer, if it is one."""
    clock = deadline if isinstance(deadline, Deadline) else Deadline(deadline)
    data = b""
    while True:
        left = clock.left()
        if left <= 0:
            return data, False, None
        ready, _, _ = select.select([fd], [], [], None if math.isinf(left) else left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return data, True, json_object(data)
        data += chunk
        if data.endswith(b"\n") and data.count(b"\n") == 1:
            answer = json_object(data)
            if answer is not None:
                return data, True, answer


def _ending(
    status: int, data: bytes, finished: bool, time_limit: float, account: str = ""
) -> dict[str, Any]:
    """The result of a child that gave no readable answer, from how it ended (`account`: what
    its clocks said, `Deadline.account`)."""
    if not finished:
        return failed("timeout", f"validation went past its time limit of {time_limit:g} s "
                      f"of CPU or {wall_limit(time_limit):g} s on the clock, waits for a CPU "
                      "and numba's compiling not counted (an endless loop, a wait, or a very "
                      f"slow module){account}")  # fmt: skip
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return failed("timeout", f"validation went past its time limit of {time_limit:g} "
                          "s of CPU, numba's compiling not counted (an endless loop, or a very "
                          f"slow module), or compiled for {COMPILE_ALLOWANCE_S:g} s more "
                          "(a loop in compiled code)")  # fmt: skip
        if sig == signal.SIGKILL:
            return failed("crash", "the validating process was killed (SIGKILL): the system "
                          "ran out of memory?")  # fmt: skip
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        what = _SIGNAL_NAMES.get(sig, "a signal")
        return failed("crash", f"the module crashed the process with {what} ({name})")
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code == 0 and data:
        return failed("internal", "the sandbox could not read the validating process's "
                      f"answer ({len(data)} bytes: cut short, garbled, or two)")  # fmt: skip
    return failed("exit", f"the module ended the process (exit status {code}) before "
                  "validation finished (os._exit?)")  # fmt: skip


def _collect(
    fd: int, which: str, deadline: float | Deadline, time_limit: float, path: str, ending: Ending
) -> dict[str, Any]:
    """What child `which` answered down `fd`, or what its ending means, under `ended`."""
    data, finished, answer = read_until(fd, deadline)
    if answer is not None:
        answered, figures = answer.pop("answered_at", None), answer.get("figures")
        if isinstance(answered, float) and isinstance(figures, dict):
            figures["answer_ms"] = 1000 * (time.monotonic() - answered)
        return answer
    account = deadline.account() if isinstance(deadline, Deadline) else ""
    ended = _ending(ending(which, finished), data, finished, time_limit, account)
    native = split_reference(path)
    if native is not None and ended["error_type"] == "crash":
        ended["error_message"] += f": the native plugin {native[1]} of {native[0]}"
    return {"ended": ended}


def _compare(result: dict[str, Any], answer: dict[str, Any]) -> None:
    """Fail `result` if the second process's `answer` differs from it."""
    ended = answer.get("ended")
    if ended is not None:
        result.update(ended, error_message="in a second process: " + ended["error_message"])
        return
    why = answer.get("crc_error")
    if why is None and answer.get("render_crc32") == result["figures"].get("render_crc32"):
        return
    detail = (
        f"the module failed where it passed in the first: {why}"
        if why is not None
        else "the first test render came out different (state taken at import from the "
        "clock, the process id or os.urandom?)"
    )
    result.update(ok=False, error_type="non_deterministic",
                  error_message=f"in a second process {detail}")  # fmt: skip


def judge(
    first: int,
    twin: int | None,
    deadline: float | Deadline,
    time_limit: float,
    path: str,
    ending: Ending,
) -> dict[str, Any]:
    """The result of one validation as a dict: what the child answered down `first` (or
    what its ending means) and, if it passed and `twin` is given, whether the twin's render,
    answered down `twin`, is the same (the second process, `cross_process`). Both are read
    until `deadline` (`time.monotonic()`); `ending` gives a child's wait status."""
    got = _collect(first, "spare", deadline, time_limit, path, ending)
    result: dict[str, Any] = got["ended"] if "ended" in got else got
    if result.get("ok") and twin is not None:
        _compare(result, _collect(twin, "twin", deadline, time_limit, path, ending))
    return result
