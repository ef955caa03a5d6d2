"""MIDI words from the shell, answered in the background.

The engine answers `midi in` once its MIDI process has looked at the ports (a fraction of a
second), and `learn` only when a knob moves: each request goes out on a client of its own,
in a thread that waits for the answer and says it above the prompt. No OSC address is
spelt here but the answers'.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from chronus.engine.client import EngineClient, Reply
from chronus.protocol import Arg, Message, find_spec

__all__ = ["LEARN_TIMEOUT_S", "TIMEOUT_S", "MidiAnswers", "midi_answer", "wait_answer"]

TIMEOUT_S = 30.0
"""How long `midi in` may take: a MIDI process starts and opens JACK (seconds on a loaded
machine)."""
LEARN_TIMEOUT_S = 120.0
"""How long `learn` waits for a knob to move."""


def midi_answer(address: str, args: tuple[Arg, ...]) -> str:
    """The line a MIDI answer is written as.

    >>> midi_answer("/midi/ports", ('[[0, "keys:out"], [1, "pads:out"]]',))
    'MIDI sources: 0 keys:out, 1 pads:out'
    >>> midi_answer("/midi/in", ("keys:out", 11.17))
    'MIDI in: keys:out (each event plays 11.2 ms after it comes)'
    >>> midi_answer("/midi/mapped", (74, "bass", "cutoff"))
    'cc 74 moves bass cutoff'
    >>> midi_answer("/midi/out", ("bass", "synth:midi_in", 2))
    'bass plays to MIDI out synth:midi_in (channel 2)'
    """
    if address == "/midi/ports":
        return _ports_line("MIDI sources", args, "JACK has no MIDI output port to read")
    if address == "/midi/in":
        if args[0] == "off":
            return "MIDI in: off"
        return f"MIDI in: {args[0]} (each event plays {float(args[1]):.1f} ms after it comes)"
    if address == "/midi/mapped":
        return f"cc {args[0]} moves {args[1]} {args[2]}"
    if address == "/midi/to":
        return f"MIDI notes play {args[0]}"
    if address == "/midi/outs":
        return _ports_line("MIDI destinations", args, "JACK has no MIDI input port to send to")
    if address == "/midi/out":
        if args[1] == "off":
            return f"{args[0]} stops MIDI out"
        return f"{args[0]} plays to MIDI out {args[1]} (channel {args[2]})"
    if address == "/midi/clock":
        ports = json.loads(str(args[0]))
        return (
            "MIDI clock out: off"
            if ports is None
            else f"MIDI clock out to {', '.join(ports) or 'no port yet'}"
        )
    return f"error: {args[-1]}"


def wait_answer(client: EngineClient, message: Message, timeout: float) -> Reply | None:
    """The answer to `message` (its reply, or an `/error` for its address), None if none
    came within `timeout`."""
    wanted = find_spec(message.address)[0].reply or message.address
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        reply = client.receive(left)
        if reply is None:
            return None
        if reply[0] == wanted or (reply[0] == "/error" and reply[1][:1] == (message.address,)):
            return reply
    return None


class MidiAnswers:
    """Sends MIDI messages to the engine at `address` and writes what it answered."""

    def __init__(self, address: tuple[str, int], write: Callable[[str], None]) -> None:
        self.address = address
        self.write = write

    def send(self, message: Message) -> None:
        """Send one MIDI message; its answer is written when it comes."""
        threading.Thread(target=self._ask, args=(message,), daemon=True).start()

    def _ask(self, message: Message) -> None:
        learn = message.address == "/midi/learn"
        if learn:
            self.write(f"learn {' '.join(map(str, message.args))}: move a knob")
        try:
            with EngineClient(*self.address) as client:
                client.send([message])
                reply = wait_answer(client, message, LEARN_TIMEOUT_S if learn else TIMEOUT_S)
        except OSError as exc:
            self.write(f"error: {message.address}: {exc.strerror or exc}")
            return
        if reply is None:
            self.write(f"error: no answer to {message.address[1:].replace('/', ' ')}")
        else:
            self.write(midi_answer(*reply))


def _ports_line(what: str, args: tuple[Arg, ...], why_none: str) -> str:
    """`MIDI sources: 0 keys:out, 1 …` from a listing's JSON `[[number, name], …]`."""
    ports = json.loads(str(args[0]))
    if not ports:
        return f"{what}: none ({why_none})"
    return f"{what}: " + ", ".join(f"{number} {name}" for number, name in ports)
