"""The MIDI-in process: reads one MIDI source on JACK and sends each event to the engine as a
dated OSC bundle (`/midi/note`, `/midi/cc`, `/midi/bend`).

The supervisor starts it (`python -m chronus.midi.bridge`) for `/midi/in` and `/midi/ports`.
Each event is dated the wall-clock time it arrived plus a fixed `--latency-ms`, long enough
for the supervisor to stamp it ahead of what the slots have rendered: every event then plays
exactly that long after it came (no jitter from the supervisor's loop or the pacing of
commands), at the sample its tag maps to, and the session log holds it at that sample.

The bridge tells the engine how it went with `/midi/bridge <kind> <text>`: `ports` (a JSON
list of `[number, name]`), `ready` (the port it reads, and the latency) or `failed` (why).
It ends when its parent (the supervisor that started it) is gone, or on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from chronus.engine.titles import set_title
from chronus.midi.ports import PortError, choose_port
from chronus.protocol import Arg, encode_raw, ntp_of_unix

__all__ = ["CLIENT_NAME", "dated_bundle", "event_message", "main"]

CLIENT_NAME: Final = "chronus-midi"
"""The JACK client the bridge opens; its input port is `chronus-midi:in`."""

_NOTE_OFF, _NOTE_ON, _CC, _BEND = 0x80, 0x90, 0xB0, 0xE0


def event_message(data: list[int]) -> tuple[str, tuple[Arg, ...]] | None:
    """The OSC message a MIDI message becomes (any channel), None for the others.

    >>> event_message([0x91, 60, 100]), event_message([0x80, 60, 64])
    (('/midi/note', (60, 100)), ('/midi/note', (60, 0)))
    >>> event_message([0xB0, 74, 127]), event_message([0xE0, 0, 0x40]), event_message([0xF8])
    (('/midi/cc', (74, 127)), ('/midi/bend', (0,)), None)
    """
    if len(data) < 3:
        return None
    kind = data[0] & 0xF0
    if kind == _NOTE_ON:
        return "/midi/note", (data[1], data[2])
    if kind == _NOTE_OFF:
        return "/midi/note", (data[1], 0)
    if kind == _CC:
        return "/midi/cc", (data[1], data[2])
    if kind == _BEND:
        return "/midi/bend", ((data[2] << 7 | data[1]) - 8192,)
    return None


def dated_bundle(tag: int, *messages: bytes) -> bytes:
    """An OSC bundle of `messages` dated `tag` (NTP).

    >>> dated_bundle(1 << 32, b"/x\\0\\0,\\0\\0\\0")[:20]
    b'#bundle\\x00\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x08'
    """
    parts = [b"#bundle\0", struct.pack(">Q", tag)]
    for message in messages:
        parts.append(struct.pack(">i", len(message)))
        parts.append(message)
    return b"".join(parts)


class _Sender:
    """Sends to the engine's OSC port."""

    def __init__(self, engine: tuple[str, int]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._engine = engine

    def tell(self, kind: str, text: str) -> None:
        self._sock.sendto(encode_raw("/midi/bridge", kind, text), self._engine)

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self._engine)
        except OSError:  # an engine between supervisors: the next event may find one
            pass


def _reader(sender: _Sender, latency_s: float) -> Callable[[tuple[list[int], float], Any], None]:
    def on_event(event: tuple[list[int], float], _data: Any) -> None:
        arrived = time.time()
        message = event_message(event[0])
        if message is not None:
            address, args = message
            sender.send(dated_bundle(ntp_of_unix(arrived + latency_s), encode_raw(address, *args)))

    return on_event


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chronus.midi.bridge")
    parser.add_argument("--engine", required=True, help="host:port of the engine's OSC")
    parser.add_argument("--port", help="the MIDI source: its number or part of its name")
    parser.add_argument("--list", action="store_true", help="tell the engine the ports, end")
    parser.add_argument("--latency-ms", type=float, default=15.0)
    parser.add_argument("--parent", type=int, default=0, help="end when this pid is gone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bridge (see the module's docstring)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    host, _, port = args.engine.rpartition(":")
    sender = _Sender((host, int(port)))
    set_title(f"MIDI in :{port}")
    import rtmidi  # here: the listing's JACK client is the bridge's, never the caller's

    try:
        midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=CLIENT_NAME)
    except rtmidi.SystemError as exc:
        sender.tell("failed", f"no JACK MIDI: {exc}")
        return 1
    ports = [name for name in midi_in.get_ports() if not name.startswith(CLIENT_NAME + ":")]
    if args.list:
        sender.tell("ports", json.dumps(list(enumerate(ports))))
        return 0
    try:
        index = choose_port(ports, args.port or "")
    except PortError as exc:
        sender.tell("failed", str(exc))
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
    midi_in.set_callback(_reader(sender, args.latency_ms / 1000.0))
    all_ports = midi_in.get_ports()
    midi_in.open_port(all_ports.index(ports[index]), "in")
    sender.tell("ready", json.dumps({"port": ports[index], "latency_ms": args.latency_ms}))
    while not done.wait(0.25):
        if args.parent and os.getppid() != args.parent:
            break
    midi_in.close_port()
    return 0


if __name__ == "__main__":
    sys.exit(main())
