"""Whose shared memory is it: the names the engine gives its segments and semaphores, and the
sweep of what dead engines left in /dev/shm.

Every segment and named semaphore an engine makes starts with its owner's tag,
`chronus-<pid>-<start>-p<ns>-`, where `start` is the process's start time (clock ticks since
boot, field 22 of /proc/<pid>/stat): a pid alone can be reused, the pair cannot; and `ns` is its
pid namespace (the inode of /proc/self/ns/pid). A name is a dead engine's when no process has
that pid with that start time. A SIGKILL gives the engine no chance to unlink anything, so the
next engine (or `chronus doctor`) removes what the dead left, and only that: nothing of a live
owner, and nothing any live process still maps.

Engines in two pid namespaces sharing one /dev/shm (containers, `unshare --pid`) see each
other's pids as someone else's or as nobody's, so a name from another namespace is never
judged dead here: it is not this engine's to remove. Names without a namespace (`-<start>-`
alone) are taken as this namespace's.

Names from before the start time was in them (`chronus-<pid>-<kind>-…`) count as dead only
when no process has the pid at all. multiprocessing's own names (`sem.mp-…`) cannot be told
apart from other programs' and are never touched; the engine names its own semaphores instead
(`name_semaphores`).

>>> owner_of("chronus-41-7730-p4026531836-io-1a2b3c")
Owner(pid=41, start=7730, ns=4026531836)
>>> owner_of("chronus-41-7730-io-1a2b3c")
Owner(pid=41, start=7730, ns=None)
>>> owner_of("sem.chronus-41-7730-sem-k2x9aa1q")
Owner(pid=41, start=7730, ns=None)
>>> owner_of("chronus-41-io-1a2b3c")
Owner(pid=41, start=None, ns=None)
>>> owner_of("sem.mp-k2x9aa1q") is None
True
"""

from __future__ import annotations

import multiprocessing
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

__all__ = [
    "SHM",
    "TAG_ENV",
    "Leftover",
    "Owner",
    "Sweep",
    "Watch",
    "engine_tag",
    "find_leftovers",
    "mapped_names",
    "name_semaphores",
    "owner_alive",
    "owner_of",
    "pid_namespace",
    "process_start",
    "segment_name",
    "start_from_stat",
    "summary",
    "sweep",
]

SHM: Final = Path("/dev/shm")
"""Where Linux keeps POSIX shared memory and named semaphores (`sem.` + the name)."""

_NAME = re.compile(r"^(?:sem\.)?chronus-(\d+)-(?:(\d+)-)?(?:p(\d+)-)?[a-z]")
"""A tag with a start time (digits) and a pid namespace (`p` and digits), or an older one
without the namespace, or with the pid alone (then a kind: a letter)."""


class Owner(NamedTuple):
    """The process a name says made it: its pid, start time and pid namespace (None where
    an older name has none)."""

    pid: int
    start: int | None
    ns: int | None = None


def pid_namespace(pid: int | str = "self") -> int | None:
    """The pid namespace process `pid` is in (the inode of its /proc/<pid>/ns/pid), or None
    where it cannot be read."""
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None if none runs."""
    try:
        return start_from_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError):
        return None


def start_from_stat(stat: str) -> int | None:
    """The start time (field 22) in the text of a /proc/<pid>/stat, or None if it has none
    or the process has exited (a zombie not yet reaped runs nothing and maps nothing)."""
    try:  # the command name (field 2) may hold spaces and parentheses: count after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (IndexError, ValueError):
        return None


_tags: dict[int, str] = {}

TAG_ENV: Final = "CHRONUS_ENGINE_TAG"
"""Set by the engine's minimal parent (see `parent.py`) to its own tag: the names every
supervisor under it makes are then the parent's, and outlive a supervisor that dies."""


def engine_tag() -> str:
    """This process's tag, `chronus-<pid>-<start>-p<ns>`: the start of every name it makes
    (the engine's parent's, under one)."""
    pid = os.getpid()  # a fork has its own pid, and so its own tag
    tag = _tags.get(pid)
    if tag is None:
        given = os.environ.get(TAG_ENV, "")
        if not owner_of(f"{given}-x"):
            ns = pid_namespace()
            given = f"chronus-{pid}-{process_start(pid) or 0}" + (f"-p{ns}" if ns else "")
        tag = given
        _tags[pid] = tag
    return tag


def segment_name(kind: str) -> str:
    """A shared-memory name that no other engine on this machine will pick, and that says
    whose it is."""
    return f"{engine_tag()}-{kind}-{secrets.token_hex(3)}"


def name_semaphores() -> None:
    """Have multiprocessing name this process's semaphores `chronus-<pid>-<start>-sem-…`.

    multiprocessing has no public way to name a semaphore; the prefix it draws names from
    (`/mp` by default) is the one place to say it.
    """
    config = getattr(multiprocessing.current_process(), "_config", None)
    if isinstance(config, dict):
        config["semprefix"] = f"/{engine_tag()}-sem"


def owner_of(name: str) -> Owner | None:
    """The owner a file name in /dev/shm names, or None if it is not the engine's."""
    found = _NAME.match(name)
    if found is None:
        return None
    start, ns = found.group(2), found.group(3)
    return Owner(
        int(found.group(1)),
        int(start) if start is not None else None,
        int(ns) if ns is not None else None,
    )


def owner_alive(owner: Owner) -> bool:
    """Whether the process a name was made by still runs (a reused pid is not it); an
    owner in another pid namespace counts as alive, since its pid means nothing here."""
    if owner.ns is not None and owner.ns != pid_namespace():
        return True
    start = process_start(owner.pid)
    if start is None:
        return False
    return owner.start is None or start == owner.start


@dataclass(frozen=True)
class Leftover:
    """A segment or semaphore of a dead engine: its file and the memory it holds."""

    path: Path
    owner: Owner
    bytes: int


def find_leftovers(
    folder: Path = SHM, alive: Callable[[Owner], bool] = owner_alive
) -> list[Leftover]:
    """The engine's segments and semaphores in `folder` whose owner is dead, by name."""
    found: list[Leftover] = []
    verdicts: dict[Owner, bool] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        owner = owner_of(entry.name)
        if owner is None:
            continue
        if owner not in verdicts:
            verdicts[owner] = alive(owner)
        if verdicts[owner]:
            continue
        try:
            used = entry.stat(follow_symlinks=False).st_blocks * 512  # tmpfs: memory in use
        except OSError:
            continue  # gone meanwhile
        found.append(Leftover(Path(entry.path), owner, used))
    return sorted(found, key=lambda leftover: leftover.path.name)


def summary(leftovers: Iterable[Leftover]) -> dict[str, int]:
    """How many segments and semaphores, and how many bytes, as `/engine/status` reports."""
    items = list(leftovers)
    semaphores = sum(item.path.name.startswith("sem.") for item in items)
    return {
        "segments": len(items) - semaphores,
        "semaphores": semaphores,
        "bytes": sum(item.bytes for item in items),
        "engines": len({item.owner for item in items}),
    }


class Watch:
    """`summary(find_leftovers())`, looked for again at most every `every_s` seconds (the
    status is asked for often, and /dev/shm changes seldom)."""

    def __init__(self, every_s: float = 5.0, folder: Path = SHM) -> None:
        self._every_s = every_s
        self._folder = folder
        self._next = 0.0
        self._last: dict[str, int] = {}

    def summary(self) -> dict[str, int]:
        """What dead engines left, as `/engine/status` reports it."""
        now = time.monotonic()
        if now >= self._next:
            self._last = summary(find_leftovers(self._folder))
            self._next = now + self._every_s
        return dict(self._last)


def mapped_names(folder: Path = SHM) -> set[str]:
    """The engine's files in `folder` that some process maps now (a semaphore is mapped too)."""
    pattern = re.compile(re.escape(f"{folder}/").encode() + rb"((?:sem\.)?chronus-[^\s]+)")
    names: set[str] = set()
    for proc in os.scandir("/proc"):
        if not proc.name.isdigit():
            continue
        try:
            with open(f"{proc.path}/maps", "rb") as maps:
                text = maps.read()
        except OSError:
            continue  # gone, or not ours to read
        names.update(name.decode() for name in pattern.findall(text))
    return names


@dataclass(frozen=True)
class Sweep:
    """What one sweep removed, what it left (still mapped by a live process) and its time."""

    removed: list[Leftover]
    kept: list[Leftover]
    seconds: float

    def line(self) -> str:
        """One line for the log, or "" when there was nothing."""
        if not self.removed and not self.kept:
            return ""
        counts = summary(self.removed)
        pids = ", ".join(str(pid) for pid in sorted({item.owner.pid for item in self.removed}))
        text = (
            f"removed {counts['segments']} shared-memory segments and {counts['semaphores']} "
            f"semaphores ({counts['bytes'] / 1e6:.1f} MB) that {counts['engines']} dead "
            f"engine(s) left in /dev/shm (pids {pids or '-'}) in {1e3 * self.seconds:.1f} ms"
        )
        if self.kept:
            text += f"; kept {len(self.kept)} (a live process maps them, or they are not ours)"
        return text


def sweep(
    folder: Path = SHM,
    alive: Callable[[Owner], bool] = owner_alive,
    mapped: Callable[[Path], set[str]] = mapped_names,
) -> Sweep:
    """Remove the segments and semaphores of dead engines from `folder`."""
    began = time.perf_counter()
    leftovers = find_leftovers(folder, alive)
    removed: list[Leftover] = []
    kept: list[Leftover] = []
    if leftovers:
        try:
            in_use = mapped(folder)  # a dying engine's child may hold them a moment longer
        except OSError:  # no /proc to read: nothing can be known not to be in use
            return Sweep([], leftovers, time.perf_counter() - began)
        for leftover in leftovers:
            if leftover.path.name in in_use:
                kept.append(leftover)
                continue
            try:
                leftover.path.unlink()
            except FileNotFoundError:
                continue  # its resource tracker was quicker
            except OSError:
                kept.append(leftover)
                continue
            removed.append(leftover)
    return Sweep(removed, kept, time.perf_counter() - began)
