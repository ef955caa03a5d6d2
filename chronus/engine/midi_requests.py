"""The supervisor's `/midi/*` requests and events, in one place: the MIDI process
(`MidiInput`), the routing (`MidiRoutes`) and what clients are told.

An event (`/midi/note`, `/midi/cc`, `/midi/bend`) is translated into canonical commands
here, before the supervisor stamps them: the bridge dates its bundles, so each command lands
at the sample its event arrived at plus the fixed latency (`least_latency_ms`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from chronus.dsp.patch import Patch
from chronus.engine.manifest import MidiSetup
from chronus.engine.midi_in import MidiInput
from chronus.engine.midi_routes import MidiError, MidiRoutes
from chronus.engine.midi_timing import MidiTimings
from chronus.protocol import Message, unix_ns_of_ntp

__all__ = ["HOP_MS", "MARGIN_MS", "MidiRequests", "least_latency_ms"]

MARGIN_MS: Final = 0.5
"""How far past the first block no slot can have started an event is dated. An event comes
in as a JACK cycle begins, as the audio I/O hands a block over; read on the sample clock it
is a little after that block's first sample (0.08 ms at the median on JACK here), or a
little before it when the MIDI process ran first in the cycle: this keeps the latter in the
same block. It buys no time for the hop to the supervisor: that comes in whole blocks
(`HOP_MS`)."""

HOP_MS: Final = 2.0
"""The time the hop from the MIDI process to the supervisor's stamp is given, at least: its
p99 measured on JACK at normal load (1.6–2.0 ms at 128 frames, load 3–8; 1.7 ms at 64
frames, load 2–3; `docs/PERFORMANCE.md`, the `midiin19` and `midi64` sections). An event is
on time if it is stamped before a slot has rendered the block it is dated in, and a slot
begins that block one period after the event came, for each block it is dated further: so
one period is enough at 128 frames (2.67 ms), and at 64 frames (1.33 ms) the event is dated
one block further. The latency is fixed when a port is opened (`/midi/in`), never while
notes play."""

Reply = Callable[..., None]


def least_latency_ms(lead: int, block: int, rate: int, device_latency_us: int) -> float:
    """The shortest fixed MIDI latency the engine keeps: the device's latency, the slots'
    lead, the block a slot renders as the event comes in, the blocks that give the hop to
    the supervisor `HOP_MS` (none beyond one period at 128 frames, one at 64), and
    `MARGIN_MS`.

    >>> [round(least_latency_ms(2, block, 48000, 0), 2) for block in (128, 64)]
    [8.5, 5.83]
    """
    period_ms = block / rate * 1000.0
    hop_blocks = max(1, math.ceil(HOP_MS / period_ms - 1e-9))
    return device_latency_us / 1000.0 + (lead + hop_blocks) * period_ms + MARGIN_MS


class MidiRequests:
    """Answers `/midi/ports`, `/midi/in`, `/midi/to`, `/midi/map`, `/midi/learn` and the
    bridge's `/midi/bridge`; translates MIDI events."""

    def __init__(
        self, engine: tuple[str, int], patch: Callable[[], Patch], latency_ms: Callable[[], float],
        reply: Reply, error: Reply, tell: Reply,
    ) -> None:  # fmt: skip
        self.routes = MidiRoutes()
        self.input = MidiInput(engine, reply, error, tell)
        self.timings = MidiTimings()
        self._patch, self._latency_ms = patch, latency_ms
        self._reply, self._error, self._tell = reply, error, tell
        self._told = ""

    def request(self, message: Message, addr: Any) -> None:
        """Answer one `/midi/*` request (not an event)."""
        address, args = message.address, message.args
        try:
            if address == "/midi/ports":
                self.input.ports(addr)
            elif address == "/midi/bridge":
                self.input.report(str(args[0]), str(args[1]))
            elif address == "/midi/to":
                self.routes.play(str(args[0]), self._patch())
                self._reply(addr, "/midi/to", str(args[0]))
            elif address == "/midi/map":
                self.routes.map(int(args[0]), str(args[1]), str(args[2]), self._patch())
                self._reply(addr, "/midi/mapped", *args)
            elif address == "/midi/learn":
                self.routes.learn(addr, str(args[0]), str(args[1]), self._patch())
            elif address == "/midi/in":
                self._connect(args, addr)
        except MidiError as exc:
            self._error(addr, address, f"{exc}; nothing changed")

    def _connect(self, args: tuple[Any, ...], addr: Any) -> None:
        spec = str(args[0]).strip()
        if len(args) > 1 and str(args[1]):
            self.routes.play(str(args[1]), self._patch())
        elif spec != "off" and self.routes.target is None:
            raise MidiError("MIDI notes need a module to play: `/midi/in <port> <module>`")
        latency = float(args[2]) if len(args) > 2 else self._latency_ms()
        self.input.connect(spec, latency, addr)

    def translate(self, event: Message) -> list[Message]:
        """The canonical commands a MIDI event means; a problem is told to the clients
        (once until it changes: a keyboard sends many events), the event dropped."""
        try:
            commands = self.routes.translate(event, self._patch())
        except MidiError as exc:
            if str(exc) != self._told:
                self._told = str(exc)
                self._tell("midi", str(exc))
            return []
        if (learned := self.routes.take_learned()) is not None:
            self._reply(learned.addr, "/midi/mapped", learned.cc, learned.module, learned.param)
        return commands

    def setup(self) -> MidiSetup:
        """What a supervisor taking over needs to go on as this one: the port, the routes."""
        routes, learning = self.routes, self.routes.learning
        learner = learning[0] if learning is not None else None
        return MidiSetup(
            port=self.input.port, latency_ms=self.input.latency_ms,
            reader=self.input.reader_pid, target=routes.target,
            maps=tuple((cc, *mapped) for cc, mapped in sorted(routes.maps.items())),
            learning=learning[1:] if learning is not None else None,
            learner=learner if _udp_address(learner) else None,
        )  # fmt: skip

    def resume(self, setup: MidiSetup) -> None:
        """Go on as the supervisor that died did (`setup`, from its manifest)."""
        learning = None
        if setup.learning is not None:
            learning = (setup.learner, *setup.learning)
        maps = {cc: (module, param) for cc, module, param in setup.maps}
        self.routes.restore(setup.target, maps, learning)
        if setup.port is not None:
            self.input.resume(setup.port, setup.latency_ms, setup.reader)

    def stamped(self, tag: int, read_ns: int, unix_ns: int, sent_ns: int, room_s: float) -> None:
        """An event dated `tag` (its arrival plus the latency), read from the socket at
        `read_ns`, was stamped at `unix_ns` and done with (checked, sent to the slots, logged)
        by `sent_ns`, with `room_s` to spare (negative: late)."""
        arrived_ns = unix_ns_of_ntp(tag) - round(self.input.latency_ms * 1e6)
        hop_ms, read_ms = (unix_ns - arrived_ns) / 1e6, (read_ns - arrived_ns) / 1e6
        self.timings.record(hop_ms, room_s * 1000.0, read_ms, (sent_ns - unix_ns) / 1e6)

    def tick(self) -> None:
        """Notice a MIDI process that ended."""
        self.input.tick()

    def stop(self) -> None:
        """Stop every MIDI process (the engine quits)."""
        self.input.stop()

    @property
    def status(self) -> dict[str, Any]:
        """For `/engine/status`: the port, the latency, where notes go, the CC maps."""
        maps = {str(cc): f"{m}.{p}" for cc, (m, p) in sorted(self.routes.maps.items())}
        return {
            **self.input.status, "to": self.routes.target, "maps": maps,
            "timings": self.timings.summary(),
        }  # fmt: skip


def _udp_address(addr: Any) -> bool:
    """Whether `addr` is a UDP client's address, `(host, port)` (IPv6 adds two numbers): a
    TCP peer's connection ends with its supervisor, and a new one cannot answer it.

    >>> _udp_address(("127.0.0.1", 57120)), _udp_address(("::1", 57120, 0, 0)), _udp_address(None)
    (True, True, False)
    """
    return (
        isinstance(addr, tuple) and len(addr) in (2, 4)
        and isinstance(addr[0], str) and all(isinstance(n, int) for n in addr[1:])
    )  # fmt: skip
