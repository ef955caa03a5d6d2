"""The supervisor: the engine's control plane.

It receives OSC over UDP, validates it against the address space and the patch, keeps the
authoritative patch state, stamps each command with the sample at which it applies, writes it to
the slot's command ring, watches its child processes and answers health queries. It owns no audio:
the slot renders and the audio I/O plays, and neither needs the supervisor to keep going.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import selectors
import socket
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from chronus import __version__
from chronus.dsp.patch import Patch, PatchError
from chronus.engine.audio_io import IoConfig, io_main
from chronus.engine.rings import AudioRing, CommandRing, SharedCounters, unique_name
from chronus.engine.slot import SlotConfig, slot_main
from chronus.engine.stats import (
    ControlField,
    IoField,
    ProcessState,
    SlotField,
    summary,
    timing_percentiles,
)
from chronus.protocol import (
    ENGINE_ONLY,
    Arg,
    Message,
    ProtocolError,
    encode,
    encode_raw,
    parse_packet,
    validate,
)

__all__ = ["EngineConfig", "EngineStartError", "Supervisor"]

_BOOT_TIMEOUT_S = 120.0
log = logging.getLogger("chronus.engine")


class EngineStartError(RuntimeError):
    """The engine could not start (port taken, device missing, a child failed)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's settings. Block size and lead are the only timing knobs."""

    host: str = "127.0.0.1"
    port: int = 57120
    backend: str = "auto"
    rate: int = 48000
    block: int = 128
    lead: int = 2
    device: str | None = None

    @property
    def lead_ms(self) -> float:
        """How far ahead of the device the slot renders, in milliseconds."""
        return 1000.0 * self.lead * self.block / self.rate


class Supervisor:
    """Owns the engine's processes and shared memory, and serves OSC."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.patch = Patch()
        self.backend_description = ""
        self.notice = ""
        self._ctx = mp.get_context("spawn")
        self._quit = False
        self._started_ns = time.monotonic_ns()
        self._received = 0
        self._errors = 0
        self._commands = 0
        self._sock: socket.socket | None = None
        self._ring: AudioRing | None = None
        self._cmd: CommandRing | None = None
        self._slot_counters: SharedCounters | None = None
        self._io_counters: SharedCounters | None = None
        self._slot: BaseProcess | None = None
        self._io: BaseProcess | None = None
        self._io_conn: Any = None
        self._control: SharedCounters | None = None
        self._halt = self._ctx.Semaphore(0)
        self._demand = self._ctx.Semaphore(0)

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind the socket, start the slot and the audio I/O; return the READY line."""
        c = self.config
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Bursts (a script's first beat, a controller) must queue, not drop; the kernel caps it.
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        try:
            self._sock.bind((c.host, c.port))
        except OSError as exc:
            raise EngineStartError(f"cannot listen on {c.host}:{c.port}: {exc.strerror}") from exc
        self._sock.setblocking(False)
        capacity = max(8, 4 * c.lead)
        self._ring = AudioRing.create(unique_name("audio-a"), capacity, c.block, c.rate)
        self._ring.header[AudioRing.ACTIVE] = 1
        self._cmd = CommandRing.create(unique_name("cmd-a"))
        self._slot_counters = SharedCounters.create(unique_name("slot-a"), SlotField.SIZE)
        self._io_counters = SharedCounters.create(unique_name("io"), IoField.SIZE)
        self._control = SharedCounters.create(unique_name("control"), ControlField.SIZE)
        self._control.values[ControlField.RUN] = 1
        self._start_slot()
        self._wait_for_slot()
        self._start_io()
        port = self._sock.getsockname()[1]
        return (
            f"READY chronus {__version__} osc={c.host}:{port} backend={self.backend_kind} "
            f"rate={c.rate} block={c.block} lead={c.lead}"
        )

    @property
    def port(self) -> int:
        """The UDP port actually bound (useful with `--port 0`)."""
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    @property
    def backend_kind(self) -> str:
        """`device` or `null`."""
        return "device" if self.backend_description.startswith("device") else "null"

    def _start_slot(self) -> None:
        assert self._ring is not None and self._cmd is not None
        assert self._slot_counters is not None and self._io_counters is not None
        assert self._control is not None
        c = self.config
        slot_config = SlotConfig(
            name="A",
            ring=self._ring.name,
            commands=self._cmd.name,
            counters=self._slot_counters.name,
            io_counters=self._io_counters.name,
            control=self._control.name,
            rate=c.rate,
            block=c.block,
            lead=c.lead,
        )
        for _ in range(c.lead):
            self._demand.release()
        self._slot = self._ctx.Process(
            target=slot_main, args=(slot_config, self._demand), name="chronus-slot-A"
        )
        self._slot.start()

    def _wait_for_slot(self) -> None:
        assert self._slot is not None and self._ring is not None
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        while self._ring.write_pos < self.config.lead:
            if not self._slot.is_alive():
                raise EngineStartError(f"the slot exited during start-up ({self._slot.exitcode})")
            if time.monotonic() > deadline:
                raise EngineStartError("the slot did not become ready in time")
            time.sleep(0.01)

    def _start_io(self) -> None:
        assert self._ring is not None and self._io_counters is not None
        assert self._control is not None
        c = self.config
        io_config = IoConfig(
            ring=self._ring.name,
            counters=self._io_counters.name,
            control=self._control.name,
            backend=c.backend,
            rate=c.rate,
            block=c.block,
            device=c.device,
        )
        parent_conn, child_conn = self._ctx.Pipe(duplex=False)
        self._io = self._ctx.Process(
            target=io_main,
            args=(io_config, self._demand, self._halt, child_conn),
            name="chronus-audio-io",
        )
        self._io.start()
        child_conn.close()
        self._io_conn = parent_conn
        if not parent_conn.poll(_BOOT_TIMEOUT_S):
            raise EngineStartError("the audio I/O did not start in time")
        reply = parent_conn.recv()
        if reply[0] != "ready":
            raise EngineStartError(reply[1])
        self.backend_description, self.notice = reply[1], reply[2]

    def request_quit(self, *_: object) -> None:
        """Ask the serve loop to stop (signal handlers and `/engine/quit` call this)."""
        self._quit = True

    def shutdown(self) -> None:
        """Stop the children, wait for them, and free the shared memory."""
        if self._control is not None:
            self._control.values[ControlField.RUN] = 0
        self._halt.release()
        for _ in range(4):
            self._demand.release()
        for proc in (self._io, self._slot):
            if proc is None:
                continue
            proc.join(3.0)
            if proc.is_alive():
                proc.kill()
                proc.join(3.0)
        for shm in (self._ring, self._cmd, self._slot_counters, self._io_counters, self._control):
            if shm is not None:
                shm.close()
        self._ring = self._cmd = self._slot_counters = self._io_counters = self._control = None
        if self._io_conn is not None:
            self._io_conn.close()
        if self._sock is not None:
            self._sock.close()

    # serving ---------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve OSC until quit is requested; watch the children meanwhile."""
        assert self._sock is not None and self._slot is not None and self._io is not None
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ, "osc")
        selector.register(self._slot.sentinel, selectors.EVENT_READ, "slot")
        selector.register(self._io.sentinel, selectors.EVENT_READ, "io")
        selector.register(self._io_conn, selectors.EVENT_READ, "io-report")
        while not self._quit:
            for key, _ in selector.select(timeout=0.1):
                if key.data == "osc":
                    self._read_socket()
                elif key.data == "io-report":
                    self._io_report(selector)
                else:
                    selector.unregister(key.fileobj)
                    self._child_died(str(key.data))
        selector.close()

    def _read_socket(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data, addr = self._sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionError:
                continue
            self._received += 1
            self.handle_packet(data, addr)

    def _io_report(self, selector: selectors.BaseSelector) -> None:
        try:
            kind, text = self._io_conn.recv()[:2]
        except (EOFError, OSError):
            selector.unregister(self._io_conn)
            return
        log.warning("audio I/O %s: %s", kind, text)

    def _child_died(self, which: str) -> None:
        proc = self._slot if which == "slot" else self._io
        assert proc is not None
        proc.join(0.1)
        counters = self._slot_counters if which == "slot" else self._io_counters
        if counters is not None:
            counters.values[0] = ProcessState.DEAD
        log.error("the %s process exited (code %s)", which, proc.exitcode)

    def _reply(self, addr: Any, address: str, *args: Arg) -> None:
        assert self._sock is not None
        try:
            self._sock.sendto(encode_raw(address, *args), addr)
        except OSError:
            pass  # the sender is gone; UDP replies are best effort

    def _error(self, addr: Any, address: str, text: str) -> None:
        self._errors += 1
        self._reply(addr, "/error", address, text)

    def handle_packet(self, data: bytes, addr: Any) -> None:
        """Validate and act on one datagram; never raises."""
        try:
            raw = parse_packet(data)
        except ProtocolError as exc:
            self._error(addr, "", str(exc))
            return
        for address, args in raw:
            try:
                message = validate(address, args)
            except ProtocolError as exc:
                self._error(addr, address if isinstance(address, str) else "", str(exc))
                continue
            try:
                if message.address in ENGINE_ONLY:
                    self._engine_request(message, addr)
                else:
                    self._command(message, addr)
            except Exception as exc:  # a bug in one handler must not take the engine down
                log.exception("internal error handling %s", message.address)
                self._error(addr, message.address, f"internal error: {exc!r}")

    def next_stamp(self) -> int:
        """The first sample that no slot can have started rendering."""
        assert self._ring is not None
        return (self._ring.write_pos + 1) * self.config.block

    def _command(self, message: Message, addr: Any) -> None:
        assert self._cmd is not None
        if len(self._cmd) >= self._cmd.capacity:
            self._error(addr, message.address, "engine busy: command queue full, nothing changed")
            return
        payload = encode(message)
        if len(payload) > self._cmd.max_payload:
            self._error(addr, message.address, "message too large, nothing changed")
            return
        try:
            warnings = self.patch.apply(message)
        except PatchError as exc:
            self._error(addr, message.address, str(exc))
            return
        self._cmd.push(self.next_stamp(), payload)
        self._commands += 1
        for warning in warnings:
            self._reply(addr, "/warning", message.address, warning)

    def _engine_request(self, message: Message, addr: Any) -> None:
        if message.address == "/engine/status":
            self._reply(addr, "/engine/status", json.dumps(self.status()))
        elif message.address == "/engine/dump":
            self._reply(addr, "/engine/dump", json.dumps(self.patch.to_dict()))
        elif message.address == "/engine/sync":
            self._reply(addr, "/engine/synced", message.args[0], self.next_stamp())
        elif message.address == "/engine/quit":
            self._reply(addr, "/engine/quit", "bye")
            self.request_quit()

    # health ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Health of the engine, its slot and its audio I/O, as plain data."""
        c = self.config
        slots = []
        if self._slot_counters is not None:
            v = self._slot_counters.values
            slot = summary(self._slot_counters, SlotField)
            slot.update(
                name="A",
                role="active",
                restarts=0,
                blocks_rendered=int(v[SlotField.BLOCKS]),
                render=timing_percentiles(v, SlotField.TIMING_COUNT),
                max_command_us=round(int(v[SlotField.MAX_DRAIN_NS]) / 1000, 1),
                max_cycle_us=round(int(v[SlotField.MAX_CYCLE_NS]) / 1000, 1),
                realtime=bool(v[SlotField.REALTIME]),
                late_commands=int(v[SlotField.LATE]),
                late_blocks=int(self._ring.header[AudioRing.DROPS]) if self._ring else 0,
                errors=int(v[SlotField.ERRORS]),
                nonfinite_samples=int(v[SlotField.NONFINITE]),
            )
            slots.append(slot)
        io: dict[str, Any] = {}
        if self._io_counters is not None:
            v = self._io_counters.values
            io = summary(self._io_counters, IoField)
            io.update(
                backend=self.backend_kind,
                device=self.backend_description,
                realtime=bool(v[IoField.REALTIME]),
                blocks_played=int(v[IoField.CONSUMED]),
                sounding_blocks=int(v[IoField.SOUNDING_BLOCKS]),
                last_onset_age_s=(
                    round((time.monotonic_ns() - int(v[IoField.LAST_ONSET_NS])) / 1e9, 3)
                    if v[IoField.LAST_ONSET_NS]
                    else None
                ),
                xruns=int(v[IoField.XRUNS]),
                underruns=int(v[IoField.UNDERRUNS]),
                last_underrun_block=int(v[IoField.LAST_UNDERRUN_BLOCK]),
                wrong_size_callbacks=int(v[IoField.WRONG_SIZE]),
                callback=timing_percentiles(v, IoField.TIMING_COUNT),
                device_latency_ms=round(int(v[IoField.DEVICE_LATENCY_US]) / 1000.0, 3),
                last_onset_ns=int(v[IoField.LAST_ONSET_NS]),
                last_block_ns=int(v[IoField.LAST_BLOCK_NS]),
            )
        return {
            "engine": {
                "version": __version__,
                "uptime_s": round((time.monotonic_ns() - self._started_ns) / 1e9, 3),
                "rate": c.rate,
                "block": c.block,
                "lead": c.lead,
                "lead_ms": round(c.lead_ms, 3),
                "osc": {
                    "received": self._received,
                    "errors": self._errors,
                    "commands": self._commands,
                },
                "notice": self.notice,
            },
            "io": io,
            "slots": slots,
        }
