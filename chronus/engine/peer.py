"""What another engine process is doing, as the kernel and the CPU stamps tell it.

A standby uses this to tell an active slot the host holds up (its virtual CPU taken away,
SIGSTOP, a long preemption) from one that is busy inside a module: only in the first case
may the standby render the active's block itself, since following a module that loops
forever or blocks in a call would hang the standby the same way.
"""

from __future__ import annotations

import time
from typing import Final

from chronus.engine.cpu_watch import CpuStamps

__all__ = [
    "EXIT_FAULT",
    "KEPT_OFF_AFTER_NS",
    "RAN_AT_MOST_NS",
    "STOPPED",
    "PeerWatch",
    "cpu_ns",
    "death_signal",
    "process_state",
]

KEPT_OFF_AFTER_NS: Final = 12_000_000
"""A peer stuck this long at one position that got less than half of it on a CPU is kept
off the CPU (stopped, or preempted). The kernel brings another process's CPU time up to date
only at its scheduler ticks (4 ms apart here), so a shorter window could not tell."""

RAN_AT_MOST_NS: Final = 1_000_000
"""A peer whose CPU the host holds up is only followed into its block if it can have run at
most this long at that position first: longer than a block's render here (p99 0.3 ms; 1.2
ms at most for the heaviest patch measured), shorter than a module that hangs has spun
before a stall happens to catch it. Following that one would hang the standby too."""

_PF_EXITING: Final = 0x4
_CPUCLOCK_SCHED: Final = 2
STOPPED: Final = frozenset({b"T", b"t"})
"""The kernel's states of a process stopped from outside (SIGSTOP, a tracer)."""
_NOT_RUNNING: Final = STOPPED | {b"R"}
"""Runnable but kept off a CPU, or stopped: held up from outside, not by its own code."""


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_state(pid: int) -> bytes:
    """The kernel's one-letter state of `pid` (R, S, D, T, Z…); b"" if there is no such process."""
    fields = _stat_fields(pid)
    return fields[0] if fields else b""


EXIT_FAULT = 0x100
"""What `death_signal` gives for a process that ended itself with a nonzero exit code (a
module calling `os._exit` inside a block): like a crash signal, a fault of the module it was
in, not a kill from outside."""


def death_signal(pid: int) -> int | None:
    """None while `pid` lives; once it is exiting, the signal it dies of (0: none, -1: unknown,
    `EXIT_FAULT`: it exited by itself with a nonzero code).

    /proc/PID/stat gives the kernel's `PF_EXITING` flag as soon as a process starts to die
    (tearing down a large address space takes a while before it is a zombie) and, from then
    on, its exit code (wait status: the low 7 bits are the signal, the next 8 the code).
    """
    fields = _stat_fields(pid)
    if fields is None:
        return -1  # already reaped
    try:
        exiting = fields[0] in (b"Z", b"X") or int(fields[6]) & _PF_EXITING
        if not exiting:
            return None
        status = int(fields[49])
    except (IndexError, ValueError):
        return -1
    return status & 0x7F or (EXIT_FAULT if (status >> 8) & 0xFF else 0)


def cpu_ns(pid: int) -> int:
    """CPU time `pid` has used (all its threads), from its process CPU clock; −1 if gone."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return -1


class PeerWatch:
    """Watches the active slot from the standby: is it held up at the block it owes?

    `held_up` is asked with the peer's published position while the peer is behind its
    target. Yes if the kernel has the peer runnable or stopped (not asleep in a call) and
    either its CPU is held up right now (`CpuStamps`) after it can have run at most
    `RAN_AT_MOST_NS` at that position, or it is stopped and has been stuck at that position
    for `KEPT_OFF_AFTER_NS` while using less than half of that on a CPU. A peer that burns
    CPU (a slow render, a module in an endless loop) is not held up.
    """

    def __init__(self, stamps: CpuStamps | None, cpu: int) -> None:
        self._stamps = stamps
        self._cpu = cpu
        self._pid = 0
        self._position = -1
        self._since_ns = 0
        self._cpu_at = 0
        self._state = b""

    def held_up(self, pid: int, position: int, now_ns: int) -> bool:
        """Whether the peer `pid`, at `position`, is held up as of `now_ns` (see the class)."""
        if pid <= 0:
            return False
        first_look = pid != self._pid or position != self._position
        if first_look:
            self._pid, self._position, self._since_ns = pid, position, now_ns
            self._cpu_at, self._state = -1, b""
        stamps = self._stamps
        if stamps is not None and stamps.held_up(self._cpu, now_ns):
            ran_for = stamps.stamp(self._cpu) - self._since_ns  # the CPU ran until then
            return ran_for <= RAN_AT_MOST_NS and self._state_of(pid) in _NOT_RUNNING
        if first_look:
            return False
        if self._cpu_at < 0:  # a system call, so only at the second look: most blocks are
            self._cpu_at = cpu_ns(pid)  # paid before it
        waited = now_ns - self._since_ns
        if waited < KEPT_OFF_AFTER_NS:
            return False
        cpu = cpu_ns(pid)
        if cpu < 0 or self._cpu_at < 0:
            return False  # gone: its death is told elsewhere
        if 2 * (cpu - self._cpu_at) >= waited:  # it is running: watch afresh
            self._since_ns, self._cpu_at, self._state = now_ns, cpu, b""
            return False
        # Only a stopped one: a runnable one may have spun in a module before a host stall.
        return self._state_of(pid) in STOPPED

    def _state_of(self, pid: int) -> bytes:
        if not self._state:  # read once per stretch: /proc is a file read
            self._state = process_state(pid)
        return self._state
