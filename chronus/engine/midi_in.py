"""The supervisor's side of MIDI in: starts the MIDI process (`chronus.midi.bridge`), answers
who asked when it reports, and notices when it ends.

The bridge is a child process with one job; it reaches the engine as any OSC client does,
so its death, or a MIDI library that hangs, costs MIDI and never a block of audio. Starting
one returns at once (the serve loop never waits for it); its `/midi/bridge` report comes
back through the OSC socket and `report` relays it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from chronus.engine.subscribers import clean_name

__all__ = ["MidiInput"]

Reply = Callable[..., None]


class MidiInput:
    """The MIDI process of one engine (at most one reads a port at a time)."""

    def __init__(self, engine: tuple[str, int], reply: Reply, error: Reply, tell: Reply) -> None:
        self._engine = f"{engine[0]}:{engine[1]}"
        self._reply, self._error, self._tell = reply, error, tell
        self._reader: subprocess.Popen[bytes] | None = None
        self._listers: list[subprocess.Popen[bytes]] = []
        self._waiting_in: Any = None
        self._waiting_ports: list[Any] = []
        self.port: str | None = None
        """The port being read (None: none)."""
        self.latency_ms = 0.0

    @property
    def name(self) -> str:
        """What the changes MIDI in makes are told as to the other clients: `midi <port>`."""
        return f"midi {clean_name(self.port, '')}".strip() if self.port else "midi"

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "chronus.midi.bridge", "--engine", self._engine]
        command += ["--parent", str(os.getpid()), *args]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def ports(self, addr: Any) -> None:
        """List the MIDI sources for `addr` (the answer comes with the bridge's report)."""
        self._waiting_ports.append(addr)
        if not any(lister.poll() is None for lister in self._listers):
            self._listers.append(self._start("--list"))  # one at a time answers every asker

    def connect(self, spec: str, latency_ms: float, addr: Any) -> None:
        """Read the port `spec` names (`off`: stop reading); `addr` hears how it went."""
        self.stop()
        if spec == "off":
            self._reply(addr, "/midi/in", "off", 0.0)
            return
        self.latency_ms = latency_ms
        self._waiting_in = addr
        self._reader = self._start("--port", spec, "--latency-ms", f"{latency_ms:.3f}")

    def resume(self, port: str, latency_ms: float, reader: int) -> None:
        """Read `port` again after a takeover: the dead supervisor's MIDI process (`reader`,
        0: none) is ended, so that no event comes twice, and one of this supervisor's starts."""
        _end_reader(reader, self._engine)
        self.latency_ms = latency_ms
        self.port = port  # kept for a next takeover; cleared if the new process ends
        self._reader = self._start("--port", port, "--latency-ms", f"{latency_ms:.3f}")

    @property
    def reader_pid(self) -> int:
        """The pid of the MIDI process reading a port (0: none)."""
        return self._reader.pid if self._reader is not None and self.port else 0

    def report(self, kind: str, text: str) -> None:
        """A `/midi/bridge` report: relay it to who asked."""
        if kind == "ports":
            for addr in self._waiting_ports:
                self._reply(addr, "/midi/ports", text)
            self._waiting_ports.clear()
        elif kind == "ready" and self._reader is not None:
            try:
                self.port = str(json.loads(text)["port"])
            except (ValueError, TypeError, KeyError):
                return  # not from a bridge of ours
            if self._waiting_in is not None:
                self._reply(self._waiting_in, "/midi/in", self.port, self.latency_ms)
            self._waiting_in = None
            self._tell("midi", f"MIDI in reads {self.port}")
        elif kind == "failed" and (self._reader is not None or self._waiting_ports):
            target = self._waiting_in or (self._waiting_ports[0] if self._waiting_ports else None)
            if target is not None:
                self._error(target, "/midi/in", text)
            self._waiting_in = None
            self._waiting_ports.clear()

    def tick(self) -> None:
        """Reap listings that ended; tell once when the reader ended by itself."""
        self._listers = [lister for lister in self._listers if lister.poll() is None]
        reader = self._reader
        if reader is None or reader.poll() is None:
            return
        self._reader = None
        if self.port is not None:
            self._tell("midi", f"MIDI in from {self.port} stopped (exit {reader.returncode})")
        self.port = None

    def stop(self) -> None:
        """Stop reading (the engine quits, or another port is chosen)."""
        reader, self._reader = self._reader, None
        self.port = None
        for process in [reader, *self._listers] if reader else self._listers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._listers.clear()

    @property
    def status(self) -> dict[str, Any]:
        """For `/engine/status`."""
        return {"port": self.port, "latency_ms": self.latency_ms if self.port else None}


def _end_reader(pid: int, engine: str) -> None:
    """SIGTERM a MIDI process a dead supervisor started, if `pid` is still one (for this
    engine: a pid used again since is left alone)."""
    if pid <= 0:
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return  # gone
    if b"chronus.midi.bridge" in words and engine.encode() in words:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
