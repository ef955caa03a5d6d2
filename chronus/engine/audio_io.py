"""The audio I/O process: the device callback (or its null twin) and nothing else.

The callback copies block *k* from the active slot's ring into the device buffer; if the
active has not published it, block *k* of the standby (the same samples, rendered in
lockstep, except during a commit); if neither has, a short fade to silence and a counted
underrun — unless the device is catching up after a stall (a burst), when it waits a
fraction of a millisecond for a slot to finish the block. Then it advances the
consumed-block counter (the engine's master clock), wakes both slots with one semaphore
post each and copies the block to the record tap. An xrun the device reports is counted,
and counted again if it is the host's: right after a host stall (`XrunTagger`). It
allocates no arrays, takes no lock another process can hold for long, and never raises.

An I/O that replaces a dead one (`IoConfig.resume`) writes silence while the supervisor's
stand-in holds the clock, then takes it, skips the blocks that fell due meanwhile and fades
in on the block due now (see `io_clock`).
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Semaphore
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp.crossfade import crossfade_into
from chronus.engine.cpu_watch import CpuStamps, XrunTagger
from chronus.engine.io_clock import advance, resume_skip
from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.engine.recorder import RecordTap
from chronus.engine.rings import AudioRing, SharedCounters
from chronus.engine.stats import (
    BURST_BELOW_PERIODS,
    HANDING_US_BITS,
    ControlField,
    IoField,
    ProcessState,
    record_timing,
    underrun_row,
)
from chronus.engine.titles import set_title

__all__ = [
    "BURST_WAIT_NS",
    "NULL_PRIORITY",
    "BlockPump",
    "IoConfig",
    "io_main",
    "probe_device",
]

NULL_PRIORITY = 65
"""SCHED_FIFO priority of the null backend's clock loop (JACK gives its clients 65 too)."""
_HANDING_US_MASK = (1 << HANDING_US_BITS) - 1
BURST_WAIT_NS = 500_000
"""How long a callback in a burst waits for a block a slot is finishing (a slot's render:
p99 ~0.25 ms); the device is already late then, and a dip is what waiting avoids."""
BURST_POLL_S = 25e-6


@dataclass(frozen=True, slots=True)
class IoConfig:
    """What the I/O process needs to know; plain data so it crosses a spawn."""

    rings: tuple[str, str]
    tap: str
    counters: str
    control: str
    backend: str
    rate: int
    block: int
    device: str | None = None
    cpu_stamps: str = ""
    """The supervisor's `CpuStamps`; empty where there are none."""
    resume: bool = False
    """This I/O replaces one that died: it takes the clock from the supervisor's stand-in."""
    standby: bool = False
    """A spare that runs its device while it waits, writing silence (JACK sums the clients'
    outputs), so that its `go` costs no device open: the standby I/O (see `io_keeper`)."""


class BlockPump:
    """The body of the audio callback, shared by the device and null backends."""

    def __init__(
        self,
        rings: tuple[AudioRing, AudioRing],
        tap: RecordTap,
        counters: SharedCounters,
        control: SharedCounters,
        wakes: tuple[Semaphore, Semaphore],
        stamps: CpuStamps | None = None,
        period_ns: int = 0,
        resume: bool = False,
    ) -> None:
        self._rings = rings
        self._stamps = stamps
        self._tagger = XrunTagger(stamps, period_ns) if stamps is not None else None
        self._period_ns = period_ns
        self._burst_ns = int(period_ns * BURST_BELOW_PERIODS)
        self._tap = tap
        self._v = counters.values
        self._flags = control.values
        self._wakes = wakes
        self._block = rings[0].block
        self._was_sounding = False
        self._silent = resume  # a restart fades in on its first block, after the gap
        self._splices_due = 0
        """Blocks still to be spliced from the last sample played (see `_splice`)."""
        self._resuming = resume
        self._owns_clock = False
        self.released = True
        """False while a standby waits for its `go`: it writes silence and reads nothing."""
        self._thread_checked = False
        ramp = (np.arange(self._block, dtype=np.float32) + 1) / self._block
        self._fade_in = ramp.reshape(-1, 1)
        self._fade_out = (1.0 - ramp).reshape(-1, 1)
        self._last = np.zeros((1, rings[0].channels), dtype=np.float32)
        self._scratch = (
            np.zeros((self._block, 1)),
            np.zeros((self._block, 1), dtype=np.float32),
            np.zeros((self._block, 1), dtype=np.float32),
            np.zeros((self._block, rings[0].channels), dtype=np.float32),
            np.arange(self._block, dtype=np.float64).reshape(-1, 1),
        )

    def _crossfade(
        self, out: npt.NDArray[np.float32], old: AudioRing, new: AudioRing, k: int, j: int
    ) -> None:
        """Block *k*, the *j*-th of an equal-power crossfade of `XFADE_BLOCKS` blocks."""
        total = int(self._flags[ControlField.XFADE_BLOCKS]) * self._block
        old_block, new_block = old.blocks[k % old.capacity], new.blocks[k % new.capacity]
        crossfade_into(out, old_block, new_block, j * self._block, total, self._scratch)

    def pump(self, out: npt.NDArray[np.float32]) -> None:
        """Fill `out` (one block) with block *k* of the active slot, the standby, or silence."""
        start = time.monotonic_ns()
        v = self._v
        if not self._owns_clock:
            if v[IoField.CLOCK_HELD]:  # the stand-in's until it sees this device run
                out.fill(0.0)
                v[IoField.WAITING_CALLBACKS] += 1
                return
            self._owns_clock = True
            if self._resuming:  # the blocks that fell due since the stand-in let go
                skip = resume_skip(int(v[IoField.LAST_BLOCK_NS]), start, self._period_ns)
                advance(v, self._rings, skip, self._period_ns)
        k = int(v[IoField.CONSUMED])
        v[IoField.HANDING] = k << HANDING_US_BITS | (start // 1000) & _HANDING_US_MASK
        flags = self._flags
        active = int(flags[ControlField.ACTIVE])
        fading = int(flags[ControlField.XFADE_BLOCKS])
        if fading:
            j = k - int(flags[ControlField.XFADE_START])
            old = self._rings[int(flags[ControlField.XFADE_FROM])]
            new = self._rings[active]
            if j < 0:
                active = int(flags[ControlField.XFADE_FROM])  # the switch is still to come
            elif j < fading:
                has_old, has_new = old.has_block(k), new.has_block(k)
                if has_old and has_new:
                    self._crossfade(out, old, new, k, j)
                    either = old.sounding[k % old.capacity] or new.sounding[k % new.capacity]
                    self._finish(out, k, start, bool(either))
                    return
                if has_old or has_new:  # neither: an underrun, counted as such below
                    # One slot late mid-fade: its side alone is not where the mix was, and
                    # the next block's mix is not where its side ends. Both are spliced.
                    v[IoField.ONE_SIDED_FADES] += 1
                    self._splices_due = 2
        ring = self._rings[active]
        if not ring.has_block(k):
            ring = self._rings[1 - active]
            if flags[ControlField.APART] or not ring.has_block(k):
                waited = self._wait_in_burst(k, start, active)
                if waited is None:
                    # Fade from the last sample played, so the gap is a dip and not a click.
                    np.multiply(self._fade_out, self._last, out=out)
                    self._silent = True
                    self._splices_due = 0  # the fade-in after the gap starts from silence
                    if self._resuming:  # not played yet since the restart: still the gap
                        v[IoField.BLOCKS_MISSED] += 1
                    else:
                        self._log_underrun(k, start, active)
                    self._was_sounding = False
                    self._after(k, start, out)
                    return
                ring = waited
            if ring is not self._rings[active]:
                v[IoField.COVERED] += 1
        index = k % ring.capacity
        if self._silent:
            np.multiply(ring.blocks[index], self._fade_in, out=out)
        else:
            np.copyto(out, ring.blocks[index])
        self._finish(out, k, start, ring.sounding[index] != 0)

    def _splice(self, out: npt.NDArray[np.float32]) -> None:
        """Blend `out` in from the last sample played, linearly over the block, so that a
        change of source mid-crossfade is a smear of one block and not a click."""
        self._splices_due -= 1
        np.subtract(out, self._last, out=out)
        np.multiply(out, self._fade_in, out=out)
        np.add(out, self._last, out=out)

    def _wait_in_burst(self, k: int, start: int, active: int) -> AudioRing | None:
        """In a burst, give the slots up to `BURST_WAIT_NS` to publish block *k*.

        A burst is the device asking again under half a period after the last block: it is
        catching up on cycles a stall took, so it is late already, and a block a slot is
        finishing is better than a dip. Returns the ring that has it (the active's first).
        """
        v = self._v
        if start - int(v[IoField.LAST_BLOCK_NS]) >= self._burst_ns:
            return None
        v[IoField.BURST_WAITS] += 1
        mine, other = self._rings[active], self._rings[1 - active]
        either = not self._flags[ControlField.APART]
        deadline = start + BURST_WAIT_NS
        while time.monotonic_ns() < deadline:
            time.sleep(BURST_POLL_S)  # not a spin: the slot may be on this CPU, below us
            if mine.has_block(k) or (either and other.has_block(k)):
                v[IoField.BURST_SAVES] += 1
                return mine if mine.has_block(k) else other
        return None

    def _log_underrun(self, k: int, start: int, active: int) -> None:
        """Count the underrun of block *k* and keep what each seat held when it was due."""
        v = self._v
        n = int(v[IoField.UNDERRUNS]) + 1
        row = underrun_row(n)
        v[row] = k
        v[row + 1] = start - int(v[IoField.LAST_BLOCK_NS])
        v[row + 2] = active
        v[row + 3] = self._rings[0].write_pos
        v[row + 4] = self._rings[1].write_pos
        v[IoField.LAST_UNDERRUN_BLOCK] = k
        v[IoField.UNDERRUNS] = n  # last, so that a reader that sees the count sees its row

    def _finish(self, out: npt.NDArray[np.float32], k: int, start: int, sounding: bool) -> None:
        """Splice it if one is due, count a block played from a ring, then `_after`."""
        if self._splices_due:
            self._splice(out)
        v = self._v
        if self._resuming:
            self._resuming = False
            v[IoField.RESUMED_BLOCK] = k
            v[IoField.RESUMED_NS] = start  # last: a reader that sees it sees the block
        if sounding:
            v[IoField.SOUNDING_BLOCKS] += 1
            if not self._was_sounding:
                v[IoField.LAST_ONSET_NS] = start
        self._was_sounding = sounding
        self._silent = False
        self._after(k, start, out)

    def _after(self, k: int, start: int, out: npt.NDArray[np.float32]) -> None:
        """Advance the clock, free the rings, wake the slots, feed the tap, time the pump."""
        v = self._v
        self._last[0] = out[self._block - 1]
        v[IoField.CONSUMED] = k + 1
        for each in self._rings:
            each.header[AudioRing.READ] = k + 1
        for wake in self._wakes:
            wake.release()
        self._tap.put(k, out)
        v[IoField.LAST_BLOCK_NS] = start
        end = time.monotonic_ns()
        record_timing(v, IoField.TIMING_COUNT, end - start)
        if end - start > self._period_ns > 0:
            v[IoField.LONG_CALLBACKS] += 1
            stamps = self._stamps
            if stamps is not None and stamps.stalled_within(end, end - start):
                v[IoField.LONG_CALLBACKS_IN_HOST_STALLS] += 1

    def count_xrun(self) -> None:
        """Count an xrun of the device, and again if it is the host's (`XrunTagger`)."""
        v = self._v
        v[IoField.XRUNS] += 1
        if self._tagger is not None and self._tagger.is_hosts(time.monotonic_ns()):
            v[IoField.XRUNS_IN_HOST_STALLS] += 1

    def device_callback(
        self, outdata: npt.NDArray[np.float32], frames: int, _time: Any, status: Any
    ) -> None:
        """sounddevice's callback signature around `pump`."""
        if not self.released:  # a standby: another I/O plays, and owns every counter
            outdata.fill(0.0)
            return
        if status:
            self.count_xrun()
        if not self._thread_checked:
            self._v[IoField.REALTIME] = _thread_is_realtime()
            self._thread_checked = True
        if frames != self._block:
            outdata.fill(0.0)
            self._v[IoField.WRONG_SIZE] += 1
            return
        self.pump(outdata)


def _thread_is_realtime() -> bool:
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else 0
    return policy in (getattr(os, "SCHED_FIFO", -1), getattr(os, "SCHED_RR", -1))


def probe_device(device: str | None) -> tuple[bool, str]:
    """Whether an output device can be opened, and a one-line reason if not."""
    try:
        import sounddevice as sd
    except OSError as exc:
        return False, f"PortAudio library not found ({exc})"
    try:
        info = sd.query_devices(device, kind="output")
    except (ValueError, sd.PortAudioError) as exc:
        if device is None:
            return False, "no audio output device found"
        return False, f"cannot use output device {device!r} ({exc})"
    host_api = sd.query_hostapis(int(info["hostapi"]))["name"]
    return True, f"{info['name']} ({host_api})"


def _run_null(pump: BlockPump, config: IoConfig, control: npt.NDArray[np.int64]) -> None:
    """Pump blocks on a real-time clock, as a device would, with nobody listening."""
    pump._v[IoField.REALTIME] = try_realtime(NULL_PRIORITY)
    out = np.zeros((config.block, 2), dtype=np.float32)
    period = config.block * 1_000_000_000 // config.rate
    remainder = config.block * 1_000_000_000 % config.rate
    error = 0
    deadline = time.monotonic_ns()
    while control[ControlField.RUN]:
        deadline += period
        error += remainder
        if error >= config.rate:  # keep the average period exact over long runs
            deadline += 1
            error -= config.rate
        delay = deadline - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        elif delay < -period:
            pump.count_xrun()
            deadline = time.monotonic_ns()
        pump.pump(out)


def _run_device(
    pump: BlockPump,
    config: IoConfig,
    halt: Semaphore,
    before: Callable[[], bool] | None = None,
) -> None:
    """Play until `halt`; a standby first runs `before` (its wait for `go`) with the device
    running, and plays only if it returns True."""
    import sounddevice as sd

    with sd.OutputStream(
        samplerate=config.rate,
        blocksize=config.block,
        channels=2,
        dtype="float32",
        latency="low",
        device=config.device,
        callback=pump.device_callback,
    ) as stream:
        if before is not None:
            if not before():
                return
            pump.released = True
        pump._v[IoField.DEVICE_LATENCY_US] = int(float(stream.latency) * 1e6)
        # Block without a timeout: a main thread that wakes up to run Python can hold the GIL
        # when the device thread needs it, and on a busy machine that costs an xrun.
        halt.acquire()


def _silence(outdata: npt.NDArray[np.float32], *_: Any) -> None:
    outdata.fill(0.0)


def _warm_spare(config: IoConfig, conn: Connection) -> bool:
    """Open the device once, as a spare: a process's first open costs ~0.5 s on JACK, the
    next ones ~40 ms. False (and the reason told on `conn`) if it cannot be opened."""
    ok, detail = probe_device(config.device)
    if not ok:
        conn.send(("error", f"cannot open the audio device: {detail}"))
        return False
    import sounddevice as sd

    try:
        sd.OutputStream(
            samplerate=config.rate, blocksize=config.block, channels=2, dtype="float32",
            latency="low", device=config.device, callback=_silence,
        ).close()  # fmt: skip
    except sd.PortAudioError as exc:
        conn.send(("error", f"cannot open the audio device: {exc}"))
        return False
    return True


def _choose_backend(config: IoConfig) -> tuple[str, str, str]:
    """(backend, description, notice); backend "" if the device asked for cannot be opened
    (the description says why)."""
    if config.backend not in ("auto", "device"):
        return "null", "null (real-time clock, no device)", ""
    ok, detail = probe_device(config.device)
    if ok:
        return "device", f"device: {detail}", ""
    if config.backend == "device":
        return "", f"cannot open the audio device: {detail}", ""
    notice = (
        f"{detail}; playing on the null backend (silent). Use `chronus render` to hear a script."
    )
    return "null", "null (real-time clock, no device)", notice


def io_main(
    config: IoConfig,
    wakes: tuple[Semaphore, Semaphore],
    halt: Semaphore,
    conn: Connection,
    go: Semaphore | None = None,
) -> None:
    """Entry point of the audio I/O process. Reports its backend (or failure) on `conn`.

    It runs until the supervisor clears the RUN flag of the control block and posts `halt`.
    Given `go`, it is a spare: it warms up (`_warm_spare`) and touches nothing of the
    engine's until `go` is posted (another I/O plays meanwhile).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_title("audio I/O" if go is None else "spare audio I/O")
    die_with_parent()
    if go is not None and not _warm_spare(config, conn):
        return
    rings = (AudioRing.attach(config.rings[0]), AudioRing.attach(config.rings[1]))
    tap = RecordTap.attach(config.tap)
    tap.fault_in()
    counters = SharedCounters.attach(config.counters, IoField.SIZE)
    control = SharedCounters.attach(config.control, ControlField.SIZE)
    stamps = CpuStamps.attach(config.cpu_stamps) if config.cpu_stamps else None
    period_ns = config.block * 1_000_000_000 // config.rate
    pump = BlockPump(rings, tap, counters, control, wakes, stamps, period_ns, config.resume)
    gc.collect()  # before a spare's wait: a collection here takes tens of milliseconds
    gc.freeze()
    gc.disable()  # the callback makes no reference cycles; a collection there is a glitch
    v = counters.values
    seated = False

    def wait_for_go() -> bool:  # another I/O plays: touch nothing of the engine's until `go`
        assert go is not None
        conn.send(("warm",))
        go.acquire()
        set_title("audio I/O")
        return bool(control.values[ControlField.RUN])

    def take_seat() -> str:
        """Say this I/O plays (in its counters and on `conn`); its backend ("": failed)."""
        nonlocal seated
        seated = True
        v[IoField.PID] = os.getpid()
        v[IoField.STARTED_NS] = time.monotonic_ns()
        backend, description, notice = _choose_backend(config)
        if not backend:
            v[IoField.STATE] = ProcessState.FAILED
            conn.send(("error", description))
            return ""
        v[IoField.DEVICE] = 1 if backend == "device" else 0
        v[IoField.STATE] = ProcessState.RUNNING
        conn.send(("ready", description, notice))
        return backend

    try:
        if go is not None and config.standby:
            pump.released = False
            _run_device(pump, config, halt, lambda: wait_for_go() and bool(take_seat()))
        elif (go is None or wait_for_go()) and (backend := take_seat()):
            if backend == "device":
                _run_device(pump, config, halt)
            else:
                _run_null(pump, config, control.values)
        if seated:
            v[IoField.STATE] = ProcessState.STOPPED
    except Exception as exc:  # reported to the supervisor, which decides what follows
        if seated:
            v[IoField.STATE] = ProcessState.FAILED
        conn.send(("error", f"audio I/O stopped: {exc}"))
    finally:
        del pump
        for ring in rings:
            ring.close()
        tap.close()
        counters.close()
        control.close()
        if stamps is not None:
            stamps.close()
