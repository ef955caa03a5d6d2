"""The supervisor's side of MIDI out: the schedule, the MIDI-out process, `/midi/out*`.

Which process does what:
- The schedule (`MidiForecast`) lives here, in the supervisor: it is fed every command the
  supervisor stamps (`command`), so it knows each note's sample without any audio, and
  never touches a slot's render loop.
- The JACK client lives in a child process (`chronus.midi.sender`), so libjack's threads and
  a MIDI library that hangs are never in a process the music depends on; if it dies, only
  MIDI stops: `tick` starts a new one (at most once a `RESTART_S`), tells it the ports and
  the clock again and sends it the forecast afresh.
- Events go to it a `HORIZON_MS` ahead, as JSON lines on its stdin (a pipe that is never
  waited on: if it is full, the child is stuck and is replaced); it places samples on
  JACK's frames itself, from what the audio I/O hands over (`chronus.midi.frames`).
- A supervisor that dies closes the pipe: the child lets go of every note and ends. The
  supervisor that takes over seeds the schedule from a slot's state (`MidiForecast.seed`)
  and the routes from the manifest (`kept`, `resume`), and starts a new child.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Final

from chronus.dsp.errors import PatchError
from chronus.dsp.patch import Patch
from chronus.midi.out_forecast import Batch, MidiForecast
from chronus.midi.ports import PortError, choose_port
from chronus.protocol import Message

__all__ = ["HORIZON_MS", "RESTART_S", "MidiOutput"]

HORIZON_MS: Final = 100.0
"""How far ahead of the next stamp events go to the MIDI process: a supervisor held up for
less than this costs no event its frame."""
RESTART_S: Final = 1.0
"""The least time between two starts of the MIDI process."""
_STATUS_EVERY_S: Final = 1.0

Reply = Callable[..., None]
log = logging.getLogger("chronus.engine")


class MidiOutput:
    """MIDI out of one engine: the routes, the clock's, the forecast and the process."""

    def __init__(
        self, rate: int, block: int, io_counters: Callable[[], str],
        patch: Callable[[], Patch], reply: Reply, error: Reply, tell: Reply,
    ) -> None:  # fmt: skip
        self.forecast = MidiForecast(rate)
        self._rate, self._block = rate, block
        self._io_counters, self._patch = io_counters, patch
        self._reply, self._error, self._tell = reply, error, tell
        self.routes: dict[str, tuple[str, int]] = {}
        """Track → (JACK port, channel 0–15)."""
        self.clock_to: list[str] | None = None
        """The clock's ports (None: off; [] with `on`: every port a track plays to)."""
        self.outputs: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._waiting: list[tuple[Message, Any]] = []
        self._started_at = -RESTART_S
        self._asked_at = 0.0
        self.sender: dict[str, Any] = {}
        """The MIDI process's last status: sent, late, the frame offset it uses."""
        self._buffer = b""
        self.restarts = 0
        self.errors = 0
        self.stuck = 0

    # -- the schedule -------------------------------------------------------------------

    def command(self, message: Message, stamp: int) -> None:
        """A command the supervisor stamped (every one, from the start)."""
        self.forecast.command(message, stamp)

    def tick(self, next_stamp: int) -> None:
        """Bring the schedule to `next_stamp`; feed the process (start it again if it died).
        Never raises: a bug here costs MIDI out, never the supervisor."""
        try:
            self._tick(next_stamp)
        except Exception:
            self.errors += 1
            if self.errors == 1:
                log.exception("MIDI out failed (told once; it goes on with the next tick)")

    def _tick(self, next_stamp: int) -> None:
        self._read()
        if not self._wanted():
            self.forecast.idle(next_stamp)
            return
        horizon = next_stamp + round(HORIZON_MS * self._rate / 1000.0)
        batch = self.forecast.tick(next_stamp, horizon)
        if self._process is None or self._process.poll() is not None:
            self._restart()
            return
        if not self._ready:
            return
        now = time.monotonic()
        if now - self._asked_at >= _STATUS_EVERY_S:
            self._write({"status": 1})
            self._asked_at = now
        self._send(batch)

    def _send(self, batch: Batch) -> None:
        line: dict[str, Any] = {}
        if batch.retract_from is not None:
            line["retract"] = batch.retract_from
        if batch.events:
            line["events"] = [[e.sample, e.port, list(e.data)] for e in batch.events]
        if line:
            self._write(line)

    def _wanted(self) -> bool:
        return bool(self.routes) or self.clock_to is not None or bool(self._waiting)

    # -- requests -----------------------------------------------------------------------

    def request(self, message: Message, addr: Any, stamp: int) -> None:
        """`/midi/outs`, `/midi/out`, `/midi/clock`, answered once the process has listed
        the ports as they are now (a synth started after the process is found)."""
        self._waiting.append((message, addr))
        if not self._ready:
            self._start()
            return
        self._write({"list": 1})

    def _answer(self, message: Message, addr: Any, stamp: int) -> None:
        address, args = message.address, message.args
        try:
            if address == "/midi/outs":
                self._reply(addr, "/midi/outs", json.dumps(list(enumerate(self.outputs))))
            elif address == "/midi/out":
                self._route(str(args[0]), str(args[1]), int(args[2]) if len(args) > 2 else 1,
                            addr, stamp)  # fmt: skip
            elif address == "/midi/clock":
                self._clock(str(args[0]).strip(), addr, stamp)
        except (PortError, PatchError) as exc:
            self._error(addr, address, f"{exc}; nothing changed")

    def _route(self, track: str, spec: str, channel: int, addr: Any, stamp: int) -> None:
        if spec.strip() == "off":
            if self.routes.pop(track, None) is None:
                raise PortError(f"{track!r} plays to no MIDI out")
            self.forecast.route(track, None, stamp)
            self._write_ports(gone=track)
            self._reply(addr, "/midi/out", track, "off", 0)
            return
        self._patch().module(track)  # PatchError if there is none
        port = self.outputs[choose_port(self.outputs, spec)]
        self.routes[track] = (port, channel - 1)
        self.forecast.route(track, channel - 1, stamp)
        self._write_ports()
        self._reply(addr, "/midi/out", track, port, channel)
        self._tell("midi", f"{track} plays to MIDI out {port} (channel {channel})")

    def _clock(self, spec: str, addr: Any, stamp: int) -> None:
        if spec == "off":
            self.clock_to = None
        elif spec == "on":
            self.clock_to = []
        else:
            self.clock_to = [self.outputs[choose_port(self.outputs, spec)]]
        self.forecast.clock(self.clock_to is not None, stamp)
        self._write_ports()
        self._reply(addr, "/midi/clock", json.dumps(self._clock_ports()))

    def _clock_ports(self) -> list[str] | None:
        if self.clock_to is None:
            return None
        return self.clock_to or sorted({port for port, _ in self.routes.values()})

    def _write_ports(self, gone: str = "") -> None:
        ports: dict[str, Any] = {track: port for track, (port, _) in self.routes.items()}
        if gone:
            ports[gone] = []
        ports[""] = self._clock_ports() or []
        self._write({"ports": ports})

    # -- the process --------------------------------------------------------------------

    def _start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        command = [sys.executable, "-m", "chronus.midi.sender", "--title", "MIDI out",
                   "--io-counters", self._io_counters(), "--block", str(self._block)]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        for pipe in (self._process.stdin, self._process.stdout):
            flags = fcntl.fcntl(pipe.fileno(), fcntl.F_GETFL)
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._ready, self._buffer = False, b""
        self._started_at = time.monotonic()

    def _restart(self) -> None:
        if time.monotonic() - self._started_at < RESTART_S:
            return
        if self._process is not None:
            self._tell("midi", f"the MIDI-out process ended (exit {self._process.returncode}): "
                               "starting another")  # fmt: skip
            self.restarts += 1
        self._start()

    def _read(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        try:
            chunk = process.stdout.read(65536)
        except (BlockingIOError, ValueError):
            return
        if not chunk:
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                said = json.loads(line)
            except ValueError:
                continue
            self._heard(said)

    def _heard(self, said: dict[str, Any]) -> None:
        if "status" in said:
            self.sender = dict(said["status"])
        if "ready" in said:
            self._ready = True
            if self.routes or self.clock_to is not None:
                self._write_ports()
                self.forecast.resend()
        if "outputs" in said:
            self.outputs = list(said["outputs"])
            waiting, self._waiting = self._waiting, []
            for message, addr in waiting:
                self._answer(message, addr, self.forecast.final_at)
        if "failed" in said:
            text = str(said["failed"])
            waiting, self._waiting = self._waiting, []
            for message, addr in waiting:
                self._error(addr, message.address, f"{text}; nothing changed")
            self._tell("midi", f"MIDI out: {text}")

    def _write(self, what: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            return
        try:
            process.stdin.write(json.dumps(what).encode() + b"\n")
        except BlockingIOError:  # the pipe is full: the process is stuck
            self.stuck += 1
            process.kill()
        except (BrokenPipeError, ValueError):
            pass

    def stop(self) -> None:
        """End the MIDI-out process (the engine quits): it lets go of its notes first."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kept(self) -> tuple[tuple[tuple[str, str, int], ...], tuple[str, ...] | None]:
        """The routes and the clock's ports, for a supervisor that takes over (`resume`)."""
        routes = tuple((track, port, channel) for track, (port, channel) in self.routes.items())
        return routes, None if self.clock_to is None else tuple(self.clock_to)

    def resume(
        self, routes: tuple[tuple[str, str, int], ...], clock: tuple[str, ...] | None, stamp: int
    ) -> None:
        """Send on what a supervisor before this one sent (`kept`), from `stamp`."""
        for track, port, channel in routes:
            self.routes[track] = (port, channel)
            self.forecast.route(track, channel, stamp)
        if clock is not None:
            self.clock_to = list(clock)
            self.forecast.clock(True, stamp)

    @property
    def status(self) -> dict[str, Any]:
        """For `/engine/status`."""
        return {
            "routes": {t: {"port": p, "channel": c + 1} for t, (p, c) in self.routes.items()},
            "clock": self._clock_ports(), "running": self._ready, "restarts": self.restarts,
            "errors": self.errors, "sender": self.sender,
        }  # fmt: skip
