"""Process lifecycle helpers shared by the engine's child processes."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

__all__ = ["die_with_parent", "try_realtime"]

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
