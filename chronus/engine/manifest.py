"""What a new supervisor needs to re-attach to a running engine: the manifest.

The supervisor hands it to the engine's minimal parent (see `parent.py`) once it is ready
and again whenever its processes change or a recording starts or ends; the parent keeps the
last one and gives it to the supervisor it starts when that one dies. It holds names and
process ids (the shared memory segments and named semaphores are the engine's state, and
outlive any supervisor), and what the new one must hold of the plugins: the versions the
slots use, the isolated modules' rings, the registry's records; and whether it was in an
Ableton Link session (the new one joins it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import synchronize
from typing import Any

from chronus.dsp.params import ParamSpec
from chronus.plugins.registry import PluginRecord

__all__ = [
    "HostedRing",
    "LinkKept",
    "Manifest",
    "MidiSetup",
    "PluginInUse",
    "Recording",
    "SeatNames",
    "WorkerNames",
    "reopen_semaphore",
    "semaphore_name",
    "unlink_semaphore",
]


@dataclass(frozen=True, slots=True)
class SeatNames:
    """The segments of one slot seat."""

    ring: str
    commands: str
    counters: str
    handover: str


@dataclass(frozen=True, slots=True)
class WorkerNames:
    """One slot worker: what a new keeper needs to watch it and to copy it."""

    pid: int
    role: str
    """`A`, `B` (the seat it renders in), `spare` or `idle`."""
    lifeline: int
    """Its lifeline in the table (-1: none)."""
    code: str
    """The fingerprint of the code it imported (`code_fingerprint`)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording in progress: a new supervisor goes on writing it."""

    name: str
    """The path as the client named it (replies and the status say this)."""
    file: str
    """Where the file is."""
    first_block: int
    """The block its frame 0 is."""
    length: int
    """The frames it stops at (0: until stopped)."""


@dataclass(frozen=True, slots=True)
class PluginInUse:
    """A plugin version the slots use: a new supervisor holds the same one, so that
    commands to its modules are accepted and new workers import it."""

    name: str
    version: str
    path: str
    """The store's copy, or a native plugin's reference (`<library>.so#<label>`)."""
    hosting: str
    """`inline` or `isolated`."""
    params: tuple[ParamSpec, ...]
    processor: bool
    warm: bool = True
    """Whether workers render it once after importing it (not a forced module's)."""


@dataclass(frozen=True, slots=True)
class HostedRing:
    """An isolated module and the ring the slots exchange its calls over: a new supervisor
    starts a host on it (its host died with the supervisor that made it)."""

    module_id: str
    type_name: str
    ring: str


@dataclass(frozen=True, slots=True)
class LinkKept:
    """Ableton Link as the supervisor had it: a new one joins the session again with the same
    quantum and start/stop sync."""

    enabled: bool
    quantum: int
    start_stop: bool


@dataclass(frozen=True, slots=True)
class MidiSetup:
    """MIDI in as a supervisor had it: a new one reads the same port, with the same latency,
    and routes the events as it did."""

    port: str | None
    """The MIDI source read (its full name; None: none)."""
    latency_ms: float
    reader: int
    """The pid of the MIDI process reading it (0: none): a new supervisor ends it and starts
    its own (it ends by itself too, its parent gone)."""
    target: str | None
    """The module notes play."""
    maps: tuple[tuple[int, str, str], ...]
    """CC number, module, parameter."""
    learning: tuple[str, str] | None = None
    """A learn not yet completed: module, parameter."""
    learner: tuple[Any, ...] | None = None
    """Who asked for it (a UDP client's address, told when a CC completes it)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """A running engine's shared memory, semaphores and processes, by name and pid."""

    boot: str
    """The engine's boot id (`/engine/now`): a client sees the same engine after a restart."""
    started_ns: int
    host: str
    port: int
    backend: str
    notice: str
    io: int
    """The audio I/O's pid."""
    io_spare: int
    """The spare audio I/O's pid (0: none). It waits for a word from the supervisor that
    made it, which a new one cannot give: the new one ends it and makes its own."""
    io_counters: str
    control: str
    tap: str
    cpu_stamps: str
    stampers: tuple[int, ...]
    prepared: str
    lifelines: str
    halt: str
    wakes: tuple[str, str]
    seats: tuple[SeatNames, SeatNames]
    workers: tuple[WorkerNames, ...]
    recording: Recording | None = None
    tallies: tuple[tuple[str, int], ...] = ()
    """The engine's counts so far (failovers, respawns, I/O restarts …), which the status
    reports: a new supervisor goes on counting from them."""
    plugins: tuple[PluginInUse, ...] = ()
    hosted: tuple[HostedRing, ...] = ()
    registry: tuple[PluginRecord, ...] = ()
    """The plugin registry's records (states, versions, validations, transitions)."""
    timeline: tuple[tuple[int, int, str, str], ...] = ()
    """The engine's latest events with their times (`SlotKeeper.timeline`): a new supervisor
    goes on from them, so that a post-mortem sees what came before the takeover. It and the
    fields after it come last, with defaults: a manifest pickled by a supervisor without them
    (its code older) unpickles the rest right."""
    link: LinkKept | None = None
    """Ableton Link's settings (None: an older supervisor's manifest)."""
    midi: MidiSetup | None = None
    """MIDI in's port and routes (None: none, or an older supervisor's manifest)."""
    midi_out: tuple[tuple[str, str, int], ...] = ()
    """MIDI out's routes (track, JACK port, channel 0–15): a new supervisor sends them on."""
    midi_clock: tuple[str, ...] | None = None
    """The MIDI clock's ports (None: off; empty: every port a track plays to)."""

    @property
    def pids(self) -> list[int]:
        """Every process of the engine below the supervisor."""
        return [self.io, *self.stampers, *(worker.pid for worker in self.workers)]


def semaphore_name(semaphore: synchronize.SemLock) -> str:
    """The name a multiprocessing semaphore was made under (spawn context: always one)."""
    inner: Any = getattr(semaphore, "_semlock")  # noqa: B009 (private, no typed way)
    return str(inner.name)


def reopen_semaphore(name: str) -> synchronize.Semaphore:
    """A semaphore another process made, opened by its name (OSError if it is gone)."""
    raw: Any = synchronize
    semaphore: Any = synchronize.Semaphore.__new__(synchronize.Semaphore)
    semaphore.__setstate__((0, raw.SEMAPHORE, raw.SEM_VALUE_MAX, name))  # as a spawn unpickles
    return semaphore  # type: ignore[no-any-return]


def unlink_semaphore(name: str) -> None:
    """Remove a re-opened semaphore's name (its maker died before it could)."""
    try:
        raw: Any = synchronize.SemLock
        raw._cleanup(name)
    except OSError:
        pass  # gone already
