"""The MIDI-out process: a JACK client that writes each event at its exact frame.

The supervisor starts it (`python -m chronus.midi.sender`) and writes to its stdin, one JSON
object a line: `{"ports": {"bass": "synth:midi_in", "": ["synth:midi_in"]}}` (the
JACK port of each track, and the clock's destinations under `""`), `{"retract": sample}`
(drop what is held from there on) and `{"events": [[sample, port, [bytes…]], …]}` (in
order). It answers on stdout, a JSON object a line: `ready`, `outputs` (the MIDI inputs it
can send to) and `failed`; `{"list": 1}` asks for `outputs` again.

The events wait in a deque, in order; the JACK process callback reads where the audio
I/O's block of its cycle is (its counters in shared memory, `chronus.midi.frames`), takes
the events of its period and writes each at its frame offset (`write_midi_event`), so the
time a message leaves is exact to the frame, whatever the moment it was handed over; an
event whose frame has passed goes at the period's start and is counted late. The callback
allocates little (a tuple per event taken) and never waits: the reader thread only appends
and pops at the deque's ends.

It ends when its stdin closes (the supervisor is gone) or on SIGTERM, with All Notes Off on
every channel its tracks used, so a synth is not left holding notes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import deque
from typing import Any, Final, TextIO

import numpy as np

from chronus.engine.lifecycle import try_realtime
from chronus.engine.stats import IoField
from chronus.engine.titles import set_title
from chronus.midi.frames import block_this_cycle, frame_delta

__all__ = [
    "CLIENT_NAME",
    "CLOCK_PORT",
    "LET_GO_WAIT_S",
    "READER_PRIORITY",
    "Sender",
    "main",
    "port_name",
]

CLIENT_NAME: Final = "chronus-midi-out"
"""The JACK client; a track's port is `chronus-midi-out:<track>`, the clock's `…:clock`."""
CLOCK_PORT: Final = "clock"
_ALL_NOTES_OFF: Final = 123
_AGREEING: Final = 3
READER_PRIORITY: Final = 50
"""SCHED_FIFO of the thread that takes the events in: below the slots' (60) and JACK's."""
_PLACED_WAIT_S: Final = 1.0
LET_GO_WAIT_S: Final = 2.0
"""How long an ending process waits for its JACK callback to take All Notes Off: a loaded
host holds the callback up for hundreds of milliseconds now and then; a server that is gone
never runs it."""
_SWITCH_S: Final = 0.0002


def port_name(port: str) -> str:
    """The JACK port (short name) of a track's events, `port` "" being the clock's.

    >>> port_name("bass"), port_name("")
    ('bass', 'clock')
    """
    return port or CLOCK_PORT


class Sender:
    """The JACK client, its ports and the events waiting for their period."""

    def __init__(self, out: TextIO, io_counters: str, block: int) -> None:
        import jack  # here: only this process loads libjack

        self._out = out
        # Mapped read-only from /dev/shm: SharedMemory would have this process's resource
        # tracker unlink the engine's segment when it ends (Python 3.11 has no track=False).
        self._io = np.memmap(f"/dev/shm/{io_counters}", dtype=np.int64, mode="r",
                             shape=(int(IoField.SIZE),))  # fmt: skip
        self._block = block
        self.client = jack.Client(CLIENT_NAME, no_start_server=True)
        if self.client.blocksize != block:
            raise ValueError(f"JACK's period is {self.client.blocksize} frames and the "
                             f"engine's block {block}: MIDI out needs them equal")  # fmt: skip
        self._slack_us = round(block * 1e6 / self.client.samplerate / 4)
        self._period_ns = block * 1e9 / self.client.samplerate
        self._candidate = 0
        self._agreeing = 0
        self._queue: deque[tuple[int, str, bytes]] = deque()
        self._now: deque[tuple[str, bytes]] = deque()
        """Messages for the next period's start (All Notes Off as the process ends)."""
        self._ports: dict[str, Any] = {}
        """Short name → JACK port; replaced whole, never changed in place (the callback
        reads it)."""
        self._channels: dict[str, set[int]] = {}
        self.delta: int | None = None
        """Frame less sample (None: not known yet; see `chronus.midi.frames`)."""
        self.deltas_seen = 0
        self.sent = 0
        self.late = 0
        self.late_frames_max = 0
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        cycle = self.client.last_frame_time
        self._place(cycle)
        ports = self._ports
        for port in ports.values():
            port.clear_buffer()
        while self._now:
            name, data = self._now.popleft()
            if (port := ports.get(name)) is not None:
                port.write_midi_event(0, data)
        delta, queue = self.delta, self._queue
        if delta is None:
            return
        end = cycle + frames - delta
        while queue and queue[0][0] < end:
            sample, name, data = queue.popleft()
            port = ports.get(name)
            if port is None:
                continue
            offset = sample + delta - cycle
            if offset < 0:
                self.late += 1
                self.late_frames_max = max(self.late_frames_max, -offset)
                offset = 0
            port.write_midi_event(offset, data)
            self.sent += 1

    def _place(self, cycle: int) -> None:
        """Read where the I/O's block of this cycle is; `delta` moves to a new reading once
        `_AGREEING` cycles in a row agree (an I/O that began more than three quarters of a
        period late in the cycle before reads as this cycle's: one reading, not three)."""
        handing = int(self._io[IoField.HANDING])
        if handing <= 0:
            return
        since = self.client.frames_since_cycle_start
        start_us = (time.monotonic_ns() - since * self._period_ns / self._block) // 1000
        index = block_this_cycle(handing, int(start_us), self._slack_us)
        delta = frame_delta(cycle, index, self._block)
        if delta == self.delta:
            self._agreeing = 0
            return
        self._agreeing = self._agreeing + 1 if delta == self._candidate else 1
        self._candidate = delta
        if self._agreeing >= _AGREEING:
            self.delta = delta
            self.deltas_seen += 1

    def tell(self, **what: Any) -> None:
        """One line to the supervisor."""
        self._out.write(json.dumps(what) + "\n")
        self._out.flush()

    def outputs(self) -> list[str]:
        """The JACK MIDI inputs (hardware, a2j's ALSA ports, other apps) not ours."""
        found = self.client.get_ports(is_midi=True, is_input=True)
        return [p.name for p in found if not p.name.startswith(CLIENT_NAME + ":")]

    def set_ports(self, wanted: dict[str, Any]) -> None:
        """Register the ports asked for and connect each to its destinations (only those)."""
        ports = dict(self._ports)
        for key, targets in wanted.items():
            name = port_name(key)
            if name not in ports:
                ports[name] = self.client.midi_outports.register(name)
            port = ports[name]
            targets = [targets] if isinstance(targets, str) else list(targets or [])
            for connected in self.client.get_all_connections(port):
                if connected.name not in targets:
                    port.disconnect(connected.name)
            for target in targets:
                if target not in [c.name for c in self.client.get_all_connections(port)]:
                    try:
                        port.connect(target)
                    except Exception as exc:  # jack.JackError: a port gone meanwhile
                        self.tell(failed=f"cannot connect {port.name} to {target}: {exc}")
        self._ports = ports

    def retract(self, sample: int) -> None:
        """Drop the events held from `sample` on."""
        queue = self._queue
        while queue and queue[-1][0] >= sample:
            queue.pop()

    def take(self, events: list[list[Any]]) -> None:
        """Queue events (in order, after those held)."""
        for sample, port, data in events:
            if 0x80 <= data[0] < 0xA0:
                self._channels.setdefault(port_name(port), set()).add(data[0] & 0x0F)
            self._queue.append((int(sample), port_name(port), bytes(data)))

    def let_go(self) -> None:
        """All Notes Off on every channel a track used, at once (the process ends): returns
        once the callback has written them and its cycle is over (or after `LET_GO_WAIT_S`)."""
        self._queue.clear()
        for name, channels in self._channels.items():
            for channel in sorted(channels):
                self._now.append((name, bytes((0xB0 | channel, _ALL_NOTES_OFF, 0))))
        period_s = self.client.blocksize / self.client.samplerate
        deadline = time.monotonic() + LET_GO_WAIT_S
        while self._now and time.monotonic() < deadline:
            time.sleep(period_s)
        time.sleep(2 * period_s)

    def status(self) -> dict[str, Any]:
        """What went out, and how late."""
        return {"sent": self.sent, "late": self.late, "late_frames_max": self.late_frames_max,
                "held": len(self._queue), "delta": self.delta,
                "deltas_seen": self.deltas_seen}  # fmt: skip


def _serve(sender: Sender, lines: TextIO, done: threading.Event) -> None:
    # The events a command starts (a pattern's first note) come a lead (~8 ms) ahead: a
    # reader at normal priority on a busy machine wakes later than that.
    try_realtime(READER_PRIORITY)
    for line in lines:
        try:
            request = json.loads(line)
        except ValueError:
            sender.tell(failed=f"not JSON: {line[:80]!r}")
            continue
        if "ports" in request:
            sender.set_ports(request["ports"])
        if "retract" in request:
            sender.retract(int(request["retract"]))
        if "events" in request:
            sender.take(request["events"])
        if "list" in request:
            sender.tell(outputs=sender.outputs())
        if "status" in request:
            sender.tell(status=sender.status())
    done.set()


def main(argv: list[str] | None = None) -> int:
    """Run the MIDI-out process (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m chronus.midi.sender")
    parser.add_argument("--title", default="MIDI out")
    parser.add_argument("--io-counters", required=True, help="the audio I/O's counters")
    parser.add_argument("--block", type=int, required=True, help="the engine's block")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    set_title(args.title)
    # The JACK callback is Python: it waits for the GIL while the reader holds it, up to the
    # switch interval (5 ms by default, two periods).
    sys.setswitchinterval(_SWITCH_S)
    out = sys.stdout
    try:
        sender = Sender(out, args.io_counters, args.block)
    except Exception as exc:  # jack.JackOpenError, no libjack, another period
        out.write(json.dumps({"failed": f"no JACK MIDI: {exc}"}) + "\n")
        out.flush()
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    reader = threading.Thread(target=_serve, args=(sender, sys.stdin, done), daemon=True)
    reader.start()
    placed_by = time.monotonic() + _PLACED_WAIT_S  # ready once samples land on frames
    while sender.delta is None and time.monotonic() < placed_by:
        time.sleep(0.005)
    sender.tell(ready=CLIENT_NAME, outputs=sender.outputs())
    while not done.wait(0.5):
        pass
    sender.let_go()
    sender.client.deactivate()
    sender.client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
