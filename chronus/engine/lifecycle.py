"""Process lifecycle helpers shared by the engine's child processes."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import signal
import sys
from pathlib import Path

__all__ = ["code_fingerprint", "die_with_parent", "try_realtime"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux).

    Without it a supervisor killed with SIGKILL would leave its slots and audio I/O running,
    holding the device. Returns False where the platform has no such facility.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)


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


def code_fingerprint(user_modules: list[str]) -> str:
    """A digest of the code a worker renders with: chronus's sources and the user modules'.

    Workers with different code may not render the same samples from the same state, or even
    read each other's state, so a worker is only made a copy of one with the same fingerprint.
    It is taken from the files on disk, which is what a new worker imports.
    """
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
    return digest.hexdigest()
