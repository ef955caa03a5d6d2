"""Keeping chronus on a Link session's tempo and phase: the supervisor's side.

The Link peer lives in the supervisor, never in a slot or the audio I/O: a supervisor that
dies costs the sync for the moment it takes to replace it, never a sample. What Link
changes reaches the music only as commands the supervisor stamps like any other: a
`/tempo <bpm> 1` at a sample the slots have not rendered, sent to both slots and written to
the session log, so `chronus render` of the log plays what was heard, bit for bit.

Each `tick` (the serve loop's, at most every `TICK_S`) reads the session and, with the
transport running, compares chronus's beat at the next stamp with the session's beat at
the moment that sample is heard (`link_phase`); the tempo it wants is the session's,
nudged to make up the error over a bar. It sends one when that differs from the tempo
chronus plays, at most every `MIN_GAP_S` (at once when the session's tempo moved), and only
after the slot has applied the last one (its transport then says where the beat is).

The transport's start is the one jump there is: while Link is on, a command that starts it
waits for the session's next bar line (`start_stamp`), as Link apps launch quantized.

With start/stop sync on (Link's `start_stop_sync`), chronus's start and stop go to the
session (`typed_transport`), and a start or stop of the session's (another peer's) starts or
stops chronus's transport at the session's next bar line: the sync holds a `/seq/start` or
`/seq/stop` for that sample and hands it to the supervisor `RELEASE_AHEAD_S` before it, to be
stamped and logged like a typed one. Only a change is followed: turning the sync on neither
starts nor stops anything.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

from chronus.engine.dated import RELEASE_AHEAD_S
from chronus.engine.link_phase import (
    BPM_STEP,
    LinkReading,
    follow_tempo,
    heard_ns,
    next_downbeat,
    phase_error,
)
from chronus.engine.manifest import LinkKept
from chronus.engine.now import TransportView
from chronus.protocol import Message

__all__ = ["MIN_GAP_S", "REJOIN_S", "TICK_S", "Clock", "LinkSync", "Peer", "starts_transport"]

TICK_S: Final = 0.02
"""The session is read at most this often."""
MIN_GAP_S: Final = 0.25
"""The least time between two nudges of the tempo (a move of the session's is sent at once)."""
STEADY_S: Final = 0.5
"""The sample clock is steady when its offset has moved less than `STEADY_NS` over this long:
a device that has just started (JACK's first callbacks come in a burst) or lost time reads
tens of milliseconds off for a moment, and a phase measured then would be chased by nudges
that are wrong a second later."""
STEADY_NS: Final = 250_000
REJOIN_S: Final = 5.0
"""How long a supervisor that took over waits for its new Link peer to find the session's
other peers before it measures a phase. Until then the peer reads a session of its own,
whose beat 0 is when it was made: a phase measured on that was chased with nudges of up to
`MAX_NUDGE` (seen: 97.2 bpm for 0.3 s after a takeover at 90, the beats 22 ms early), to be
chased back once the session was found. Alone after this long, it follows its own."""


class Peer(Protocol):
    """What the sync needs of a Link peer (`LinkPeer`; a fake in unit tests)."""

    quantum: int
    start_stop: bool

    @property
    def joined(self) -> bool: ...
    @property
    def peers(self) -> int: ...
    @property
    def bpm(self) -> float: ...
    def open(self, bpm: float, quantum: int | None = None) -> None: ...
    def close(self) -> None: ...
    def set_quantum(self, beats: int) -> None: ...
    def set_bpm(self, bpm: float) -> None: ...
    def reading(self) -> LinkReading: ...
    def set_start_stop(self, on: bool) -> None: ...
    @property
    def playing(self) -> bool: ...
    def set_playing(self, playing: bool) -> None: ...


class Clock(Protocol):
    """The engine's sample clock (`SampleClock`): when sample 0 was handed to the device."""

    def offset_ns(self) -> float | None: ...


PlayTempo = Callable[[float, int], bool]
"""Send `/tempo <bpm> 1` to the slots at a sample, logged; whether it went."""
PlayTransport = Callable[[bool, int], bool]
"""Send `/seq/start` (True) or `/seq/stop` to the slots at a sample, logged; whether it went."""


class LinkSync:
    """Follows a Link session's tempo and phase with stamped tempo commands."""

    def __init__(
        self, peer: Peer, clock: Clock, rate: int, latency_ns: Callable[[], float],
        play_tempo: PlayTempo, monotonic_ns: Callable[[], int] = time.monotonic_ns,
        play_transport: PlayTransport | None = None,
    ) -> None:  # fmt: skip
        self.peer = peer
        self._clock = clock
        self._rate = rate
        self._latency_ns = latency_ns
        self._play_tempo = play_tempo
        self._play_transport = play_transport
        """Where a start or stop of the session's goes (None: it is not followed)."""
        self._monotonic_ns = monotonic_ns
        self._next_tick = 0
        self._sent_ns = 0
        self._sent_stamp = -1
        """The sample of the last tempo sent (-1: none yet)."""
        self._session_bpm = 0.0
        """The session's tempo when the last one was sent."""
        self._start_at = -1
        """The sample a held start of the transport waits for (-1: none)."""
        self.phase_error_beats: float | None = None
        """The last phase error measured (beats, chronus ahead); None while not measured."""
        self.nudges = 0
        """Tempo commands sent to follow the session."""
        self._offsets: deque[tuple[int, float]] = deque()
        """(when, the sample clock's offset then) over the last `STEADY_S` and a reading."""
        self._heard_playing: bool | None = None
        """Whether the session played when last looked at (None: not in one)."""
        self._held: tuple[bool, int] | None = None
        """A start (True) or stop of the session's waiting for its bar line: (start, sample)."""
        self.transport_changes = 0
        """Starts and stops of the session's that chronus followed."""
        self._rejoin_until = 0
        """After a takeover: until when nothing is followed while no other peer is found."""

    @property
    def enabled(self) -> bool:
        """Whether chronus is in a Link session."""
        return self.peer.joined

    def enable(self, bpm: float) -> None:
        """Join the session; chronus proposes its tempo `bpm`, and follows the session's."""
        self.peer.open(bpm)
        self._next_tick = 0
        self._session_bpm = 0.0
        self._heard_playing = self.peer.playing

    def disable(self) -> None:
        """Leave the session; chronus keeps the tempo it plays."""
        self.peer.close()
        self.phase_error_beats = None
        self._start_at = -1
        self._rejoin_until = 0
        self._heard_playing = self._held = None

    def set_quantum(self, beats: int) -> None:
        """Bar lines fall on the session's phase at `beats`."""
        self.peer.set_quantum(beats)

    def set_start_stop(self, on: bool) -> None:
        """Share chronus's start/stop with the session (kept while Link is off)."""
        self.peer.set_start_stop(on)
        self._held = None
        self._heard_playing = self.peer.playing if self.enabled else None

    def kept(self) -> LinkKept:
        """The settings a supervisor that takes over starts from."""
        peer = self.peer
        return LinkKept(self.enabled, peer.quantum, peer.start_stop)

    def resume(self, kept: LinkKept, bpm: float) -> None:
        """Take the settings a dead supervisor had: the same quantum and start/stop sync,
        and back in the session if it was (proposing `bpm`, the tempo the slots play); the
        session is followed once its peers are found again (`REJOIN_S`)."""
        self.peer.set_quantum(kept.quantum)
        self.peer.set_start_stop(kept.start_stop)
        if kept.enabled:
            self.enable(bpm)
            self._rejoin_until = self._monotonic_ns() + int(REJOIN_S * 1e9)

    def typed_transport(self, start: bool) -> None:
        """chronus's transport was started or stopped here: with start/stop sync, the
        session starts or stops too."""
        if not (self.enabled and self.peer.start_stop):
            return
        self._held = None
        if self.peer.playing != start:
            self.peer.set_playing(start)
        self._heard_playing = start

    def typed_tempo(self, bpm: float) -> None:
        """A tempo typed at chronus: the session takes it, and chronus follows the session."""
        self.peer.set_bpm(bpm)
        self._next_tick = 0

    def heard(self, sample: int) -> float | None:
        """When `sample` is heard (monotonic ns); None before the clock has a reading."""
        offset = self._clock.offset_ns()
        if offset is None:
            return None
        return heard_ns(sample, offset, self._rate, self._latency_ns())

    def start_stamp(self, earliest: int, running: bool) -> int | None:
        """The sample a command that starts the transport should wait for: the session's
        next bar line at or after `earliest`; None if it need not wait (Link off, the
        transport `running`, or no clock yet)."""
        if not self.enabled:
            return None
        if self._start_at >= earliest:
            return self._start_at  # a start already waits there: the others join it
        if running:
            return None
        stamp = self.bar_stamp(earliest)
        if stamp is not None:
            self._start_at = stamp
        return stamp

    def bar_stamp(self, earliest: int) -> int | None:
        """The sample at or after `earliest` heard on the session's next bar line; None
        before the clock has a reading."""
        offset, at = self._clock.offset_ns(), self.heard(earliest)
        if offset is None or at is None:
            return None
        downbeat = next_downbeat(self.peer.reading(), at, self.peer.quantum)
        stamp = round((downbeat - self._latency_ns() - offset) * self._rate / 1e9)
        return max(stamp, earliest)

    @property
    def session_bpm(self) -> float:
        """The session's tempo when chronus last followed it (0 before it first did)."""
        return self._session_bpm

    def tick(self, view: TransportView | None, stamp: int, bpm: float) -> None:
        """Read the session; send a tempo at `stamp` if chronus (playing `bpm`, its
        transport `view`) should change to keep with it."""
        now = self._monotonic_ns()
        if not self.enabled or now < self._next_tick:
            return
        if self._rejoin_until:
            if self.peer.peers == 0 and now < self._rejoin_until:
                return  # a session of its own yet (`REJOIN_S`)
            self._rejoin_until = 0
        self._next_tick = now + int(TICK_S * 1e9)
        self._follow_start_stop(view is not None and view.running, stamp)
        reading = self.peer.reading()
        want = follow_tempo(reading.bpm, 0.0)
        steady = self._steady(now)
        running = view is not None and view.running and view.samples_per_beat > 0
        waiting = running and view is not None and view.sample < self._sent_stamp
        if waiting and stamp < self._sent_stamp + self._rate:
            return  # the last tempo sent is not applied yet: the beat there is not known
        self.phase_error_beats = None
        if running and steady and view is not None and (at := self.heard(stamp)) is not None:
            beat = view.beat + (stamp - view.sample) / view.samples_per_beat
            error = phase_error(beat, reading.beat_at(at), self.peer.quantum)
            self.phase_error_beats = error
            want = follow_tempo(reading.bpm, error)
        moved = abs(reading.bpm - self._session_bpm) >= BPM_STEP / 2
        if abs(want - bpm) < BPM_STEP / 2 or (not moved and now - self._sent_ns < MIN_GAP_S * 1e9):
            return
        if not self._play_tempo(want, stamp):
            return
        self._sent_ns, self._sent_stamp, self._session_bpm = now, stamp, reading.bpm
        self.nudges += 1

    def _follow_start_stop(self, running: bool, stamp: int) -> None:
        """Hold a start or stop of the session's for its next bar line; hand a held one to
        the supervisor once its sample is near (`stamp`: the first the slots can take)."""
        play, held = self._play_transport, self._held
        if play is None:
            return
        near = held is not None and held[1] - stamp <= RELEASE_AHEAD_S * self._rate
        if held is not None and near and play(held[0], max(held[1], stamp)):
            self._held = held = None
            self.transport_changes += 1
        if not self.peer.start_stop:
            return
        playing = self.peer.playing
        if playing == self._heard_playing:
            return
        self._heard_playing = playing
        if held is not None:
            self._held = None  # the session changed its mind before the bar line
            return
        if playing == (running or self._start_at >= stamp):
            return
        at = self.bar_stamp(stamp)
        self._held = (playing, stamp if at is None else at)

    def _steady(self, now: int) -> bool:
        """Whether the sample clock has held still for `STEADY_S` (see there)."""
        offset = self._clock.offset_ns()
        offsets = self._offsets
        if offset is None:
            offsets.clear()
            return False
        offsets.append((now, offset))
        while len(offsets) > 1 and offsets[1][0] <= now - STEADY_S * 1e9:
            offsets.popleft()
        values = [value for _, value in offsets]
        held = offsets[0][0] <= now - STEADY_S * 1e9
        return held and max(values) - min(values) < STEADY_NS

    def phase_error_ms(self, bpm: float) -> float | None:
        """The last phase error measured, in milliseconds at `bpm` (chronus ahead: > 0)."""
        error = self.phase_error_beats
        return None if error is None else round(error * 60e3 / bpm, 3)

    def status(self, bpm: float) -> dict[str, Any]:
        """Link for health: on or off, peers, the session's tempo, the quantum, the phase
        error and how many nudges it took."""
        if not self.enabled:
            return {"enabled": False}
        return {
            "enabled": True,
            "peers": self.peer.peers,
            "bpm": round(self.peer.bpm, 3),
            "quantum": self.peer.quantum,
            "phase_error_ms": self.phase_error_ms(bpm),
            "nudges": self.nudges,
            "start_stop_sync": self.peer.start_stop,
            "playing": self.peer.playing,
        }


def starts_transport(message: Message) -> bool:
    """Whether `message` starts the transport when it is stopped: `/seq/start`, a track's
    pattern or start.

    >>> from chronus.protocol import validate
    >>> starts_transport(validate("/seq/bass/pattern", ("c2 eb2",)))
    True
    >>> starts_transport(validate("/seq/bass/gate", (0.5,)))
    False
    """
    if message.address == "/seq/start":
        return True
    return message.pattern in ("/seq/{id}/pattern", "/seq/{id}/start")
