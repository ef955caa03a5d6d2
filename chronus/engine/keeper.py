"""The slot keeper: two lockstep slots, a warm spare, failover, the watchdog and respawns.

Seat A starts active and seat B as its hot standby; both get every stamped command. The keeper
watches the workers through their lifelines (a death is known before the process is reaped),
their process sentinels (exit codes) and the heartbeats they write in shared memory (hangs:
`HANG_S` without one is death). When the active dies, the audio I/O has
already taken the standby's copy of the missing block; the keeper makes the standby active,
gives the empty seat the pre-warmed spare, asks the active for its state at a block boundary,
replays to the newcomer the commands stamped after it, and the newcomer rejoins lockstep.
Respawns follow `RespawnPolicy`. If both seats die, a worker starts from the newest checkpoint
a slot wrote (about once a second) and catches up; without one, from the patch.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from io import BytesIO
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Semaphore
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp.crumbs import crumb_of
from chronus.dsp.patch import Patch
from chronus.engine.backoff import RespawnPolicy
from chronus.engine.launcher import Launcher, LaunchError
from chronus.engine.lifelines import DeathWatch, Lifelines
from chronus.engine.manifest import Manifest, WorkerNames, reopen_semaphore
from chronus.engine.news import News
from chronus.engine.peer import EXIT_FAULT, STOPPED, cpu_ns, process_state
from chronus.engine.plugin_feed import Holder, PluginFeed
from chronus.engine.rings import AudioRing, SharedCounters, unique_name
from chronus.engine.seats import SEAT_NAMES, Seat, SeatState, Worker
from chronus.engine.slot import (
    CRASH_SIGNALS,
    HEARTBEAT_S,
    FreshStart,
    JoinStart,
    WorkerConfig,
    checkpoint_region,
    worker_main,
)
from chronus.engine.stats import (
    DECISION_SLOTS,
    ControlField,
    IoField,
    ProcessState,
    SlotField,
    checkpoint_table,
    decision_table,
    summary,
    timing_percentiles,
)
from chronus.engine.template import EXIT_NOT_ADOPTED
from chronus.protocol import ADDRESS_SPACE, Message, validate

__all__ = [
    "HANG_S",
    "LOG_FLOOR",
    "LOG_LENGTH",
    "RETRY_SUSPENDED_S",
    "STARVED_S",
    "Lenient",
    "SlotKeeper",
    "attach",
    "judge_silence",
    "newest_checkpoint_seq",
]

HANG_S = 3 * HEARTBEAT_S
"""A running slot with no heartbeat for this long, while the device went on taking blocks and
it kept a CPU busy, is hung: it is killed and treated as dead. (A slot beats its heart at
every block it renders and every few commands it applies, so a slow one is not hung.)"""

STARVED_S = 2.0
"""A slot with no heartbeat that has not been given a CPU (less than half the time since its
last heartbeat) is left alone this long before it is replaced: a new one would starve too."""

RETRY_SUSPENDED_S = 30.0
"""A seat suspended for a crash loop tries again after this long, or as soon as a module is
removed (the load that killed its workers may be gone)."""

CATCH_UP_S = 2.0
"""The longest a new spare waits for a joiner to catch up (see `SlotKeeper._catching_up`)."""

LIFELINES = 16
"""Lifelines in the table: a worker holds one from spawn until it is reaped (3 live at once)."""

LOG_LENGTH = 1 << 16
"""Stamped commands kept for replay to a joining worker (it needs those after its snapshot)."""
TIMELINE_LENGTH = 128
"""Events kept with their times: a minute of a slot SIGKILLed every 5 s tells about 60."""

LOG_FLOOR = 4096
"""The most recent commands kept whatever the checkpoints say (see `_forget_old_commands`)."""

log = logging.getLogger("chronus.engine")

_Attached = tuple[Lifelines | None, tuple[Seat, Seat], tuple[Semaphore, Semaphore]]
"""A dead supervisor's lifelines, seats and wakes, for a keeper that takes them over."""


def attach(manifest: Manifest) -> _Attached:
    """The lifelines, seats and wakes of a supervisor that died, taken over (this process
    frees them at the end); OSError if one is gone."""
    lifelines = Lifelines.attach(manifest.lifelines) if manifest.lifelines else None
    if lifelines is not None:
        lifelines.adopt()
    seats = (Seat.attach(0, manifest.seats[0]), Seat.attach(1, manifest.seats[1]))
    wakes = (reopen_semaphore(manifest.wakes[0]), reopen_semaphore(manifest.wakes[1]))
    return lifelines, seats, wakes


class SlotKeeper:
    """Owns the seats, the workers and the spare; decides failover and respawns."""

    def __init__(
        self,
        launcher: Launcher,
        ctx: SpawnContext,
        config: WorkerConfig,
        io: SharedCounters,
        control: SharedCounters,
        patch: Callable[[], Patch],
        attached: _Attached | None = None,
    ) -> None:
        self._launcher = launcher
        self._ctx = ctx
        if attached is None:
            lifelines = Lifelines.create(unique_name("lifelines"), LIFELINES)
            capacity = max(8, 4 * config.lead)
            seats = (
                Seat.create(0, capacity, config.block, config.rate),
                Seat.create(1, capacity, config.block, config.rate),
            )
            wakes: tuple[Semaphore, Semaphore] = (ctx.Semaphore(0), ctx.Semaphore(0))
        else:
            lifelines, seats, wakes = attached
        self.deaths: DeathWatch[Worker] | None = DeathWatch(lifelines) if lifelines else None
        """Tells of a worker's death before it is reaped; None where there are no lifelines."""
        self._config = replace(config, lifelines=lifelines.name if lifelines else "")
        self._io = io
        self._control = control
        self._patch = patch
        self.seats = seats
        self.wakes = wakes
        self.policy = RespawnPolicy()
        self._hang_blocks = math.ceil(HANG_S * config.rate / config.block)
        self.failovers = 0
        self.last_failover_block = 0
        """The block from which the audio I/O played the new active, at the last failover."""
        self.respawns = 0
        self.divergences = 0
        self.overtaken = 0
        self.last_death_ns = 0
        """CLOCK_MONOTONIC time at which the last worker's death was seen (its lifeline, or
        its sentinel where it had none)."""
        self.first_overtaken = -1
        self.events: deque[str] = deque(maxlen=32)
        self.news = News()
        """The same events for clients, with a serial and a kind (see `news.py`)."""
        self._timeline: deque[tuple[int, int, str, str]] = deque(maxlen=TIMELINE_LENGTH)
        """(CLOCK_MONOTONIC ns, block the I/O played, kind, text) of each event, for a
        post-mortem that sets them against underruns and host stalls."""
        self._spare: Worker | None = None
        self._spare_due = 0.0
        self._due: dict[int, float] = {}
        self._join: tuple[Seat, Seat, int] | None = None
        self._join_ns = [0, 0]
        """When the state of the seat being joined was asked for, and sent to the joiner."""
        self.last_rejoin: dict[str, float] = {}
        """The last join's times: from the death seen to the joiner running in lockstep, how
        long the active took to capture its state (as the supervisor saw it), and how long the
        joiner took to load it and start."""
        self._log: deque[tuple[int, int, bytes, int]] = deque(maxlen=LOG_LENGTH)
        """(seq, stamp, payload, seat index or -1 for both) of recent commands."""
        self._seq = 0
        self._workers: list[Worker] = []
        self.quarantined: dict[str, str] = {}
        """Modules that took a slot down with them, and what happened; never run again."""
        self._to_remove: list[str] = []
        self.plugins = PluginFeed(control, self._event)
        """The plugin code every worker must hold (see `plugin_feed`)."""
        self.in_use: dict[str, tuple[str, str]] = {}
        """The plugins the slots use (name → version, store path), for a slot rebuilt from
        the patch: kept by `PluginLoads` as it sends `/plugins/use` and `/plugins/forget`."""
        self.hosting: dict[str, str] = {}
        """Where each plugin in use runs (`inline` or `isolated`), for the same."""

    # -- taking over from a supervisor that died -------------------------------------------------

    def tallies(self) -> dict[str, int]:
        """The counts the status reports, for the manifest."""
        return {
            "failovers": self.failovers, "respawns": self.respawns,
            "divergences": self.divergences, "overtaken": self.overtaken,
        }  # fmt: skip

    def take_over(
        self,
        workers: tuple[WorkerNames, ...],
        tallies: dict[str, int],
        timeline: tuple[tuple[int, int, str, str], ...] = (),
    ) -> None:
        """Hold the running slots of a supervisor that died (this keeper was made on its
        seats: `attached`): their workers, watched through their lifelines and pidfds, the
        next command sequence number and the recent commands (for joiners) as the command
        rings hold them.

        The spare ended with its pipe to the dead supervisor; the first `tick` makes a new
        one. A seat without a worker is filled as soon as there is one, and a commit that
        was being built in the standby is dropped: the standby is replaced by a copy of the
        active. Then `tick` renews the adopted workers one by one (`_renew`).
        """
        self.failovers = tallies.get("failovers", 0)
        self.respawns = tallies.get("respawns", 0)
        self.divergences = tallies.get("divergences", 0)
        self.overtaken = tallies.get("overtaken", 0)
        self._timeline.extendleft(reversed(timeline))
        self._take_workers(workers)
        self._continue_commands()  # after: it completes a push to the seats now running

    def _end_unseated(self, names: WorkerNames) -> None:
        """End a worker the dead supervisor had not seated (its spare, which waits for a
        word only its maker could give, warming up meanwhile at the lowest priority).

        Until it is gone its lifeline stays taken: leased to a new worker, the line would be
        armed again under it, and the two would share one mutex (whichever takes it second
        blocks in `hold` until the other dies, then fails on its dead owner).
        """
        try:
            process = self._launcher.adopt(names.pid, "chronus-slot")
        except ProcessLookupError:
            return
        ours, stub = self._ctx.Pipe(duplex=True)
        worker = Worker(process, ours, time.monotonic_ns(), pid=names.pid, stub=stub)
        worker.lifeline = names.lifeline
        self._workers.append(worker)
        if self.deaths is not None and names.lifeline >= 0:
            self.deaths.claim(names.lifeline)
            self.deaths.watch(names.lifeline, worker)
        worker.kill()

    def _take_workers(self, workers: tuple[WorkerNames, ...]) -> None:
        now, now_ns = time.monotonic(), time.monotonic_ns()
        for names in workers:
            if names.role not in SEAT_NAMES:
                self._end_unseated(names)
                continue
            try:
                process = self._launcher.adopt(names.pid, "chronus-slot")
            except ProcessLookupError:
                continue
            ours, stub = self._ctx.Pipe(duplex=True)
            worker = Worker(process, ours, now_ns, pid=names.pid, warm=True, code=names.code)
            worker.lifeline, worker.stub = names.lifeline, stub
            self._workers.append(worker)
            if self.deaths is not None and names.lifeline >= 0:
                self.deaths.claim(names.lifeline)
                self.deaths.watch(names.lifeline, worker)
            seat = self.seats[SEAT_NAMES.index(names.role)]
            seat.worker, seat.code = worker, worker.code
            seat.state, seat.accepting = SeatState.RUNNING, True
            seat.serving_since_ns = now_ns
        for seat in self.seats:
            if seat.worker is None:
                seat.state = SeatState.DEAD
                self._due[seat.index] = now
        if self.active.worker is None and self._peer(self.active).worker is not None:
            self._control.values[ControlField.ACTIVE] = self._peer(self.active).index
        if self.diverging:  # a commit was being built in the standby: it is lost
            self.diverging = False
            self.retire(self._peer(self.active), "a commit was being built in it")

    def _continue_commands(self) -> None:
        """Take the next sequence number and the commands to replay to a joiner from what
        the command rings still hold (each its last `capacity` records)."""
        got: dict[int, tuple[int, bytes, set[int], bool]] = {}
        floor = 0
        for seat in self.seats:
            ring = seat.commands
            floor = max(floor, ring.last_seq + 1)
            for k in range(max(0, ring.write_pos - ring.capacity), ring.write_pos):
                stamp, payload, seq, solo = ring.record_at(k)
                if seq >= 0:
                    got.setdefault(seq, (stamp, payload, set(), solo))[2].add(seat.index)
        seqs = sorted(got)
        start = len(seqs) - 1
        while start > 0 and seqs[start - 1] == seqs[start] - 1:
            start -= 1
        seqs = seqs[start:]  # only a run without gaps can be replayed
        published = int(self._control.values[ControlField.PUBLISHED])
        for seq in seqs:
            stamp, payload, seats, solo = got[seq]
            only = next(iter(seats)) if solo and len(seats) == 1 else -1
            if only == -1 and seq >= published:
                self._complete_push(seq, stamp, payload, seats)
            self._log.append((seq, stamp, payload, only))
        self._seq = max(floor, seqs[-1] + 1 if seqs else 0)
        self._control.values[ControlField.PUBLISHED] = max(published, self._seq)

    def _complete_push(self, seq: int, stamp: int, payload: bytes, holding: set[int]) -> None:
        """A command the dead supervisor pushed to one ring but not yet the other (it died
        between the two pushes, before publishing): pushed to the other now, so that both
        slots take it once it is published, and neither takes it alone."""
        for seat in self.seats:
            if seat.index not in holding and seat.accepting:
                seat.commands.push(stamp, payload, seq)

    @property
    def last_stamp(self) -> int:
        """The latest stamp among the commands kept (0: none)."""
        return max((stamp for _, stamp, _, _ in self._log), default=0)

    def commands_from(self, first_seq: int) -> list[tuple[int, int, bytes]]:
        """(seq, stamp, payload) of the kept commands sent to both seats from `first_seq` on."""
        return [(seq, stamp, payload) for seq, stamp, payload, only in self._log
                if seq >= first_seq and only == -1]  # fmt: skip

    def snapshot_source(self) -> Seat | None:
        """The seat a takeover asks for a snapshot of the patch the slots play: the standby
        while it runs in lockstep (its capture forks the slot, and a slot that falls behind
        meanwhile is covered by the other only if it is the standby), else the active, else
        whichever has a worker."""
        standby = self._peer(self.active)
        lockstep = standby.state is SeatState.RUNNING and standby.accepting
        lockstep &= not (standby.retiring or self.diverging)
        if standby.worker is not None and lockstep:
            return standby
        for seat in (self.active, standby):
            if seat.worker is not None:
                return seat
        return None

    def patch_of_slot(
        self, timeout: float
    ) -> tuple[dict[str, Any], list[tuple[int, Message]], int, dict[str, Any]] | None:
        """The patch the slots play (`Patch.to_dict()`), the commands the slot holds for a
        later sample (with it), the first command it has not taken yet, and the rest of the
        renderer's state (its `position` and `sequencer`), from a snapshot of the state of
        `snapshot_source` asked for now; None if none came within `timeout` s (or it was too
        large)."""
        source = self.snapshot_source()
        if source is None or source.worker is None:
            return None
        counters = source.counters.values
        request = int(counters[SlotField.SNAPSHOT_REQUEST]) + 1
        counters[SlotField.SNAPSHOT_REQUEST] = request
        deadline = time.monotonic() + timeout
        while int(counters[SlotField.SNAPSHOT_DONE]) != request:
            if time.monotonic() > deadline or not source.worker.process.is_alive():
                return None
            time.sleep(0.002)
        nbytes = int(counters[SlotField.SNAPSHOT_BYTES])
        area = source.handover.buf
        if nbytes <= 0 or area is None:
            return None
        try:
            snapshot = Lenient(BytesIO(bytes(area[:nbytes]))).load()
        except Exception:  # a state this process cannot read at all: no takeover
            log.exception("the active slot's state could not be read")
            return None
        renderer = snapshot["renderer"]
        pending = [(int(sample), message) for sample, message in renderer.get("pending", [])]
        seq = int(counters[SlotField.SNAPSHOT_SEQ])
        return renderer["graph"]["patch"], pending, seq, renderer

    @property
    def adopted(self) -> bool:
        """Whether a seat holds a worker a supervisor before this one started (whose pipe
        leads nowhere: it cannot be sent plugin code)."""
        return any(seat.worker is not None and seat.worker.adopted for seat in self.seats)

    # -- workers -------------------------------------------------------------------------------

    def _spawn(self, humble: bool = False) -> Worker:
        """Start a worker (`LaunchError` if none can be started now); a `humble` one warms up
        at the lowest priority (a spare made while the slots play)."""
        parent, child = self._ctx.Pipe(duplex=True)
        lifeline = self.deaths.lease() if self.deaths else -1
        try:
            process = self._launcher.start(
                worker_main, (self._config, self.wakes, child, lifeline, humble), "chronus-slot"
            )
        except LaunchError:
            parent.close()
            if self.deaths is not None:
                self.deaths.release(lifeline)
            raise
        finally:
            child.close()
        worker = Worker(process, parent, time.monotonic_ns(), pid=process.pid or 0)
        worker.lifeline, worker.humble = lifeline, humble
        self._workers.append(worker)
        return worker

    def workers(self) -> list[Worker]:
        """Every live worker process (spare included), for the serve loop to watch."""
        return list(self._workers)

    def roles(self) -> tuple[WorkerNames, ...]:
        """Each live worker's pid, role (its seat's name, `spare`, or `idle`), lifeline and
        code, for the manifest."""
        seated = {id(seat.worker): seat.name for seat in self.seats if seat.worker is not None}
        spare = id(self._spare) if self._spare is not None else 0
        return tuple(
            WorkerNames(
                worker.pid,
                seated.get(id(worker), "spare" if id(worker) == spare else "idle"),
                worker.lifeline,
                worker.code,
            )
            for worker in self._workers
        )

    def boot(self, timeout: float) -> None:
        """Start A and B from an empty patch at block 0 and wait until A is `lead` ahead.

        A spare forked from the template is warm at birth: it is made by the first `tick`,
        while the audio flows. A spawned spare warms up alongside A and B instead, before any
        audio flows: a worker warming up while the device runs (importing numpy and numba,
        loading the kernel cache) was measured to cost underruns here. Raises `RuntimeError`
        if a worker cannot start, dies or is not ready in time.
        """
        try:
            booting = [self._spawn(), self._spawn()]
            spare = None if self._launcher.warm_forks else self._spawn()
        except LaunchError as exc:
            raise RuntimeError(str(exc)) from exc
        deadline = time.monotonic() + timeout
        for worker in [*booting, *([spare] if spare else [])]:
            self._await_message(worker, "warm", deadline)
        self._control.values[ControlField.ACTIVE] = 0
        for seat, worker in zip(self.seats, booting, strict=True):
            seat.commands.reset(0)
            self._start(seat, worker, FreshStart(seat.config(self._peer(seat)), 0))
        for seat in self.seats:
            assert seat.worker is not None
            self._await_message(seat.worker, "running", deadline)
        while self.seats[0].ring.write_pos < self._config.lead:
            if not all(seat.worker and seat.worker.process.is_alive() for seat in self.seats):
                raise RuntimeError("a slot exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("the slots did not become ready in time")
            time.sleep(0.005)
        self._spare = spare

    def _await_message(self, worker: Worker, kind: str, deadline: float) -> None:
        while not worker.conn.poll(0.05):
            if not worker.process.is_alive():
                raise RuntimeError(
                    f"a slot worker exited during start-up ({worker.process.exitcode})"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("a slot worker did not become ready in time")
        self.on_message(worker)
        if kind == "warm" and not worker.warm:
            raise RuntimeError("a slot worker sent an unexpected message")

    def _peer(self, seat: Seat) -> Seat:
        return self.seats[1 - seat.index]

    def _start(self, seat: Seat, worker: Worker, start: FreshStart | JoinStart) -> None:
        seat.worker = worker
        seat.code = worker.code
        seat.state = SeatState.JOINING
        seat.accepting = True
        worker.conn.send(start)
        self.wakes[seat.index].release()

    # -- events from the serve loop ------------------------------------------------------------

    def on_message(self, worker: Worker) -> None:
        """A worker wrote to its pipe: `warm` (ready for a seat), `running` (in its seat) or
        `snapshot` (it captured its state for a joiner)."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "warm":
            if self.deaths is not None and not worker.warm:
                self.deaths.watch(worker.lifeline, worker)  # it holds its line by now
            worker.warm = True
            worker.pid = int(message[1])
            worker.warm_errors = list(message[2])
            worker.code = str(message[3])
            worker.plugins.update((str(n), str(v)) for n, v in message[4])  # the template's
            if worker.warm_errors:
                log.warning("slot worker %d warm-up errors: %s", worker.pid, worker.warm_errors)
        elif message[0] == "plugin":
            self.plugins.answered(worker, message)
        elif message[0] == "failed":
            _failed(worker, message)
        elif message[0] == "snapshot":
            if self._join is not None:
                self._finish_join()  # now, not at the next tick
        elif message[0] == "running":
            for seat in self.seats:
                if seat.worker is worker:
                    seat.state = SeatState.RUNNING
                    seat.serving_since_ns = time.monotonic_ns()
                    if self._join is not None and self._join[0] is seat:
                        self._join = None
                        self._timed_rejoin(time.monotonic_ns())
                        self._event(f"slot {seat.name} rejoined in lockstep at block {message[1]}")

    def on_exiting(self, worker: Worker, seen_ns: int) -> None:
        """A worker's lifeline ended: it is dying, and the kernel is tearing it down.

        If it was the active, the standby is made active now instead of once the process is
        reaped (4-9 ms later); the rest waits for `on_death`, which knows the exit code.
        """
        if worker.exit_seen_ns or worker not in self._workers:
            return
        worker.exit_seen_ns = seen_ns
        self.last_death_ns = seen_ns
        seat = self.active
        peer = self._peer(seat)
        if seat.worker is worker and self._can_take_over(peer):
            self._promote(peer, worker)
            self._event(
                f"slot {seat.name} (active) is dying; slot {peer.name} took over at block "
                f"{worker.failed_over_at}",
                "failover",
            )

    def _promote(self, peer: Seat, dying: Worker) -> None:
        """Make `peer` active in place of the active seat's `dying` worker."""
        self._control.values[ControlField.ACTIVE] = peer.index
        dying.failed_over_at = int(self._io.values[IoField.CONSUMED])
        self.last_failover_block = dying.failed_over_at
        self.failovers += 1

    @staticmethod
    def _can_take_over(seat: Seat) -> bool:
        """Whether `seat` has a worker that is neither dead nor dying, to make active."""
        worker = seat.worker
        running = seat.state in (SeatState.RUNNING, SeatState.JOINING)
        return running and worker is not None and not worker.exit_seen_ns

    def on_death(self, worker: Worker) -> None:
        """A worker's process sentinel fired."""
        if not worker.exit_seen_ns:
            self.last_death_ns = time.monotonic_ns()
        if self.deaths is not None:
            self.deaths.release(worker.lifeline)
        _read_last_words(worker)
        for seat in self.seats:
            if seat.worker is worker:
                # A standby that finds the process already reaped reads the signal here.
                seat.counters.values[SlotField.DEATH_SIGNAL] = _death_signal_of(worker)
        worker.process.join(0.1)
        self.plugins.died(worker)
        if worker in self._workers:
            self._workers.remove(worker)
        worker.conn.close()
        if worker.stub is not None:
            worker.stub.close()
        now = time.monotonic()
        if worker is self._spare:
            self._spare = None
            self._spare_due = now + 2.0
            self._event(f"the spare worker exited ({_exit_told(worker)})")
            return
        for seat in self.seats:
            if seat.worker is worker:
                self._seat_lost(seat, now, worker)

    def retire(self, seat: Seat, why: str) -> None:
        """Replace a healthy seat's worker by a copy of the other seat (it diverged on purpose);
        a seat already being retired keeps the first reason."""
        if seat.worker is None or self.active is seat or seat.retiring:
            return
        seat.retiring = why
        seat.accepting = False
        seat.worker.kill()

    def _seat_lost(self, seat: Seat, now: float, worker: Worker) -> None:
        exitcode = worker.process.exitcode
        seat.worker = None
        seat.accepting = False
        if seat.retiring:
            seat.state = SeatState.DEAD
            seat.counters.values[SlotField.STATE] = ProcessState.DEAD
            self._event(f"slot {seat.name} replaced: {seat.retiring}")
            seat.retiring = ""
            self._drop_join_with(seat, now)
            self._due[seat.index] = now
            return
        seat.counters.values[SlotField.STATE] = ProcessState.DEAD
        served = (time.monotonic_ns() - seat.serving_since_ns) / 1e9 if seat.serving_since_ns else 0
        was = "active" if self.active is seat or worker.failed_over_at >= 0 else "standby"
        seat.state = SeatState.DEAD
        self._attribute(seat, exitcode)
        self._drop_join_with(seat, now)
        peer = self._peer(seat)
        if worker.failed_over_at < 0 and self.active is seat and self._can_take_over(peer):
            self._promote(peer, worker)
            self._event(
                f"slot {seat.name} (active) died ({_exit_told(worker)}{seat.note}); "
                f"slot {peer.name} took over at block {worker.failed_over_at}",
                "failover",
            )
        elif worker.failed_over_at >= 0:  # the takeover was told when its lifeline ended
            self._event(f"slot {seat.name} (active) died ({_exit_told(worker)}{seat.note})")
        else:
            self._event(f"slot {seat.name} ({was}) died ({_exit_told(worker)}{seat.note})")
        seat.note = ""
        decision = self.policy.on_death(now, served)
        if decision.suspended:
            seat.state = SeatState.SUSPENDED
            seat.note = decision.reason
            seat.retry_at = now + RETRY_SUSPENDED_S
        else:
            self._due[seat.index] = now + decision.delay_s
        self._event(f"slot {seat.name}: {decision.describe()}")

    def _drop_join_with(self, seat: Seat, now: float) -> None:
        """A join that `seat` took part in is off; the other seat waits for a new one."""
        if self._join is None or seat not in self._join[:2]:
            return
        joining = self._join[0]
        self._join = None
        if joining is not seat and joining.worker is None:
            self._due[joining.index] = now

    def _attribute(self, seat: Seat, exitcode: int | None) -> None:
        """Blame the module a slot died inside, if it crashed or hung there: quarantine it.

        A slot killed from outside (SIGKILL without the hang mark) blames nobody.
        """
        v = seat.counters.values
        crumb = int(v[SlotField.CRUMB_MODULE])
        hung = bool(v[SlotField.HUNG])
        crashed = exitcode is not None and (-exitcode in CRASH_SIGNALS or exitcode > 0)
        if crumb == 0 or not (hung or crashed):
            return
        culprit = next((mid for mid in self._patch().modules if crumb_of(mid) == crumb), None)
        if culprit is None or culprit in self.quarantined:
            return
        how = (
            "hung" if hung
            else f"exited (code {exitcode})" if exitcode and exitcode > 0
            else f"crashed (signal {-(exitcode or 0)})"
        )  # fmt: skip
        block = int(v[SlotField.CRUMB_BLOCK])
        self.quarantined[culprit] = f"{how} in slot {seat.name} at block {block}"
        self._to_remove.append(culprit)
        self._event(
            f"module {culprit} {how} in slot {seat.name} at block {block}: quarantined",
            "quarantine",
        )

    def take_quarantined(self) -> list[str]:
        """Modules newly quarantined, for the supervisor to remove from the patch."""
        taken, self._to_remove = self._to_remove, []
        return taken

    def tick(self) -> None:
        """Periodic work: hang detection, spare upkeep, respawns and joins."""
        now = time.monotonic()
        now_ns = time.monotonic_ns()
        for seat in self.seats:
            worker = seat.worker
            if worker is not None and seat.state is SeatState.RUNNING:
                self._watch_heartbeat(seat, worker, now_ns)
            elif seat.state is SeatState.SUSPENDED and 0 < seat.retry_at <= now:
                self._retry(seat, now)
        self._check_lockstep()
        if self._join is None:
            self.plugins.feed(self.seats, self.active, self._spare, self._launcher.template)
        calm = self._join is None and not self._catching_up()
        if self._spare is None and now >= self._spare_due and calm and self._launcher.ready():
            try:
                # At nice 19 on a busy host its 0.1 s of warm-up took 11-28 s: not while a
                # seat waits, or a worker to renew does (a commit waits for that). Hurried
                # once spawned, it would step aside after.
                self._spare = self._spawn(humble=not (self._due or self.adopted))
            except LaunchError as exc:
                self._spare_due = now + 2.0
                self._event(f"no spare worker could be started: {exc}")
        if self._join is not None:
            self._finish_join()
        else:
            self._forget_old_commands()
            if self.adopted:
                self._renew()
        spare = self._spare
        if self._due and spare is not None and spare.humble:
            spare.humble = False  # a seat waits for it (its warm-up, a plugin it imports)
            _hurry(spare.pid)
        spare_ready = spare is not None and spare.warm and self._join is None
        spare_ready &= spare is None or not self.plugins.lacks(spare)  # else it imports first
        for index, due in sorted(self._due.items()):
            copying = self._peer(self.seats[index]).state is SeatState.JOINING
            if now >= due and spare_ready and not copying:
                del self._due[index]
                self._fill(self.seats[index])
                break

    def _catching_up(self) -> bool:
        """Whether a seat's new worker is loading a state or rendering its way to the
        present (a joiner takes its real-time priority once it has caught up, where the
        slots have one), for at most `CATCH_UP_S`: a new spare's warm-up waits meanwhile,
        so that the two do not compete with the active for CPU."""
        now_ns = time.monotonic_ns()
        realtime = any(seat.counters.values[SlotField.REALTIME] for seat in self.seats)
        within = CATCH_UP_S * 1e9
        for seat in self.seats:
            if seat.worker is None:
                continue
            if seat.state is SeatState.JOINING and now_ns - self._join_ns[1] < within:
                return True
            since = now_ns - seat.serving_since_ns
            if realtime and not seat.counters.values[SlotField.REALTIME] and since < within:
                return True
        return False

    def _renew(self) -> None:
        """Replace the workers a dead supervisor started, one at a time, by copies with a
        pipe to this one (plugin code reaches a worker through it): the standby is retired
        (a warm spare joins from the active's state); an adopted active first swaps roles
        with a standby of this supervisor's (both hold the same samples: nothing is heard)."""
        spare = self._spare
        if spare is None or not spare.warm or self.diverging or self._due:
            return
        active, standby = self.active, self._peer(self.active)
        if not all(s.state is SeatState.RUNNING and s.worker for s in self.seats):
            return
        assert active.worker is not None and standby.worker is not None
        if standby.worker.adopted:
            self.retire(standby, "started by the supervisor before this one")
        elif active.worker.adopted:
            self._control.values[ControlField.ACTIVE] = standby.index
            self._event(f"slot {standby.name} made active so that slot {active.name} is renewed")

    def _watch_heartbeat(self, seat: Seat, worker: Worker, now_ns: int) -> None:
        """Kill a worker that `judge_silence` finds hung, stuck, stopped or long starved."""
        v = seat.counters.values
        beat = int(v[SlotField.HEARTBEAT_NS])
        if beat != seat.beat_ns:
            seat.beat_ns, seat.beat_cpu_ns = beat, cpu_ns(worker.pid)
            return
        silent_ns = now_ns - beat
        missed = int(self._io.values[IoField.CONSUMED]) - int(v[SlotField.HEARTBEAT_BLOCK])
        if silent_ns <= HANG_S * 1e9 or missed < self._hang_blocks or worker.killed:
            return
        if not worker.process.is_alive():
            return
        stopped = process_state(worker.pid) in STOPPED
        ran_ns = cpu_ns(worker.pid) - seat.beat_cpu_ns if seat.beat_cpu_ns >= 0 else -1
        verdict = judge_silence(silent_ns, stopped, ran_ns, int(v[SlotField.CRUMB_MODULE]))
        if verdict is None:
            return
        seat.note = f", {verdict}: no heartbeat for {silent_ns / 1e6:.0f} ms"
        if verdict == "starved":
            seat.note += f", of which it ran {ran_ns / 1e6:.0f} ms"
        if verdict == "hung":  # in a module: that module gets the blame
            v[SlotField.HUNG] = 1
        worker.kill()

    def _retry(self, seat: Seat, now: float) -> None:
        """Give a seat suspended for a crash loop another worker."""
        seat.retry_at = 0.0
        seat.state = SeatState.DEAD
        seat.note = ""
        self.policy.reset()
        self._due[seat.index] = now
        self._event(f"slot {seat.name}: trying again after its suspension")

    def load_dropped(self) -> None:
        """A module was removed: a seat suspended for a crash loop tries again at once."""
        for seat in self.seats:
            if seat.state is SeatState.SUSPENDED and seat.retry_at > 0:
                seat.retry_at = time.monotonic()

    def _check_lockstep(self) -> None:
        """Compare the newest block both seats hold; a standby that differs is replaced.

        Both slots render the same samples by construction, so a difference means the standby
        no longer matches the active (a bug, or memory gone bad): covering for the active with
        it would play a wrong block.
        """
        a, b = self.seats
        if self.diverging or not (a.in_step and b.in_step):
            return
        k = min(a.ring.write_pos, b.ring.write_pos) - 1
        if not (a.ring.settled(k) and b.ring.settled(k)):
            return
        if np.array_equal(a.ring.block_at(k), b.ring.block_at(k)):
            return
        if not (a.ring.settled(k) and b.ring.settled(k)):
            return  # a writer came round to block k's place while we compared
        standby = self.seats[1 - self.active.index]
        self.divergences += 1
        self.retire(standby, f"its block {k} differed from the active's")

    def _fill(self, seat: Seat) -> None:
        peer = self._peer(seat)
        copyable = peer.state is SeatState.RUNNING and self._can_take_over(peer)
        source = peer.worker if copyable else None
        if source is not None and self._spare is not None and self._spare.code != source.code:
            seat.state = SeatState.SUSPENDED
            seat.note = (
                f"the code on disk (chronus or a user module) changed after slot {peer.name} "
                "started, so a new slot cannot copy its state; restart the engine to use it"
            )
            self._event(f"slot {seat.name}: {seat.note}")
            return
        seat.restarts += 1
        self.respawns += 1
        if copyable:
            counters = peer.counters.values
            request = int(counters[SlotField.SNAPSHOT_REQUEST]) + 1
            counters[SlotField.SNAPSHOT_REQUEST] = request
            self._join = (seat, peer, request)
            self._join_ns = [time.monotonic_ns(), 0]
            return
        assert self._spare is not None
        if self._restart_from_checkpoint(seat):
            return
        # No slot to copy and no checkpoint to go on from: build from the patch.
        spare, self._spare = self._spare, None
        setup = (*self._plugin_setup(), *Patch.messages_of(self._patch().to_dict()))
        seat.commands.reset(self._seq)
        consumed = int(self._io.values[IoField.CONSUMED])
        self._control.values[ControlField.ACTIVE] = seat.index
        self._start(seat, spare, FreshStart(seat.config(peer), consumed + 1, setup))
        self._event(f"slot {seat.name} rebuilt from the patch (no slot left to copy)")

    def _plugin_setup(self) -> list[Message]:
        return [
            validate("/plugins/use", (name, version, path, self.hosting.get(name, "inline")))
            for name, (version, path) in self.in_use.items()
        ]

    def holds(self, name: str, version: str) -> bool:
        """Whether both seats' workers (only the standby's for a version the active need not
        import), the spare if there is one and the template hold a plugin version."""
        active = self.active
        standby_only = (name, version) in self.plugins.standby_only
        holders: list[Holder | None] = [
            seat.worker for seat in self.seats if not (standby_only and seat is active)
        ]
        if self._spare is not None:
            holders.append(self._spare)
        template = self._launcher.template
        if template is not None and template.state == "warm":
            holders.append(template)
        return self.plugins.held((name, version), holders)

    def abandon_plugin(self, name: str, version: str) -> None:
        """Stop importing a plugin version: the processes still at it are killed."""
        self.plugins.abandon((name, version), self._workers, self._launcher.template)

    def _restart_from_checkpoint(self, seat: Seat) -> bool:
        """With no slot left, start the spare from the newest checkpoint either slot wrote.

        It gets the commands stamped after the checkpoint and renders its way to the present,
        so the session goes on as if no slot had died (but for the silence meanwhile).
        False if there is no checkpoint, the commands after it are no longer kept, or the code
        on disk changed since it was written (the spare might not read it).
        """
        assert self._spare is not None
        newest: tuple[Seat, int, int, int, int] | None = None
        for source in self.seats:
            if source.code != self._spare.code:
                continue
            for region, (generation, block, seq, nbytes) in enumerate(
                checkpoint_table(source.counters.values).tolist()
            ):
                if generation > 0 and nbytes > 0 and (newest is None or block > newest[1]):
                    offset = checkpoint_region(region, source.handover.size)[0]
                    newest = (source, int(block), int(seq), int(nbytes), offset)
        if newest is None:
            return False
        source, block, first_seq, nbytes, offset = newest
        replayed = self._replay(seat, source, first_seq)
        if replayed < 0:
            return False
        assert self._spare is not None
        spare, self._spare = self._spare, None
        self._control.values[ControlField.ACTIVE] = seat.index
        start = JoinStart(seat.config(self._peer(seat)), source.handover.name, nbytes, offset)
        self._start(seat, spare, start)
        self._event(
            f"slot {seat.name} restarted from the checkpoint at block {block} "
            f"({nbytes} bytes, {replayed} commands after it): no slot was left to copy"
        )
        return True

    def _replay(self, seat: Seat, source: Seat, first_seq: int) -> int:
        """Fill `seat`'s command ring with the commands from `first_seq` on that `source` got
        (sent to both seats, or to it alone); how many, or -1 if the log no longer holds them
        all or the ring cannot (then the ring is left as it was)."""
        replay = [e for e in self._log if e[0] >= first_seq and e[3] in (-1, source.index)]
        kept = not self._log or self._log[0][0] <= first_seq
        if not kept or len(replay) > seat.commands.capacity:
            return -1
        seat.commands.reset(first_seq)
        for seq, stamp, payload, only in replay:
            seat.commands.push(stamp, payload, seq, solo=only != -1)
        return len(replay)

    @property
    def commands_kept(self) -> int:
        """Commands kept for a join or a restart from a checkpoint."""
        return len(self._log)

    def _forget_old_commands(self) -> None:
        """Drop the kept commands that came before the newest checkpoint (written about once
        a second): a restart replays only those after it, and a join (none is in flight when
        this runs) those after a state captured now; the last `LOG_FLOOR` are kept anyway,
        for a state whose slot still held a few undecided. Without this, a burst's commands
        stayed in memory (about 200 bytes each) until `LOG_LENGTH` newer ones pushed them out.
        A restart that must fall back on an older checkpoint (the newest was written by code
        since changed on disk) then finds its commands gone and rebuilds from the patch."""
        tables = [checkpoint_table(seat.counters.values) for seat in self.seats]
        keep_from = min(newest_checkpoint_seq(tables), self._seq - LOG_FLOOR)
        log = self._log
        while log and log[0][0] < keep_from:
            log.popleft()

    def _finish_join(self) -> None:
        assert self._join is not None
        seat, source, request = self._join
        counters = source.counters.values
        if seat.worker is not None or int(counters[SlotField.SNAPSHOT_DONE]) != request:
            return
        nbytes = int(counters[SlotField.SNAPSHOT_BYTES])
        first_seq = int(counters[SlotField.SNAPSHOT_SEQ])
        if nbytes <= 0 or self._replay(seat, source, first_seq) < 0:
            self._join = None
            seat.state = SeatState.SUSPENDED
            seat.note = f"state transfer failed ({nbytes} bytes, or too many commands to replay)"
            self._event(f"slot {seat.name}: {seat.note}")
            return
        assert self._spare is not None
        spare, self._spare = self._spare, None
        self._start(seat, spare, JoinStart(seat.config(source), source.handover.name, nbytes))
        self._join_ns[1] = time.monotonic_ns()
        self._event(
            f"slot {seat.name} joining from slot {source.name}'s state at block "
            f"{int(counters[SlotField.SNAPSHOT_BLOCK])} ({nbytes} bytes, "
            f"{int(counters[SlotField.SNAPSHOT_NS]) / 1e6:.2f} ms to capture)"
        )

    def _timed_rejoin(self, now_ns: int) -> None:
        asked, sent = self._join_ns
        self.last_rejoin = {
            "after_death_ms": round((now_ns - self.last_death_ns) / 1e6, 3),
            "state_capture_ms": round((sent - asked) / 1e6, 3),
            "load_ms": round((now_ns - sent) / 1e6, 3),
        }

    def _event(self, text: str, kind: str = "slot") -> None:
        log.warning("%s", text)
        self.events.append(text)
        self.tell(kind, text)

    def tell(self, kind: str, text: str, about: str = "") -> None:
        """Tell clients an event (`news`), and note it with its time in the timeline."""
        self.news.add(kind, text, about)
        self._timeline.append(
            (time.monotonic_ns(), int(self._io.values[IoField.CONSUMED]), kind, text)
        )

    def timeline_kept(self) -> tuple[tuple[int, int, str, str], ...]:
        """The timeline as the manifest carries it to a next supervisor."""
        return tuple(self._timeline)

    def timeline(self) -> list[dict[str, Any]]:
        """The latest events, oldest first, each with when it was told (`t_s`: CLOCK_MONOTONIC
        seconds) and the block the audio I/O had played by then."""
        return [
            {"t_s": round(t_ns / 1e9, 3), "block": block, "kind": kind, "text": text}
            for t_ns, block, kind, text in self._timeline
        ]

    def report(self, text: str, kind: str = "engine") -> None:
        """Tell an engine event that is not the keeper's own (logged, and in `events`)."""
        self._event(text, kind)

    # -- commands ------------------------------------------------------------------------------

    @property
    def diverging(self) -> bool:
        """Set by a commit in flight: the standby differs from the active on purpose.

        Then neither the lockstep check nor the audio I/O treats one seat as a copy of the other.
        """
        return bool(self._control.values[ControlField.APART])

    @diverging.setter
    def diverging(self, value: bool) -> None:
        self._control.values[ControlField.APART] = int(value)

    @property
    def active(self) -> Seat:
        """The seat whose blocks the audio I/O plays first."""
        return self.seats[int(self._control.values[ControlField.ACTIVE])]

    def room(self) -> bool:
        """Whether every seat that takes commands has room for one more."""
        return all(
            len(seat.commands) < seat.commands.capacity for seat in self.seats if seat.accepting
        )

    @property
    def max_payload(self) -> int:
        """The largest command a ring record holds."""
        return self.seats[0].commands.max_payload

    def _rendered(self) -> int:
        """Blocks published by the slot furthest ahead."""
        return max(seat.ring.write_pos for seat in self.seats)

    def next_stamp(self) -> int:
        """The first sample that no slot can have started rendering."""
        return (self._rendered() + 1) * self._config.block

    def unfinished_stamp(self) -> int:
        """The first sample that no slot has finished rendering: a slot may be rendering its
        block now (a command stamped in it then applies where both slots can, `decisions`)."""
        return self._rendered() * self._config.block

    def push(self, stamp: int, payload: bytes) -> int:
        """Send a stamped command to every seat in step, and keep it for joiners.

        Returns its sequence number (see `applied_at`).
        """
        seq = self._seq
        for seat in self.seats:
            if seat.accepting:
                seat.commands.push(stamp, payload, seq)
        self._log.append((seq, stamp, payload, -1))
        self._seq += 1
        self._control.values[ControlField.PUBLISHED] = self._seq  # in both rings: now poppable
        self._check_overtaken(stamp)
        return seq

    def applied_at(self, seq: int) -> int | None:
        """The sample command `seq` was applied at, once a slot has taken it (else None).

        Normally its stamp; later if the slots had passed the stamp when it arrived.
        """
        for seat in (self.active, self.seats[1 - self.active.index]):
            row = decision_table(seat.counters.values)[seq % DECISION_SLOTS]
            if row[0] == seq and row[2] >= 0:
                return int(row[2])
        return None

    def _check_overtaken(self, stamp: int) -> None:
        """Count a command that a slot may have rendered past before it was pushed.

        The stamp is one block beyond what the slots had rendered when it was read; if the
        supervisor was held up for more than a block between that read and the push (this VM
        stalls whole CPUs for up to 160 ms), a slot can have started the stamped block
        already. Both slots then apply it at the first sample both can (`decisions`), and
        the session log records that sample; this count says how often it happened.
        """
        if self._rendered() > stamp // self._config.block:
            self.overtaken += 1
            if self.first_overtaken < 0:
                self.first_overtaken = stamp
            self._event(f"a command stamped at sample {stamp} was overtaken by a slot")

    def push_to(self, seat: Seat, stamp: int, payload: bytes) -> int:
        """Send a stamped command to one seat only (a commit builds in the standby); its
        sequence number (`applied_at` tells where the seat applied it)."""
        seq = self._seq
        seat.commands.push(stamp, payload, seq, solo=True)
        self._log.append((seq, stamp, payload, seat.index))
        self._seq += 1
        self._control.values[ControlField.PUBLISHED] = self._seq
        return seq

    # -- health --------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Health of each seat."""
        slots = []
        active = self.active
        for seat in self.seats:
            v = seat.counters.values
            alive = seat.worker is not None
            entry: dict[str, Any] = (
                summary(seat.counters, SlotField) if alive else {"state": seat.state.value}
            )
            if alive and seat.serving_since_ns:
                entry["uptime_s"] = round((time.monotonic_ns() - seat.serving_since_ns) / 1e9, 3)
            entry.update(
                name=seat.name,
                role="active" if seat is active else "standby",
                seat=seat.state.value,
                restarts=seat.restarts,
                blocks_rendered=seat.ring.write_pos,
                joined_at_block=int(v[SlotField.JOINED_BLOCK]),
                render=timing_percentiles(v, SlotField.TIMING_COUNT),
                max_drain_us=round(int(v[SlotField.MAX_DRAIN_NS]) / 1000, 1),
                max_apply_us=round(int(v[SlotField.MAX_APPLY_NS]) / 1000, 1),
                capture_stall_us=round(int(v[SlotField.CAPTURE_STALL_NS]) / 1000, 1),
                captures_forked=int(v[SlotField.CAPTURES_FORKED]),
                max_gc_us=round(int(v[SlotField.MAX_GC_NS]) / 1000, 1),
                slowest_command=(
                    _pattern(int(v[SlotField.SLOWEST_COMMAND])) if v[SlotField.MAX_APPLY_NS] else ""
                ),
                max_cycle_us=round(int(v[SlotField.MAX_CYCLE_NS]) / 1000, 1),
                realtime=bool(v[SlotField.REALTIME]),
                late_commands=int(v[SlotField.LATE]),
                late_blocks=int(seat.ring.header[AudioRing.DROPS]),
                rendered_ahead=int(v[SlotField.AHEAD]),
                waited_for_peer=int(v[SlotField.DECISION_WAITS]),
                found_active_held_up=int(v[SlotField.HELD_UP]),
                most_extra_blocks=int(v[SlotField.EXTRA_BLOCKS]),
                patterns_parsed=int(v[SlotField.PATTERNS_PARSED]),
                lead=int(v[SlotField.LEAD]),
                max_wake_us=round(int(v[SlotField.MAX_WAKE_NS]) / 1000, 1),
                slow_wakes=int(v[SlotField.SLOW_WAKES]),
                heavy_renders=int(v[SlotField.HEAVY_RENDERS]),
                held_renders=int(v[SlotField.HELD_RENDERS]),
                errors=int(v[SlotField.ERRORS]),
                nonfinite_samples=int(v[SlotField.NONFINITE]),
                note=seat.note,
            )
            if not alive:
                entry["pid"] = 0
            slots.append(entry)
        return slots

    # -- shutdown ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every worker and free the seats (the control block's RUN is already 0)."""
        for wake in self.wakes:
            for _ in range(4):
                wake.release()
        for worker in self._workers:
            if not any(seat.worker is worker for seat in self.seats):
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self._workers:
            worker.process.join(3.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(3.0)
            worker.conn.close()
        self._workers.clear()
        if self.deaths is not None:
            deadline = time.monotonic() + 0.5
            while self.deaths.watching and time.monotonic() < deadline:
                time.sleep(0.005)  # the watchers of the workers just ended are waking
            self.deaths.close()
        for seat in self.seats:
            seat.close()


def newest_checkpoint_seq(tables: list[npt.NDArray[np.int64]]) -> int:
    """The first command seq after the newest complete checkpoint in `tables` (rows of
    generation, block, seq, bytes: see `checkpoint_table`), or 0 if there is none."""
    newest = max(
        ((int(block), int(seq)) for table in tables
         for generation, block, seq, nbytes in table.tolist() if generation > 0 and nbytes > 0),
        default=(0, 0),
    )  # fmt: skip
    return newest[1]


class _Unknown:
    """What a class this process cannot import unpickles as (a plugin's, in a module's
    state): the takeover reads the patch out of a slot's state, not the modules."""

    def __new__(cls, *args: object, **kwargs: object) -> _Unknown:
        return super().__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


class Lenient(pickle.Unpickler):
    """An unpickler that reads what it cannot import as an opaque object."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Unknown


def _pattern(index: int) -> str:
    """The address pattern at `index` in the address space, or "" if there is none."""
    return ADDRESS_SPACE[index].pattern if 0 <= index < len(ADDRESS_SPACE) else ""


def judge_silence(silent_ns: int, stopped: bool, ran_ns: int, crumb: int) -> str | None:
    """What a worker silent for `silent_ns` (over `HANG_S`, while the device moved on) is.

    `stopped`: stopped from outside (SIGSTOP). `ran_ns`: the CPU time it used meanwhile (-1
    unknown). `crumb`: the module it is in (0: none). Returns None to leave it alone (kept
    off the CPU by the host or another process, less than `STARVED_S`: it has not had the
    time to beat, and a new worker would starve too), else why it is to be replaced:
    `stopped`, `starved` (kept off the CPU for `STARVED_S`), `hung` (busy in a module, which
    is to blame) or `stuck` (busy outside any module).
    """
    if stopped:
        return "stopped"
    if ran_ns >= 0 and 2 * ran_ns < silent_ns:
        return "starved" if silent_ns >= STARVED_S * 1e9 else None
    return "hung" if crumb else "stuck"


def _hurry(pid: int) -> None:
    """Bring a humble spare back to nice 0 before it is seated (where this process may: it
    stays humble otherwise)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 0)
    except OSError:
        pass


def _death_signal_of(worker: Worker) -> int:
    """The signal a dead, unreaped child died of (0 if it exited with code 0, `EXIT_FAULT`
    with another), without reaping it; a worker the engine's parent reaps says it by its
    exit code."""
    try:
        info = os.waitid(os.P_PID, worker.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        code = worker.process.exitcode or 0
        return -code if code < 0 else EXIT_FAULT if code else 0
    if info is None:
        return 0
    if info.si_code == os.CLD_EXITED:
        return EXIT_FAULT if info.si_status else 0
    return int(info.si_status) if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED) else 0


LAST_WORDS = 8
"""The most messages read from a dead worker's pipe (an ended pipe reads as ready forever)."""


def _read_last_words(worker: Worker) -> None:
    """Read what a worker that died wrote before it: the error it failed with, if any."""
    for _ in range(LAST_WORDS):
        try:
            if not worker.conn.poll():
                return
            message = worker.conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "failed":
            _failed(worker, message)


def _failed(worker: Worker, message: tuple[Any, ...]) -> None:
    worker.failure = str(message[1])
    log.error("slot worker %d failed: %s", worker.pid, worker.failure)


def _exit_told(worker: Worker) -> str:
    """How a worker ended, for an event: its exit code, and the error it told, if any."""
    code = worker.process.exitcode
    told = f": {worker.failure}" if worker.failure else ""
    if code == EXIT_NOT_ADOPTED:
        told = ": it was never handed to the engine's parent after its fork, and gave up"
    return f"code {code}{told}"
