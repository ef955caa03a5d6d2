"""Looking at a running engine from outside: its processes by title, their memory, and what
it leaves in /dev/shm (for `chaos.py` and `fuzz_osc.py`).

The engine runs in a process group of its own (`EngineProcess(own_group=True)`), so every
process it starts, whoever forked it, is found by that group's id; each names itself
`chronus: <what>` (`chronus/engine/titles.py`).
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np

from chronus.engine.leftovers import SHM, owner_of
from chronus.engine.titles import PREFIX
from chronus.session.offline import render_session
from chronus.session.stamped_log import StampedSession
from chronus.session.wav import read_wav

__all__ = [
    "group_processes",
    "kill_group",
    "leaked_names",
    "recording_vs_log",
    "role",
    "rss_by_title",
    "zombies",
]

_ROLE = re.compile(r"^(supervisor|slot [AB])\b")


def group_processes(pgid: int, every: bool = False) -> dict[int, str]:
    """pid → title (without `chronus: `) of every live process of the group that has one
    (`every`: of the untitled ones too, by their first argument)."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            title = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, ValueError, IndexError):
            continue  # gone while we looked
        if title.startswith(PREFIX):
            found[int(entry)] = title[len(PREFIX) :].strip()
        elif every:
            found[int(entry)] = title
    return found


def zombies(pgid: int) -> int:
    """Processes of the group that have exited but that their parent has not reaped."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            count += fields[0] == "Z" and int(fields[2]) == pgid
    return count


def role(title: str) -> str:
    """A title without what changes while the process lives (`slot A (active)` → `slot A`,
    `supervisor :57120` → `supervisor`)."""
    match = _ROLE.match(title)
    return match.group(1) if match else title


def rss_by_title(pgid: int) -> dict[str, tuple[int, float]]:
    """role → (pid, resident memory in MB) of each titled process of the group."""
    out: dict[str, tuple[int, float]] = {}
    for pid, title in sorted(group_processes(pgid).items()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0
        )
        name = role(title)
        while name in out:  # two of a kind (a spare being replaced): keep both
            name += "'"
        out[name] = (pid, kb / 1024)
    return out


def settled_rss(
    pgid: int, timeout_s: float = 20.0, step_s: float = 1.0
) -> dict[str, tuple[int, float]]:
    """`rss_by_title` once no process's resident memory moved by 1 MB or more in `step_s`
    (the last reading after `timeout_s`): a baseline for growth. A process still starting
    (a template or a standby supervisor importing) is not one: taken then, its warm-up
    read as 50 MB of growth in a minute."""
    deadline = time.monotonic() + timeout_s
    last = rss_by_title(pgid)
    while time.monotonic() < deadline:
        time.sleep(step_s)
        now = rss_by_title(pgid)
        if now.keys() == last.keys() and all(
            now[t][0] == last[t][0] and abs(now[t][1] - last[t][1]) < 1.0 for t in now
        ):
            return now
        last = now
    return last


def leaked_names(pids: set[int]) -> list[str]:
    """Names in /dev/shm (segments and semaphores) owned by any of `pids`."""
    names = []
    for path in SHM.iterdir() if SHM.is_dir() else ():
        owner = owner_of(path.name)
        if owner is not None and owner.pid in pids:
            names.append(path.name)
    return sorted(names)


def kill_group(pgid: int, grace_s: float = 3.0) -> list[str]:
    """Wait up to `grace_s` for the group to end by itself; SIGKILL what is left of it.
    Returns the titles of the processes that had to be killed (orphans)."""
    deadline = time.monotonic() + grace_s
    while (left := group_processes(pgid, every=True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.2)
    return sorted(left.values())


def recording_vs_log(session: StampedSession, wav: Path, played: int) -> tuple[list[int], int]:
    """The blocks of the engine's recording `wav` that differ from the offline render of its
    session log, among its first `played` blocks (the I/O's `blocks_played` from the last
    status: the rest is the shutdown's fade); and how many blocks were compared. Raises
    OSError or ValueError if the recording cannot be read."""
    recorded, _ = read_wav(wav)
    frames = min(len(recorded), played * session.block)
    offline = render_session(session, frames)
    rows = np.flatnonzero(np.any(recorded[:frames] != offline, axis=1))
    return sorted({int(r) // session.block for r in rows}), frames // session.block
