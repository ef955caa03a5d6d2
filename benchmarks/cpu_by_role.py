"""Where an engine's CPU goes, by process role, and at which scheduling policy each runs.

`CpuByRole` samples every titled process of an engine's group (`/proc/<pid>/stat`, user +
system, 10 ms ticks) and credits each sample's growth to the title the process had then: a
plugin host's warm-up as a spare is the spare's, its renders once serving the host's. For
the isolated-plugin soak (`isolated_soak.py`): which processes eat the two cores the slots
render on, and whether any of them runs at a real-time priority it should not.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from engine_watch import group_processes

__all__ = ["CpuByRole", "policy_of", "role_of"]

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
_POLICIES = {0: "other", 1: "fifo", 2: "rr", 3: "batch", 5: "idle"}
_HOST = re.compile(r"^plugin host (\S+)(?: \((\w+)\))?$")


def role_of(title: str) -> str:
    """A title as a role: `slot A (active)` → `slot A`, `plugin host tap_reverb` →
    `plugin host (serving)`, `plugin host cmt (ready)` → `plugin host (ready)`."""
    if title.startswith("plugin host"):
        match = _HOST.match(title)
        if title == "plugin host (spare)" or match is None:
            return "plugin host (spare)"
        return f"plugin host ({match.group(2) or 'serving'})"
    for prefix in ("slot A", "slot B", "supervisor (standby)", "supervisor", "cpu stamper"):
        if title.startswith(prefix):
            return prefix
    return title


def policy_of(pid: int) -> str:
    """`fifo 59`, `other nice 0`, …; "" if the process is gone."""
    try:
        policy = os.sched_getscheduler(pid)
        if policy in (1, 2):
            return f"{_POLICIES[policy]} {os.sched_getparam(pid).sched_priority}"
        return f"{_POLICIES.get(policy, str(policy))} nice {os.getpriority(os.PRIO_PROCESS, pid)}"
    except OSError:
        return ""


def _ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


class CpuByRole:
    """CPU seconds by role over the samples taken, and the policies seen by role."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.last: dict[int, int] = {}
        self.seconds: dict[str, float] = {}
        self.policies: dict[str, set[str]] = {}
        self.sample(credit=False)

    def sample(self, credit: bool = True) -> None:
        """Credit each process's CPU since the last sample to its role now (a process born
        since: all of its CPU)."""
        for pid, title in group_processes(self.pgid).items():
            ticks = _ticks(pid)
            if ticks is None:
                continue
            role = role_of(title)
            if credit:
                grown = ticks - self.last.get(pid, 0)
                self.seconds[role] = self.seconds.get(role, 0.0) + grown * TICK_S
            self.last[pid] = ticks
            policy = policy_of(pid)
            if policy:
                self.policies.setdefault(role, set()).add(policy)

    def report(self, wall_s: float) -> dict[str, Any]:
        """Each role's share of one core over `wall_s` (%), and its policies."""
        return {
            role: {
                "cpu_pct_of_a_core": round(100 * seconds / wall_s, 1),
                "policies": sorted(self.policies.get(role, ())),
            }
            for role, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }
