"""The supervisor's side of the two slot seats and of the worker processes that fill them.

A seat (A or B) is fixed: its audio ring, command ring, counters and handover area live as long
as the engine. Workers are disposable: a pre-warmed worker is given a seat, renders in it, and
when it dies the seat gets the next warm worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from multiprocessing import shared_memory
from multiprocessing.connection import Connection

from chronus.engine.launcher import ChildProcess
from chronus.engine.manifest import SeatNames
from chronus.engine.rings import AudioRing, CommandRing, SharedCounters, unique_name
from chronus.engine.slot import SeatConfig
from chronus.engine.stats import SlotField, decision_table

__all__ = ["HANDOVER_BYTES", "SEAT_NAMES", "Seat", "SeatState", "Worker"]

SEAT_NAMES = ("A", "B")

HANDOVER_BYTES = 256 << 20
"""Room for one slot's pickled state; shared memory is sparse, so unused room costs nothing."""


class SeatState(Enum):
    """What a seat is doing."""

    EMPTY = "empty"
    JOINING = "joining"
    RUNNING = "running"
    DEAD = "dead"
    SUSPENDED = "suspended"


@dataclass(eq=False)
class Worker:
    """A slot worker process and the pipe the supervisor talks to it through."""

    process: ChildProcess
    conn: Connection
    spawned_ns: int
    pid: int = 0
    warm: bool = False
    warm_errors: list[str] = field(default_factory=list)
    code: str = ""
    """The fingerprint of the code it imported (`code_fingerprint`), known once it is warm."""
    lifeline: int = -1
    """Its lifeline in the keeper's table, -1 if it has none."""
    exit_seen_ns: int = 0
    """When its lifeline ended (it is dying), 0 while it lives or if it has no lifeline."""
    failed_over_at: int = -1
    """The block at which the standby took over when this active worker's lifeline ended."""
    killed: bool = False
    """Whether the keeper has sent it SIGKILL (it may take a while to die)."""
    stub: Connection | None = None
    """For a worker a supervisor before this one started, whose own pipe led to that one:
    the far end of the pipe `conn` is, held open so that `conn` never reads an end."""
    plugins: set[tuple[str, str]] = field(default_factory=set)
    """The plugin versions (name, version) it has imported and warmed."""
    plugins_asked: set[tuple[str, str]] = field(default_factory=set)
    """Those it was sent and has not answered for yet."""
    humble: bool = False
    """Whether it warms up at `HUMBLE_NICE` (a spare made while the slots play)."""
    failure: str = ""
    """The error it ended with, as it told it before exiting (empty: none told)."""

    @property
    def adopted(self) -> bool:
        """Whether a supervisor before this one started it (it cannot be sent anything)."""
        return self.stub is not None

    def kill(self) -> None:
        """SIGKILL the process (a hung or surplus worker)."""
        if self.process.is_alive():
            self.process.kill()
            self.killed = True


@dataclass(eq=False)
class Seat:
    """One seat's shared memory and its bookkeeping."""

    index: int
    ring: AudioRing
    commands: CommandRing
    counters: SharedCounters
    handover: shared_memory.SharedMemory
    state: SeatState = SeatState.EMPTY
    worker: Worker | None = None
    accepting: bool = False
    """Whether new commands are pushed to this seat's ring (its worker is, or will be, in step)."""
    restarts: int = 0
    serving_since_ns: int = 0
    note: str = ""
    retiring: str = ""
    """Why the supervisor is replacing this seat's healthy worker (after a commit), if it is."""
    code: str = ""
    """The code fingerprint of the last worker given this seat (its checkpoints are in it)."""
    beat_ns: int = 0
    """The worker's last heartbeat the keeper has seen."""
    beat_cpu_ns: int = -1
    """The worker's CPU time when the keeper saw that heartbeat (-1: not read)."""
    retry_at: float = 0.0
    """When a seat suspended for a crash loop tries again (monotonic s; 0: never)."""

    @classmethod
    def create(cls, index: int, capacity: int, block: int, rate: int) -> Seat:
        """Allocate the seat's shared memory."""
        name = SEAT_NAMES[index].lower()
        seat = cls(
            index=index,
            ring=AudioRing.create(unique_name(f"audio-{name}"), capacity, block, rate),
            commands=CommandRing.create(unique_name(f"cmd-{name}")),
            counters=SharedCounters.create(unique_name(f"slot-{name}"), SlotField.SIZE),
            handover=shared_memory.SharedMemory(
                name=unique_name(f"handover-{name}"), create=True, size=HANDOVER_BYTES
            ),
        )
        decision_table(seat.counters.values)[:, 0] = -1  # no command decided yet
        return seat

    @classmethod
    def attach(cls, index: int, names: SeatNames) -> Seat:
        """Take over a seat a supervisor before this one made (it died; the seat lives on,
        and this process frees it at the end)."""
        ring = AudioRing.attach(names.ring)
        commands = CommandRing.attach(names.commands)
        counters = SharedCounters.attach(names.counters, SlotField.SIZE)
        for part in (ring, commands, counters):
            part.adopt()
        handover = shared_memory.SharedMemory(name=names.handover)
        return cls(index, ring, commands, counters, handover)

    @property
    def names(self) -> SeatNames:
        """Its segments' names, for the manifest."""
        return SeatNames(self.ring.name, self.commands.name, self.counters.name, self.handover.name)

    @property
    def name(self) -> str:
        """`A` or `B`."""
        return SEAT_NAMES[self.index]

    @property
    def in_step(self) -> bool:
        """Whether its worker runs and is meant to render what the other seat renders: not
        joining, and not being retired (a retired worker runs on, holding what it held, until
        its death is seen)."""
        return self.state is SeatState.RUNNING and self.worker is not None and not self.retiring

    def config(self, peer: Seat) -> SeatConfig:
        """The names a worker attaches to in this seat."""
        return SeatConfig(
            seat=self.index,
            ring=self.ring.name,
            peer_ring=peer.ring.name,
            peer_counters=peer.counters.name,
            commands=self.commands.name,
            counters=self.counters.name,
            handover=self.handover.name,
        )

    def close(self) -> None:
        """Free the shared memory (the supervisor created it)."""
        self.ring.close()
        self.commands.close()
        self.counters.close()
        self.handover.close()
        self.handover.unlink()
