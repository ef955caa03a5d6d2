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
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Semaphore
from typing import Any

from chronus.dsp.render import Renderer
from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.engine.rings import AudioRing, CommandRing, SharedCounters
from chronus.engine.stats import ControlField, IoField, ProcessState, SlotField, record_timing
from chronus.protocol import Message, ProtocolError, decode

__all__ = [
    "HEARTBEAT_S",
    "SLOT_PRIORITY",
    "FreshStart",
    "JoinStart",
    "SeatConfig",
    "WorkerConfig",
    "worker_main",
]

SLOT_PRIORITY = 60
"""SCHED_FIFO priority of a slot: below JACK's clients (server priority − 5) and the null I/O."""

HEARTBEAT_S = 0.05
"""A running slot writes its heartbeat at least this often, even with no demand."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What every worker needs from birth; plain data so it crosses a spawn."""

    io_counters: str
    control: str
    rate: int
    block: int
    lead: int


@dataclass(frozen=True, slots=True)
class SeatConfig:
    """The shared memory of one seat, and of the other seat's audio ring."""

    seat: int
    ring: str
    peer_ring: str
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
    """Load the snapshot of `nbytes` bytes in shared memory `handover` and continue from it."""

    seat: SeatConfig
    handover: str
    nbytes: int


def _drain(commands: CommandRing, renderer: Renderer) -> None:
    while (record := commands.pop()) is not None:
        stamp, payload = record
        try:
            for message in decode(payload):
                renderer.schedule(stamp, message)
        except ProtocolError:
            renderer.error_count += 1


class _Seat:
    """A worker's attachments to its seat's shared memory."""

    def __init__(self, config: SeatConfig) -> None:
        self.config = config
        self.ring = AudioRing.attach(config.ring)
        self.peer = AudioRing.attach(config.peer_ring)
        self.commands = CommandRing.attach(config.commands)
        self.counters = SharedCounters.attach(config.counters, SlotField.SIZE)
        self.handover = shared_memory.SharedMemory(name=config.handover)

    def close(self) -> None:
        for part in (self.ring, self.peer, self.commands, self.counters, self.handover):
            part.close()


def _load_start(start: FreshStart | JoinStart, renderer: Renderer, seat: _Seat, io: Any) -> int:
    """Bring `renderer` to its first block; returns that block's index."""
    if isinstance(start, JoinStart):
        source = shared_memory.SharedMemory(name=start.handover)
        try:
            assert source.buf is not None
            snapshot = pickle.loads(bytes(source.buf[: start.nbytes]))
        finally:
            source.close()
        renderer.load_state(snapshot["renderer"])
        return int(snapshot["block"])
    block = max(start.block, int(io[IoField.CONSUMED]))
    renderer.position = block * renderer.max_block
    for message in start.setup:
        renderer.schedule(renderer.position, message)
    return block


def _snapshot(seat: _Seat, renderer: Renderer) -> None:
    """Write this slot's state at the current block boundary into its handover area."""
    v = seat.counters.values
    began = time.perf_counter_ns()
    _drain(seat.commands, renderer)
    snapshot = {"block": seat.ring.write_pos, "renderer": renderer.state()}
    data = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
    area = seat.handover.buf
    if area is not None and len(data) <= seat.handover.size:
        area[: len(data)] = data
        v[SlotField.SNAPSHOT_BYTES] = len(data)
    else:
        v[SlotField.SNAPSHOT_BYTES] = -len(data)
    v[SlotField.SNAPSHOT_BLOCK] = seat.ring.write_pos
    v[SlotField.SNAPSHOT_SEQ] = seat.commands.read_pos
    v[SlotField.SNAPSHOT_NS] = time.perf_counter_ns() - began
    v[SlotField.SNAPSHOT_DONE] = v[SlotField.SNAPSHOT_REQUEST]


def worker_main(config: WorkerConfig, wakes: tuple[Semaphore, Semaphore], conn: Connection) -> None:
    """Entry point of a slot worker: warm up, report, wait for a seat, render until stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    renderer = Renderer(config.rate, config.block)
    errors = renderer.warm_up()
    gc.collect()
    conn.send(("warm", os.getpid(), errors))
    try:
        start = conn.recv()
    except EOFError:
        return
    if start is None:
        return
    io = SharedCounters.attach(config.io_counters, IoField.SIZE)
    control = SharedCounters.attach(config.control, ControlField.SIZE)
    seat = _Seat(start.seat)
    try:
        v = seat.counters.values
        v[:] = 0
        v[SlotField.PID] = os.getpid()
        v[SlotField.STARTED_NS] = time.monotonic_ns()
        v[SlotField.STATE] = ProcessState.JOINING
        v[SlotField.HEARTBEAT_NS] = time.monotonic_ns()
        first = _load_start(start, renderer, seat, io.values)
        seat.ring.restart_at(first)
        v[SlotField.JOINED_BLOCK] = first
        v[SlotField.REALTIME] = try_realtime(SLOT_PRIORITY)
        wake = wakes[start.seat.seat]
        while wake.acquire(False):
            pass  # posts made for a dead predecessor
        gc.collect()
        gc.freeze()
        v[SlotField.STATE] = ProcessState.RUNNING
        conn.send(("running", first))
        _render_loop(config, seat, renderer, wake, wakes[1 - start.seat.seat], io, control)
        v[SlotField.STATE] = ProcessState.STOPPED
    finally:
        seat.close()
        io.close()
        control.close()


def _render_loop(
    config: WorkerConfig,
    seat: _Seat,
    renderer: Renderer,
    wake: Semaphore,
    peer_wake: Semaphore,
    io: SharedCounters,
    control: SharedCounters,
) -> None:
    ring, peer, commands = seat.ring, seat.peer, seat.commands
    v = seat.counters.values
    io_values = io.values
    flags = control.values
    me = seat.config.seat
    block = config.block
    lead = config.lead
    caught_up = False
    while flags[ControlField.RUN]:
        wake.acquire(timeout=HEARTBEAT_S)
        v[SlotField.HEARTBEAT_NS] = time.monotonic_ns()
        active = flags[ControlField.ACTIVE] == me
        consumed = int(io_values[IoField.CONSUMED])
        target = consumed + lead
        if not active:
            target = min(target, max(peer.write_pos, consumed + lead - 1))
        rendered = False
        while ring.write_pos < target and ring.space() > 0:
            cycle = time.perf_counter_ns()
            _drain(commands, renderer)
            k = ring.write_pos
            out = ring.next_block()
            start = time.perf_counter_ns()
            renderer.render(out, block)
            ring.publish(bool(out.any()))
            if io_values[IoField.CONSUMED] > k:
                if caught_up:
                    ring.header[AudioRing.DROPS] += 1  # rendered after the device wanted it
            else:
                caught_up = True  # a joiner's catch-up blocks are late by design
            if not active and not peer.has_block(k):
                v[SlotField.AHEAD] += 1
            end = time.perf_counter_ns()
            record_timing(v, SlotField.TIMING_COUNT, end - start)
            v[SlotField.MAX_DRAIN_NS] = max(int(v[SlotField.MAX_DRAIN_NS]), start - cycle)
            v[SlotField.MAX_CYCLE_NS] = max(int(v[SlotField.MAX_CYCLE_NS]), end - cycle)
            v[SlotField.BLOCKS] = ring.write_pos
            rendered = True
        if rendered and active:
            peer_wake.release()
        if v[SlotField.SNAPSHOT_REQUEST] != v[SlotField.SNAPSHOT_DONE]:
            _snapshot(seat, renderer)
        v[SlotField.LATE] = renderer.late_count
        v[SlotField.ERRORS] = renderer.error_count
        v[SlotField.NONFINITE] = renderer.graph.nonfinite_count
