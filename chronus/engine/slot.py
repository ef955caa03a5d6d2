"""A slot worker: one process that holds the whole DSP graph and renders blocks on demand.

A worker is spawned ahead of need, loads numpy and numba and warms every kernel, and then waits
for the supervisor to give it a seat (A or B) and a start: `fresh` (an empty or rebuilt patch
at a given block) or `join` (the active slot's exact state at a block boundary, handed over in
shared memory). From then on it renders into its seat's audio ring.

The worker never paces itself by a wall clock. It sleeps on its seat's wake semaphore, which the
audio I/O posts once per consumed block, and renders until it is `lead` blocks ahead of the
consumed-block counter. The standby follows the active one block at a time (the active posts
the standby's semaphore after it publishes), so a module that kills the active on block *k*
has not yet run block *k* in the standby. Only when the active falls a whole block behind does
the standby render ahead of it, to keep the device fed; both render the same samples, so the
audio I/O may take either.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Semaphore
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp.plugin_table import plugin_rows
from chronus.engine.capture import Capturer
from chronus.engine.cpu_watch import STAMP_EVERY_S, CpuStamps, seat_cpu
from chronus.engine.decisions import Decisions, drain
from chronus.engine.depth import RenderDepth
from chronus.engine.lifecycle import (
    code_fingerprint,
    die_with_parent,
    step_aside,
    step_back,
    try_realtime,
)
from chronus.engine.lifelines import Lifelines
from chronus.engine.now import TransportFeed
from chronus.engine.peer import EXIT_FAULT, PeerWatch, death_signal
from chronus.engine.prepared import PreparedPatterns
from chronus.engine.rings import AudioRing, CommandRing, SharedCounters
from chronus.engine.stats import (
    ControlField,
    IoField,
    ProcessState,
    SlotField,
    checkpoint_table,
    record_render,
)
from chronus.engine.titles import set_title, slot_title
from chronus.plugins.loader import load_user_modules
from chronus.protocol import Message, spec_index

if TYPE_CHECKING:
    from chronus.dsp.guard import Guard
    from chronus.dsp.render import Renderer

__all__ = [
    "CRASH_SIGNALS",
    "HEARTBEAT_S",
    "SILENCE",
    "SLOT_PRIORITY",
    "FreshStart",
    "JoinStart",
    "SeatConfig",
    "WorkerConfig",
    "await_seat",
    "claim_seat",
    "prepare_plugin",
    "worker_main",
]

SLOT_PRIORITY = 60
"""SCHED_FIFO priority of a slot: below JACK's clients (server priority − 5) and the null I/O."""

SILENCE = 1e-4
"""A block whose samples all stay within ±SILENCE (−80 dBFS) counts as silent: a fade-out
decays exponentially and never reaches exact zero."""

HEARTBEAT_S = 0.05
"""A running slot writes its heartbeat at least this often, even with no demand."""

PEER_POLL_S = STAMP_EVERY_S
"""How often a standby looks at an active that owes blocks (it is woken when they come), and
a slot at a peer whose word on an overtaken command it waits for."""

PEER_PATIENCE_NS = 50_000_000
"""How long a standby waits for its peer's word on an overtaken command before it decides
alone (an active, or a standby covering for a held-up active, waits a block period at most:
the device plays its blocks)."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What every worker needs from birth; plain data so it crosses a spawn."""

    io_counters: str
    control: str
    rate: int
    block: int
    lead: int
    lifelines: str = ""
    """The supervisor's table of lifelines (see `lifelines.py`); empty where there is none."""
    cpu_stamps: str = ""
    """The supervisor's `CpuStamps`; empty where there are none."""
    prepared: str = ""
    """The supervisor's `PreparedPatterns`; empty where there are none."""


@dataclass(frozen=True, slots=True)
class SeatConfig:
    """The shared memory of one seat, and of the other seat's audio ring."""

    seat: int
    ring: str
    peer_ring: str
    peer_counters: str
    commands: str
    counters: str
    handover: str


@dataclass(frozen=True, slots=True)
class FreshStart:
    """Start at `block` (or the next block the device needs, if later) from these commands."""

    seat: SeatConfig
    block: int
    setup: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class JoinStart:
    """Load the snapshot of `nbytes` bytes at `offset` in shared memory `handover` and go on
    from it (a join: the active's state just captured; a restart: a checkpoint)."""

    seat: SeatConfig
    handover: str
    nbytes: int
    offset: int = 0


CHECKPOINT_S = 1.0
"""How often the standby (the active, when it has none) writes a checkpoint of its state.
Not the active: the device plays its blocks. A state that takes long to capture is captured
by a forked child while the slot renders on (`capture.Capturer`)."""


def checkpoint_region(index: int, area: int) -> tuple[int, int]:
    """(offset, size) of checkpoint region `index` (0 or 1) in a handover area of `area` bytes.

    The first half of the area is for a join's snapshot, the two quarters after it for the
    checkpoints, so that neither overwrites a state another process is reading.
    """
    quarter = area // 4
    return (2 + index) * quarter, quarter


class _Seat:
    """A worker's attachments to its seat's shared memory."""

    def __init__(self, config: SeatConfig, block: int) -> None:
        self.config = config
        self.ring = AudioRing.attach(config.ring)
        self.peer = AudioRing.attach(config.peer_ring)
        self.commands = CommandRing.attach(config.commands)
        self.counters = SharedCounters.attach(config.counters, SlotField.SIZE)
        self.peer_counters = SharedCounters.attach(config.peer_counters, SlotField.SIZE)
        self.decisions = Decisions(self.counters.values, self.peer_counters.values, block)
        self.handover = shared_memory.SharedMemory(name=config.handover)

    def close(self) -> None:
        parts = (self.ring, self.peer, self.commands, self.counters, self.peer_counters)
        for part in parts:
            part.close()
        self.handover.close()


def _load_start(start: FreshStart | JoinStart, renderer: Renderer, seat: _Seat, io: Any) -> int:
    """Bring `renderer` to its first block; returns that block's index."""
    if isinstance(start, JoinStart):
        source = shared_memory.SharedMemory(name=start.handover)
        try:
            assert source.buf is not None
            snapshot = pickle.loads(bytes(source.buf[start.offset : start.offset + start.nbytes]))
        finally:
            source.close()
        renderer.load_state(snapshot["renderer"])
        return int(snapshot["block"])
    block = max(start.block, int(io[IoField.CONSUMED]))
    renderer.position = block * renderer.max_block
    for message in start.setup:
        renderer.schedule(renderer.position, message)
    return block


def _boundary(seat: _Seat) -> tuple[int, int]:
    """Where this slot is: (the next block it renders, the first command seq not applied
    or scheduled yet). Commands still in the ring or waiting for a decision are not in its
    state, and whoever loads that gets them from the supervisor's log."""
    waiting = seat.decisions.waiting
    first_seq = waiting[0][0] if waiting else seat.commands.last_seq + 1
    return seat.ring.write_pos, first_seq


def _pickled(renderer: Renderer, block: int) -> bytes:
    snapshot = {"block": block, "renderer": renderer.state()}
    return pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)


def _snapshot(seat: _Seat, renderer: Renderer) -> Callable[[], None]:
    """The capture asked for a join: the state at this block boundary, into the join part of
    the handover area; the request is marked done last, once everything else is written.

    Where this slot is, is read now; the state itself may be read later, in a forked child,
    which sees it as it is now."""
    v = seat.counters.values
    request = int(v[SlotField.SNAPSHOT_REQUEST])
    block, first_seq = _boundary(seat)
    renderer.graph.drop_finished()  # as the state will have it, in place or not

    def job() -> None:
        began = time.perf_counter_ns()
        data = _pickled(renderer, block)
        area = seat.handover.buf
        if area is not None and len(data) <= checkpoint_region(0, seat.handover.size)[0]:
            area[: len(data)] = data
            v[SlotField.SNAPSHOT_BYTES] = len(data)
        else:
            v[SlotField.SNAPSHOT_BYTES] = -len(data)
        v[SlotField.SNAPSHOT_BLOCK] = block
        v[SlotField.SNAPSHOT_SEQ] = first_seq
        v[SlotField.SNAPSHOT_NS] = time.perf_counter_ns() - began
        v[SlotField.SNAPSHOT_DONE] = request

    return job


def _checkpoint(seat: _Seat, renderer: Renderer) -> Callable[[], None]:
    """A checkpoint: the state at this block boundary, into the older checkpoint region (if
    it fits there); see `_snapshot`."""
    table = checkpoint_table(seat.counters.values)
    generation = int(table[:, 0].max()) + 1
    block, first_seq = _boundary(seat)
    renderer.graph.drop_finished()  # as the state will have it, in place or not

    def job() -> None:
        data = _pickled(renderer, block)
        area = seat.handover.buf
        offset, size = checkpoint_region(generation % 2, seat.handover.size)
        if area is None or len(data) > size:
            return
        row = table[generation % 2]
        row[0] = 0  # being rewritten: no reader may take it meanwhile
        area[offset : offset + len(data)] = data
        row[1:4] = (block, first_seq, len(data))
        row[0] = generation

    return job


GC_EVERY_S = 1.0
"""How often a slot collects its young garbage (reference cycles), in its spare time."""

FULL_GC_EVERY = 30
"""Every this many collections, a standby collects every generation (an active never
does: a full collection of a big patch's objects takes milliseconds)."""


def _collect(count: int, active: bool, v: npt.NDArray[np.int64]) -> None:
    """One garbage collection, in the slot's spare time (it has rendered up to its lead):
    the young generations, or all of them now and then in a standby. Automatic collections
    are off in a slot, since one can start at any allocation, in a block, and a full one
    over a thousand modules takes several milliseconds. Nothing in a block makes reference
    cycles; commands (a removed module's routes) are unlinked so that they need none."""
    began = time.perf_counter_ns()
    gc.collect(2 if not active and count % FULL_GC_EVERY == 0 else 1)
    took = time.perf_counter_ns() - began
    v[SlotField.MAX_GC_NS] = max(int(v[SlotField.MAX_GC_NS]), took)


def _capture_with(capturer: Capturer, v: npt.NDArray[np.int64], job: Callable[[], None]) -> bool:
    """Run a capture; True if a child runs it (and it is not written yet)."""
    stall_ns, forked = capturer.run(job)
    v[SlotField.CAPTURE_STALL_NS] = stall_ns
    v[SlotField.CAPTURES_FORKED] += forked
    return forked


CAPTURE_MARGIN_BLOCKS = 2
"""Blocks an active slot renders beyond its lead before it captures its state for a join, at
the least. A fork holds it up for as long as it takes to copy its page tables (2.4-5.7 ms was
seen for the chaos patch on a loaded 2-CPU VM, over a block period); a small state captured
in place takes under a millisecond, but 3.8 ms was seen on a loaded CI host, with an
underrun. The device must not run out of blocks meanwhile. More if the last fork took
longer."""


def _capture_margin(capturer: Capturer, period_ns: int) -> int:
    """Blocks to render ahead of the lead before a join's capture (in place or forked)."""
    took = capturer.fork_ns if capturer.forks_next else capturer.in_place_ns
    return max(CAPTURE_MARGIN_BLOCKS, -(-took // period_ns))


CRASH_SIGNALS = frozenset({4, 5, 6, 7, 8, 11, 31, EXIT_FAULT})
"""SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS: what a faulty module raises;
and `EXIT_FAULT`, a module ending the process with `os._exit`."""


def _peer_died_here(seat: _Seat, k: int, active: bool) -> int:
    """The crumb of the module the peer died in on block *k*, if it must be bypassed.

    Returns 0 to render normally, -1 to wait (the peer is alive inside block *k* and, this
    slot being the standby, the block is the active's to finish; `active` is also true for
    a standby whose active the host holds up), or the crumb to quarantine:
    the peer died of a crash signal (or exited by itself inside a module), or was killed by
    the supervisor for hanging there. A
    peer killed from outside (SIGKILL without the hang mark) blames no module.
    """
    peer = seat.peer_counters.values
    crumb = int(peer[SlotField.CRUMB_MODULE])
    if crumb == 0 or peer[SlotField.CRUMB_BLOCK] != k or seat.peer.has_block(k):
        return 0
    pid = int(peer[SlotField.PID])
    died_of = death_signal(pid) if pid > 0 else -1
    if died_of == -1:
        died_of = int(peer[SlotField.DEATH_SIGNAL])  # the supervisor reaped it first
    if died_of is None:
        return 0 if active else -1
    if died_of in CRASH_SIGNALS or peer[SlotField.HUNG]:
        return crumb
    return 0


IMPORT_GRACE_NS = 10_000_000_000
"""How long a slot may import and warm a plugin without a heartbeat (numba may compile
its kernels on a first import): the supervisor sends code only to a standby or the spare,
whose lateness costs no sound."""


def prepare_plugin(request: tuple[Any, ...], rate: int, block: int) -> tuple[Any, ...]:
    """Import and warm (unless told not to) a plugin version named by the supervisor; the
    reply for it: ("plugin", name, version, ok, what went wrong, its parameters, whether a
    processor, its host group, its maker) — the last two a native plugin's (else empty)."""
    from chronus.dsp.module import Processor
    from chronus.plugins import runtime

    _, name, version, path, warm = request
    try:
        errors = runtime.prepare(name, version, path, rate, block, warm)
        cls = runtime.use_class(name, version)
    except BaseException as exc:  # a forced faulty module: told, never fatal here
        return ("plugin", name, version, False, f"{type(exc).__name__}: {exc}", (), False, "", "")
    detail = "; ".join(errors)
    group, maker = str(getattr(cls, "host_group", "")), ""
    info = getattr(cls, "INFO", None)
    if group and info is not None:
        maker = str(info.maker_name)
    processor = issubclass(cls, Processor)
    return ("plugin", name, version, True, detail, cls.PARAMS, processor, group, maker)


def _pin(seat: int) -> None:
    """Keep the two seats on different CPUs, so that one CPU held up cannot stall both."""
    cpu = seat_cpu(seat)
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def _hold(table: str, index: int) -> Lifelines | None:
    """Take this worker's lifeline; None if there is none to take."""
    if not table or index < 0:
        return None
    lifelines = Lifelines.attach(table)
    lifelines.hold(index)
    return lifelines


def worker_main(
    config: WorkerConfig,
    wakes: tuple[Semaphore, Semaphore],
    conn: Connection,
    lifeline: int = -1,
    humble: bool = False,
) -> None:
    """Entry point of a slot worker: warm up, report, wait for a seat, render until stopped.

    The worker holds its `lifeline` from birth to its end, so that the supervisor hears of
    its death as soon as its thread ends (or of its return, which lets go of the line). A
    `humble` worker (a spare made while the slots play) warms up and waits at the lowest
    priority (`step_aside`), so that its warm-up takes no CPU the slots and the audio I/O
    want; it comes back to nice 0 when it is given a seat.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if humble:
        step_aside()  # first: from its title on, it is seen as a spare
    set_title("spare")
    die_with_parent()
    held = None
    try:
        held = _hold(config.lifelines, lifeline)
        _serve(config, wakes, conn)
    except Exception as exc:
        _tell_failure(conn, exc)
        raise  # its traceback goes to stderr, and the process exits with code 1
    finally:
        if held is not None:
            held.let_go(lifeline)  # before the table is unmapped at exit


def _tell_failure(conn: Connection, exc: Exception) -> None:
    """Tell the supervisor the error this worker ends with, so that the engine's log and
    events say why (its stderr may go nowhere anyone reads)."""
    try:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    except (OSError, ValueError):
        pass  # the supervisor is gone, or the pipe is


def await_seat(
    conn: Connection, warm: tuple[Any, ...], config: WorkerConfig
) -> FreshStart | JoinStart | None:
    """Tell the supervisor this worker is warm, import the plugins it sends meanwhile, and
    return the start of the seat it gives; None if it ends the spare, or if it died (from
    the word `warm` on: a spare made just before its supervisor died warms up after it, and
    a new supervisor starts spares of its own)."""
    try:
        conn.send(warm)
        while isinstance(start := conn.recv(), tuple):  # plugins to import while it waits
            conn.send(prepare_plugin(start, config.rate, config.block))
    except (EOFError, OSError):
        return None
    return cast("FreshStart | JoinStart | None", start)


def _serve(config: WorkerConfig, wakes: tuple[Semaphore, Semaphore], conn: Connection) -> None:
    from chronus.dsp.guard import time_limit_s
    from chronus.dsp.render import Renderer  # here: the supervisor imports this module too
    from chronus.plugins import runtime
    from chronus.plugins.isolated import ring_links, set_link_maker, warm_stand_ins

    user_modules = load_user_modules()
    renderer = Renderer(config.rate, config.block)
    errors = renderer.warm_up()
    warm_stand_ins(config.rate, config.block)
    set_link_maker(ring_links(config.control))  # isolated modules' rings, by the engine's name
    renderer.graph.guard.limit_time(time_limit_s(config.rate, config.block))
    code = code_fingerprint(user_modules)
    gc.collect()
    gc.freeze()  # so that a collection at the start takes 0.2 ms instead of 28
    start = await_seat(
        conn, ("warm", os.getpid(), errors, code, sorted(runtime.imported())), config
    )
    if start is None:
        return
    step_back()  # a seat: loading a join's state is on the way to covering for the active
    io = SharedCounters.attach(config.io_counters, IoField.SIZE)
    control = SharedCounters.attach(config.control, ControlField.SIZE)
    stamps = CpuStamps.attach(config.cpu_stamps) if config.cpu_stamps else None
    prepared = PreparedPatterns.attach(config.prepared) if config.prepared else None
    seat = _Seat(start.seat, config.block)
    try:
        v = seat.counters.values
        claim_seat(v, renderer.graph.guard)
        first = _load_start(start, renderer, seat, io.values)
        seat.ring.restart_at(first)
        v[SlotField.JOINED_BLOCK] = first
        if isinstance(start, FreshStart):  # a joiner takes it once it has caught up
            v[SlotField.REALTIME] = try_realtime(SLOT_PRIORITY)
        watch = PeerWatch(stamps, seat_cpu(1 - start.seat.seat))  # before pinning narrows it
        _pin(start.seat.seat)
        wake = wakes[start.seat.seat]
        while wake.acquire(False):
            pass  # posts made for a dead predecessor
        gc.collect()  # what loading the start left behind: the rest is frozen already
        gc.freeze()
        gc.disable()  # collections come in the slot's spare time (`_collect`), not mid-block
        v[SlotField.STATE] = ProcessState.RUNNING
        conn.send(("running", first))
        peer_wake = wakes[1 - start.seat.seat]
        _render_loop(config, seat, renderer, wake, peer_wake, io, control, conn, watch, prepared)
        v[SlotField.STATE] = ProcessState.STOPPED
    finally:
        seat.close()
        io.close()
        control.close()
        for part in (stamps, prepared):
            if part is not None:
                part.close()


def claim_seat(v: npt.NDArray[np.int64], guard: Guard) -> None:
    """Make a seat's counters `v` this worker's: the guard's plugin table put in place of
    the predecessor's, its other figures cleared, then this pid, joining. The table goes
    first, while the seat still names the predecessor: read with another pid, its counts
    were a suspension of a plugin reloaded since (CI: "suspended" just after a fixed version
    was reloaded)."""
    guard.attach(plugin_rows(v[SlotField.PLUGINS :]))
    v[: SlotField.DECISIONS] = 0  # decisions stay: the peer may still need the last ones
    v[SlotField.PID] = os.getpid()
    v[SlotField.STARTED_NS] = time.monotonic_ns()
    v[SlotField.STATE] = ProcessState.JOINING
    v[SlotField.HEARTBEAT_NS] = time.monotonic_ns()


def _asked_for_state(v: npt.NDArray[np.int64]) -> bool:
    """Whether the supervisor asked this slot for its state (a join) and has not got it."""
    return bool(v[SlotField.SNAPSHOT_REQUEST] != v[SlotField.SNAPSHOT_DONE])


def _snapshot_taken(conn: Connection, v: npt.NDArray[np.int64]) -> None:
    """Tell the supervisor a snapshot is ready; the one that asked may have died since (its
    successor reads `SNAPSHOT_DONE`), and a slot must not die of that."""
    try:
        conn.send(("snapshot", int(v[SlotField.SNAPSHOT_DONE])))
    except OSError:
        pass


def _render_loop(
    config: WorkerConfig,
    seat: _Seat,
    renderer: Renderer,
    wake: Semaphore,
    peer_wake: Semaphore,
    io: SharedCounters,
    control: SharedCounters,
    conn: Connection,
    watch: PeerWatch,
    prepared: PreparedPatterns | None = None,
) -> None:
    from chronus.dsp.kernels import exceeds

    ring, peer, commands, decisions = seat.ring, seat.peer, seat.commands, seat.decisions
    v = seat.counters.values
    peer_counters = seat.peer_counters.values
    renderer.graph.crumb = v[SlotField.CRUMB_MODULE : SlotField.CRUMB_MODULE + 1]
    guard = renderer.graph.guard
    io_values = io.values
    flags = control.values
    me = seat.config.seat
    block = config.block
    caught_up = False
    period_ns = 1_000_000_000 * block // config.rate
    depth = RenderDepth(config.lead, period_ns, config.rate // block)
    v[SlotField.LEAD] = depth.lead
    checkpoint_blocks = max(1, round(CHECKPOINT_S * config.rate / block))
    next_checkpoint = ring.write_pos + 1
    period_s = period_ns / 1e9  # woken every block; a device that does not come is late
    spare_blocks = ring.capacity - depth.deepest - 1
    wait_s = period_s
    held_up = False
    undecided_since = 0
    titled: bool | None = None
    transport = TransportFeed(v)
    exceeds(ring.next_block(), SILENCE)  # load the kernel now, not on the first block

    def beat() -> None:  # a long batch of commands is progress, not a hang
        v[SlotField.HEARTBEAT_NS] = time.monotonic_ns()
        v[SlotField.HEARTBEAT_BLOCK] = io_values[IoField.CONSUMED]

    renderer.progress = beat
    plugins_seen = int(flags[ControlField.PLUGINS])
    capturer = Capturer()
    realtime = bool(v[SlotField.REALTIME])
    asked_for_join = False
    collect_at = time.monotonic() + GC_EVERY_S
    collections = 0
    while flags[ControlField.RUN]:
        woken = wake.acquire(timeout=wait_s)
        now = time.monotonic_ns()
        v[SlotField.HEARTBEAT_NS] = now
        v[SlotField.HEARTBEAT_BLOCK] = io_values[IoField.CONSUMED]
        asked_ns = int(io_values[IoField.LAST_BLOCK_NS])
        if woken and asked_ns:  # 0: the device has not asked for a block yet
            delay = now - asked_ns
            if delay > v[SlotField.MAX_WAKE_NS]:
                v[SlotField.MAX_WAKE_NS] = delay
            if delay > period_ns:
                v[SlotField.SLOW_WAKES] += 1
        active = flags[ControlField.ACTIVE] == me
        consumed = int(io_values[IoField.CONSUMED])
        # A device that is late will ask for the blocks it missed all at once when it comes
        # back: one more block ready for each period it is late (stamps follow what is
        # rendered, so commands meanwhile just apply that much later).
        last_block_ns = int(io_values[IoField.LAST_BLOCK_NS])
        late_ns = now - last_block_ns if last_block_ns else 0
        extra = min(late_ns // period_ns, spare_blocks) if 2 * late_ns > 3 * period_ns else 0
        lead = depth.lead
        target = consumed + lead + extra
        if active and not capturer.busy and _asked_for_state(v):
            target += _capture_margin(capturer, period_ns)  # as far as the ring has room
        was_held_up, held_up = held_up, False
        wait_s = period_s
        if not active:
            if peer.write_pos < target:  # the active owes blocks: watch it until it pays
                wait_s = PEER_POLL_S
                held_up = watch.held_up(int(peer_counters[SlotField.PID]), peer.write_pos, now)
            if held_up:  # render what it owes: a host stall must not take both slots' lead
                if not was_held_up:
                    v[SlotField.HELD_UP] += 1
            else:
                target = min(target, max(peer.write_pos, consumed + lead - 1 + extra))
        if extra:
            v[SlotField.EXTRA_BLOCKS] = max(int(v[SlotField.EXTRA_BLOCKS]), extra)
        rendered = False
        while ring.write_pos < target and ring.space() > 0:
            cycle = time.perf_counter_ns()
            k = ring.write_pos
            published = int(flags[ControlField.PUBLISHED])
            if drain(commands, renderer, decisions, published, prepared, v) < (k + 1) * block:
                # A command its peer has yet to note may land in block k (see `decisions`).
                if not undecided_since:
                    undecided_since = now
                    v[SlotField.DECISION_WAITS] += 1
                patience = period_ns if active or held_up else PEER_PATIENCE_NS
                decisions.give_up = now - undecided_since > patience
                wait_s = PEER_POLL_S
                break
            undecided_since = 0
            decisions.give_up = False
            if k == peer_counters[SlotField.CRUMB_BLOCK] and peer_counters[SlotField.CRUMB_MODULE]:
                crumb = _peer_died_here(seat, k, active or held_up)
                if crumb < 0:
                    break
                if crumb and renderer.graph.quarantine(crumb) is not None:
                    v[SlotField.QUARANTINED] = crumb
                    v[SlotField.QUARANTINE_BLOCK] = k
            v[SlotField.CRUMB_BLOCK] = k
            out = ring.next_block()
            start = time.perf_counter_ns()
            cpu = time.thread_time_ns()
            renderer.render(out, block)
            ring.publish(exceeds(out, SILENCE))
            if io_values[IoField.CONSUMED] > k:
                if caught_up:
                    ring.header[AudioRing.DROPS] += 1  # rendered after the device wanted it
            else:
                caught_up = True  # a joiner's catch-up blocks are late by design
            beat()  # every block: a slot that is slow (catching up, overloaded) is not hung
            if not active and not peer.has_block(k):
                v[SlotField.AHEAD] += 1
            end = time.perf_counter_ns()
            record_render(v, end - start, renderer.take_apply_ns())
            if end - start > period_ns:  # rare: whose fault, the render's or the CPU's?
                heavy = time.thread_time_ns() - cpu > period_ns
                v[SlotField.HEAVY_RENDERS if heavy else SlotField.HELD_RENDERS] += 1
            if depth.rendered(end - start):
                v[SlotField.LEAD] = depth.lead
            v[SlotField.MAX_DRAIN_NS] = max(int(v[SlotField.MAX_DRAIN_NS]), start - cycle)
            v[SlotField.MAX_CYCLE_NS] = max(int(v[SlotField.MAX_CYCLE_NS]), end - cycle)
            rendered = True
        if not realtime and (caught_up or active):
            # A joiner catches up at normal priority: its catch-up blocks are late by design,
            # and a burst of them at SCHED_FIFO would take its CPU from everything else.
            realtime = True
            v[SlotField.REALTIME] = try_realtime(SLOT_PRIORITY)
        if rendered and active:
            peer_wake.release()
        if rendered:
            transport.publish(renderer.sequencer.transport)
        if active != titled:  # after the blocks: a role change is named in spare time
            titled = active
            set_title(slot_title(me, active))
        if capturer.busy and capturer.poll() and asked_for_join:
            asked_for_join = False
            _snapshot_taken(conn, v)  # rare: a join waits
        if capturer.busy:
            pass
        elif _asked_for_state(v):
            asked_for_join = _capture_with(capturer, v, _snapshot(seat, renderer))
            if not asked_for_join:
                _snapshot_taken(conn, v)
        elif (
            rendered
            and caught_up
            and 0 < next_checkpoint <= ring.write_pos
            and (not active or peer_counters[SlotField.STATE] != ProcessState.RUNNING)
        ):  # the standby checkpoints, so that the slot the device plays is not held up
            _capture_with(capturer, v, _checkpoint(seat, renderer))
            next_checkpoint = ring.write_pos + checkpoint_blocks
        if flags[ControlField.PLUGINS] != plugins_seen:  # rare: code to import, in spare time
            plugins_seen = int(flags[ControlField.PLUGINS])
            while conn.poll():
                v[SlotField.HEARTBEAT_NS] = time.monotonic_ns() + IMPORT_GRACE_NS
                conn.send(prepare_plugin(conn.recv(), config.rate, config.block))
                beat()
        if rendered and time.monotonic() >= collect_at:
            collections += 1
            _collect(collections, active, v)
            collect_at = time.monotonic() + GC_EVERY_S
        v[SlotField.LATE] = renderer.late_count
        if renderer.max_apply_ns != v[SlotField.MAX_APPLY_NS]:  # rare: a new longest
            v[SlotField.MAX_APPLY_NS] = renderer.max_apply_ns
            v[SlotField.SLOWEST_COMMAND] = spec_index(renderer.slowest_command)
        v[SlotField.ERRORS] = renderer.error_count + renderer.graph.module_error_count
        guard.publish()
        v[SlotField.NONFINITE] = renderer.graph.nonfinite_count
