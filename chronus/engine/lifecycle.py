"""Process lifecycle helpers shared by the engine's child processes."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
import signal
import sys
from pathlib import Path

__all__ = [
    "HUMBLE_NICE",
    "LOG_FORMAT",
    "become_subreaper",
    "code_fingerprint",
    "die_with_parent",
    "libc",
    "step_aside",
    "step_back",
    "try_realtime",
]

LOG_FORMAT = "chronus engine: %(levelname)s: %(message)s"
"""How every engine process writes its log lines to stderr."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_fingerprints: dict[tuple[str, ...], str] = {}


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library (Linux), loaded once per process and inherited by forks. By its glibc
    name first: `find_library` runs `ldconfig` in a subprocess, which a slot's capture child
    must not do on the slot's CPU. Raises OSError where there is none."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _prctl(option: int, value: int) -> bool:
    return bool(libc().prctl(option, value, 0, 0, 0) == 0)


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux).

    Without it a supervisor killed with SIGKILL would leave its slots and audio I/O running,
    holding the device. Returns False where the platform has no such facility.
    """
    if not sys.platform.startswith("linux"):
        return False
    return _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux): they become its children.

    The supervisor does, so that the processes the template forks become its own. Returns
    False where the platform has no such facility.
    """
    if not sys.platform.startswith("linux"):
        return False
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def try_realtime(priority: int) -> bool:
    """Move this process to SCHED_FIFO at `priority` if the system allows it.

    The slot and the null backend need it on a busy machine: a render that is preempted for
    longer than the lead (5.3 ms by default) is an underrun. Returns False where it is refused
    (no privilege, no such policy); the engine then runs at normal priority and says so.
    """
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError):
        return False
    return True


HUMBLE_NICE = 19
"""The nice value of a process that works only in the CPU time nobody else wants."""


def step_aside() -> bool:
    """Lower this process to `HUMBLE_NICE`, if it may come back (`step_back`) afterwards:
    it is root, or its RLIMIT_NICE lets it reach nice 0 again. Returns whether it did."""
    if not hasattr(os, "setpriority"):
        return False
    try:
        import resource

        may_return = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20
        if may_return:
            os.setpriority(os.PRIO_PROCESS, 0, HUMBLE_NICE)
    except (ImportError, OSError, ValueError):
        return False
    return may_return


def step_back() -> None:
    """Back to nice 0 after `step_aside` (an error leaves it where it is)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:
        pass


def code_fingerprint(user_modules: list[str]) -> str:
    """A digest of the code a worker renders with: chronus's sources and the user modules'.

    Workers with different code may not render the same samples from the same state, or even
    read each other's state, so a worker is only made a copy of one with the same fingerprint.
    It is taken from the files on disk once per process, at its first call, just after the
    process imported them: a process forked from the template has the template's code, and
    reports the template's fingerprint.
    """
    key = tuple(user_modules)
    if key in _fingerprints:
        return _fingerprints[key]
    digest = hashlib.blake2b(digest_size=12)
    package = Path(__file__).resolve().parent.parent
    files = sorted(package.rglob("*.py"))
    for name in user_modules:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            files.append(Path(str(module.__file__)))
    for path in files:
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
    _fingerprints[key] = digest.hexdigest()
    return _fingerprints[key]
