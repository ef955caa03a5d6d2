"""A slot: one process that holds the whole DSP graph and renders blocks on demand.

The slot never paces itself by a wall clock. It sleeps on the demand semaphore, which the audio
I/O posts once per consumed block, and then renders until it is `lead` blocks ahead of the
consumed-block counter. Commands arrive stamped with the sample at which they apply, so every
slot that sees the same commands renders the same samples.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Semaphore

from chronus.dsp.render import Renderer
from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.engine.rings import AudioRing, CommandRing, SharedCounters
from chronus.engine.stats import ControlField, IoField, ProcessState, SlotField, record_timing
from chronus.protocol import ProtocolError, decode

__all__ = ["SLOT_PRIORITY", "SlotConfig", "slot_main"]

SLOT_PRIORITY = 60
"""SCHED_FIFO priority of a slot: below JACK's clients (server priority − 5) and the null I/O."""


@dataclass(frozen=True, slots=True)
class SlotConfig:
    """Names of a slot's shared memory and its timing; plain data so it crosses a spawn."""

    name: str
    ring: str
    commands: str
    counters: str
    io_counters: str
    control: str
    rate: int
    block: int
    lead: int


def _drain(commands: CommandRing, renderer: Renderer) -> None:
    while (record := commands.pop()) is not None:
        stamp, payload = record
        try:
            for message in decode(payload):
                renderer.schedule(stamp, message)
        except ProtocolError:
            renderer.error_count += 1


def slot_main(config: SlotConfig, demand: Semaphore) -> None:
    """Entry point of a slot process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    ring = AudioRing.attach(config.ring)
    commands = CommandRing.attach(config.commands)
    counters = SharedCounters.attach(config.counters, SlotField.SIZE)
    io = SharedCounters.attach(config.io_counters, IoField.SIZE)
    control = SharedCounters.attach(config.control, ControlField.SIZE)
    running = control.values
    io_values = io.values
    v = counters.values
    v[SlotField.PID] = os.getpid()
    v[SlotField.STARTED_NS] = time.monotonic_ns()
    v[SlotField.STATE] = ProcessState.WARMING
    renderer = Renderer(config.rate, config.block)
    renderer.warm_up()
    v[SlotField.REALTIME] = try_realtime(SLOT_PRIORITY)
    gc.collect()
    gc.freeze()
    v[SlotField.STATE] = ProcessState.RUNNING
    block = config.block
    try:
        while running[ControlField.RUN]:
            demand.acquire(timeout=0.05)
            v[SlotField.HEARTBEAT_NS] = time.monotonic_ns()
            target = int(io_values[IoField.CONSUMED]) + config.lead
            while ring.write_pos < target and ring.space() > 0:
                cycle = time.perf_counter_ns()
                _drain(commands, renderer)
                out = ring.next_block()
                start = time.perf_counter_ns()
                renderer.render(out, block)
                ring.publish(bool(out.any()))
                if io_values[IoField.CONSUMED] >= ring.write_pos:
                    ring.header[AudioRing.DROPS] += 1  # rendered after the device wanted it
                end = time.perf_counter_ns()
                record_timing(v, SlotField.TIMING_COUNT, end - start)
                v[SlotField.MAX_DRAIN_NS] = max(int(v[SlotField.MAX_DRAIN_NS]), start - cycle)
                v[SlotField.MAX_CYCLE_NS] = max(int(v[SlotField.MAX_CYCLE_NS]), end - cycle)
                v[SlotField.BLOCKS] = ring.write_pos
            v[SlotField.LATE] = renderer.late_count
            v[SlotField.ERRORS] = renderer.error_count
            v[SlotField.NONFINITE] = renderer.graph.nonfinite_count
        v[SlotField.STATE] = ProcessState.STOPPED
    finally:
        ring.close()
        commands.close()
        counters.close()
        io.close()
        del running, io_values
        control.close()
