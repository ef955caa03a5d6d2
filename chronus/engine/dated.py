"""Dated bundles: commands an OSC client sent ahead of the time their bundle's tag names.

Clients that schedule ahead (sclang, Sonic Pi and Tidal send 0.1–0.5 s early) date their
bundles, and the supervisor stamps each command of a bundle with the sample its tag maps to
(`sample_clock`). Where that sample falls decides what happens (`placement`):

- before the earliest sample the slots can still take: the bundle is late; its commands
  apply at once and the sender is told `/late <seconds>`, as scsynth does;
- within `RELEASE_AHEAD_S` of it: the commands go to the slots now, stamped at that sample;
- further ahead, up to `MAX_AHEAD_S`: the bundle waits here, in the supervisor (not in the
  slots' rings, which hold 4,096 records each and are the live commands' way in), until it
  is `RELEASE_AHEAD_S` from its sample; at most `MAX_WAITING` commands wait at once;
- further than `MAX_AHEAD_S`: refused with `/error`, nothing changes.

A command is checked against the patch when it goes to the slots, so a dated command that
no longer fits then (its module was removed meanwhile) gets its `/error` at that time.

>>> queue = DatedQueue(limit=4)
>>> queue.push(9600, ["b"], "client")
>>> queue.push(4800, ["a1", "a2"], "client")
>>> queue.room(1), queue.room(2), len(queue), queue.next_stamp
(True, False, 3, 4800)
>>> [(d.stamp, d.commands) for d in queue.due(before=5000)]
[(4800, ['a1', 'a2'])]
>>> len(queue)
1
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from chronus.engine.sample_clock import SampleClock, monotonic_ns_of, unix_ns_of_ntp
from chronus.engine.stats import IoField
from chronus.protocol import Arg, Message

__all__ = [
    "MAX_AHEAD_S",
    "MAX_WAITING",
    "RELEASE_AHEAD_S",
    "Dated",
    "DatedBundles",
    "DatedQueue",
    "Placement",
    "clock_reading",
    "placement",
]

MAX_AHEAD_S: Final = 60.0
"""The furthest ahead a bundle may be dated (seconds beyond the earliest sample the slots can
take); a later one is refused, so that a bundle dated next year is not held for a year."""
MAX_WAITING: Final = 4096
"""The most commands that wait at once (as many as one packet may hold); a bundle that would
make more is refused ("engine busy"), nothing changed."""
RELEASE_AHEAD_S: Final = 0.1
"""How long before its sample a waiting bundle goes to the slots (the serve loop is woken for
it, not left to its 10 ms tick): time for a supervisor held up by the host (this VM has
stalled a CPU for up to 160 ms), while the patch the supervisor checks commands against runs
ahead of what plays by no more than this (a paced burst can run it 4 s ahead)."""

T = TypeVar("T")


class Placement(Enum):
    """What becomes of a dated bundle (see the module's docstring)."""

    LATE = "late"
    NOW = "now"
    WAIT = "wait"
    TOO_FAR = "too far"


def placement(stamp: int, earliest: int, rate: int) -> Placement:
    """Where a bundle whose tag maps to sample `stamp` goes, when the slots can take
    commands from sample `earliest` on.

    >>> [placement(s, 1000, 48000).value for s in (999, 1000, 5799, 5800, 2_881_000, 2_881_001)]
    ['late', 'now', 'now', 'wait', 'wait', 'too far']
    """
    if stamp < earliest:
        return Placement.LATE
    if stamp - earliest < RELEASE_AHEAD_S * rate:
        return Placement.NOW
    if stamp - earliest > MAX_AHEAD_S * rate:
        return Placement.TOO_FAR
    return Placement.WAIT


@dataclass(frozen=True, slots=True)
class Dated(Generic[T]):
    """A waiting bundle: the sample its commands apply at, the commands, the sender."""

    stamp: int
    commands: list[T]
    addr: Any = field(compare=False)


def clock_reading(io: npt.NDArray[np.int64]) -> tuple[int, int] | None:
    """The audio I/O's counters `io` read as one pair: blocks handed over, and when the last
    one was (monotonic ns); None if the count changed while they were read (the pair would
    be a period off)."""
    consumed = int(io[IoField.CONSUMED])
    started = int(io[IoField.LAST_BLOCK_NS])
    return (consumed, started) if int(io[IoField.CONSUMED]) == consumed else None


class DatedQueue(Generic[T]):
    """Waiting bundles, soonest first (and in arrival order at the same sample)."""

    def __init__(self, limit: int = MAX_WAITING) -> None:
        self.limit = limit
        self._heap: list[tuple[int, int, Dated[T]]] = []
        self._arrivals = 0
        self._waiting = 0

    def __len__(self) -> int:
        """How many commands wait."""
        return self._waiting

    def room(self, count: int) -> bool:
        """Whether `count` more commands may wait."""
        return self._waiting + count <= self.limit

    def push(self, stamp: int, commands: list[T], addr: Any) -> None:
        """Hold a bundle until `due` gives it back (check `room` first)."""
        heapq.heappush(self._heap, (stamp, self._arrivals, Dated(stamp, commands, addr)))
        self._arrivals += 1
        self._waiting += len(commands)

    @property
    def next_stamp(self) -> int | None:
        """The sample of the soonest bundle, None if none waits."""
        return self._heap[0][0] if self._heap else None

    def due(self, before: int) -> Iterator[Dated[T]]:
        """Take out, soonest first, every bundle whose sample is before `before`."""
        heap = self._heap
        while heap and heap[0][0] < before:
            dated = heapq.heappop(heap)[2]
            self._waiting -= len(dated.commands)
            yield dated

    def clear(self) -> int:
        """Drop every waiting bundle; how many commands were dropped."""
        dropped = self._waiting
        self._heap.clear()
        self._waiting = 0
        return dropped


Play = Callable[[int | None, list[Message], Any], None]
"""Play commands for a sender at a sample (None: as soon as they can)."""


class DatedBundles:
    """The supervisor's dated bundles: maps each bundle's tag to a sample, and applies,
    holds or refuses it; the serve loop `tick`s it to read the clock and release what is due.

    `io` are the audio I/O's counters (the clock is read from them), `earliest` gives the
    first sample the slots can still take, `play` plays commands, `reply` and `error` answer
    a sender.
    """

    def __init__(
        self, rate: int, block: int, io: npt.NDArray[np.int64], earliest: Callable[[], int],
        play: Play, reply: Callable[..., None], error: Callable[[Any, str, str], None],
    ) -> None:  # fmt: skip
        self.rate = rate
        self.clock = SampleClock(rate, block)
        self._io = io
        self._earliest = earliest
        self._play = play
        self._reply = reply
        self._error = error
        self._queue: DatedQueue[Message] = DatedQueue()
        self._ahead = round(RELEASE_AHEAD_S * rate)
        self.bundles = 0
        """Dated bundles received (each with at least one command)."""
        self.late = 0
        """Bundles that came (or were released) after their sample: applied at once."""

    def observe(self) -> None:
        """Read the audio I/O's clock: xruns, blocks handed over, when the last one was (a
        reading taken while the count changed is left out)."""
        xruns = int(self._io[IoField.XRUNS])
        reading = clock_reading(self._io)
        if reading is not None:
            self.clock.observe(*reading, xruns)

    def sample_of(self, tag: int) -> int:
        """The sample an NTP time tag names: the one the device plays at that time (its own
        latency, as the I/O reports it, included)."""
        self.observe()
        at = monotonic_ns_of(unix_ns_of_ntp(tag)) - 1000 * int(self._io[IoField.DEVICE_LATENCY_US])
        sample = self.clock.sample_at(at)
        if sample is None:  # no block handed over yet: the first goes about now
            sample = round((at - time.monotonic_ns()) * self.rate / 1e9)
        return sample

    def take(self, tag: int, commands: list[Message], addr: Any) -> None:
        """Apply, hold, or refuse the commands of a bundle dated `tag`."""
        self.bundles += 1
        self.place(self.sample_of(tag), commands, addr)

    def take_live(self, tag: int, commands: list[Message], addr: Any, earliest: int) -> int:
        """Apply the commands of a live input's bundle (MIDI in: dated its arrival plus a
        fixed latency just long enough) at the sample `tag` names. `earliest` is the first
        sample no slot has finished rendering: a slot may be rendering its block now, and
        the slots then agree where the commands apply (`decisions`), as the log says. One
        dated before it is late: applied at `earliest`, and counted.

        Returns the room it had: samples from `earliest` to its stamp (negative: late).
        """
        self.bundles += 1
        stamp = self.sample_of(tag)
        room = stamp - earliest
        if room < 0:
            self.late += 1
            self._play(earliest, commands, addr)
        elif room < self._ahead:
            self._play(stamp, commands, addr)
        else:
            self.place(stamp, commands, addr)
        return room

    def place(self, stamp: int, commands: list[Message], addr: Any) -> None:
        """Apply, hold, or refuse commands that should apply at sample `stamp`."""
        earliest = self._earliest()
        where = placement(stamp, earliest, self.rate)
        if where is Placement.LATE:
            self._late(stamp, earliest, commands, addr)
        elif where is Placement.NOW:
            self._play(stamp, commands, addr)
        elif where is Placement.TOO_FAR:
            ahead = (stamp - earliest) / self.rate
            self._error(
                addr, commands[0].address,
                f"a bundle dated {ahead:.1f} s ahead is refused (the most is {MAX_AHEAD_S:g} s); "
                "nothing changed",
            )  # fmt: skip
        elif not self._queue.room(len(commands)):
            self._error(
                addr, commands[0].address,
                f"engine busy: {len(self._queue)} dated commands wait already (the most is "
                f"{self._queue.limit}); nothing changed",
            )  # fmt: skip
        else:
            self._queue.push(stamp, commands, addr)

    def _late(self, stamp: int, earliest: int, commands: list[Message], addr: Any) -> None:
        """A bundle whose sample the slots have passed: its commands apply at once, and the
        sender hears by how much it was late."""
        self.late += 1
        late_s: Arg = (earliest - stamp) / self.rate
        self._reply(addr, "/late", late_s)
        self._play(None, commands, addr)

    def tick(self) -> None:
        """Read the clock; send the slots the waiting bundles whose time is near (a late one,
        the supervisor having been held up past its time, at once)."""
        self.observe()
        if not len(self._queue):
            return
        earliest = self._earliest()
        for dated in list(self._queue.due(earliest + self._ahead)):
            if dated.stamp < earliest:
                self._late(dated.stamp, earliest, dated.commands, dated.addr)
            else:
                self._play(dated.stamp, dated.commands, dated.addr)

    def wait_s(self, tick_s: float) -> float:
        """How long the serve loop may wait: `tick_s`, or less when a waiting bundle is due
        to go to the slots sooner."""
        first = self._queue.next_stamp
        if first is None:
            return tick_s
        return min(tick_s, max(0.0, (first - self._ahead - self._earliest()) / self.rate))

    @property
    def waiting(self) -> int:
        """How many commands wait."""
        return len(self._queue)

    def clear(self) -> int:
        """Drop every waiting bundle (the engine stops); how many commands were dropped."""
        return self._queue.clear()
