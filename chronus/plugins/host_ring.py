"""The ring between the slots and an isolated module's host process, and its protocol.

One ring per isolated module, in one shared-memory segment. Each call of the module in a slot
(a block, or a piece of one where a command splits it) has a number, the same in both slots
(the slots render the same graph). Call *j* uses entry *j* mod `ENTRIES`, whose state is one
int64 word, `j × 8 + phase`:

- `WRITING`: the first slot to reach call *j* claimed the entry (compare-and-swap) and copies
  its input, its parameters, the events before the call (notes, gates, … in `host_events`)
  and its length in; then it sets `READY` and rings the doorbell. The second slot finds the
  entry taken and checks that its own input and events are the same (a difference is
  counted: the slots left lockstep).
- `READY`: the host renders it and moves it to `DONE`, by compare-and-swap.
- `BYPASS`: decided instead of `DONE`, once, by compare-and-swap: by a slot that needs the
  output and finds the host has not given it (the host is behind, stopped or dead, or did not
  finish within the bounded wait), by the host itself when the module raised or wrote
  non-finite samples, or by the second slot when the first died mid-write. Both slots read
  the one outcome: a processor's input passes through, a source is silent. Whoever decides a
  bypass also appends the call to the ring's bypass log, which the supervisor copies into the
  session log, so that an offline render plays the same outcomes.

The host's module instance lives only as long as its outcomes are all `DONE`: a bypass (a
block it missed, lost, or raised in) ends the instance, and the host starts a fresh one at
the next call it renders. So the instance's state at any call follows from the calls alone
and the bypass log, and the calls each host started at (a host that replaces a dead one
starts a fresh instance, maybe with no bypass before it): an offline render (`ReplayLink`)
given both makes the same instances at the same calls and renders the same samples.

A slot reads call *j*'s outcome one block of samples after it submitted it (see
`isolated.py`): by then a healthy host has long answered, and the slot does not wait. It waits
(on a futex, `wait_s` at most) only if the host is in step (it has dealt with call *j* − 1) and
still rendering *j*, and no longer than its `WaitBudget` (shared by all its rings) has left;
a host that is behind costs the slots nothing but the bypass. Nothing here allocates an array
after construction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from multiprocessing import shared_memory
from typing import Final

import numba
import numpy as np
import numpy.typing as npt

from chronus.plugins.atomics import Futex, cas
from chronus.plugins.host_events import EVENTS, WIDTH
from chronus.plugins.wait_budget import WaitBudget

__all__ = [
    "BYPASS",
    "DONE",
    "READY",
    "WRITING",
    "H",
    "HostRing",
    "Outcome",
    "RingShape",
    "SlotLink",
    "ring_name",
    "same_events",
    "same_input",
    "word_at",
]

WRITING: Final = 1
READY: Final = 2
DONE: Final = 3
BYPASS: Final = 4

ENTRIES: Final = 128
"""Calls a ring holds: a slot may fall this many calls behind its peer (341 ms of 128-frame
blocks) before the entries it has not read are reused (counted in `LOST`)."""
LOG: Final = 4096
_HEADER: Final = 32


def ring_name(tag: str, type_name: str, salt: int) -> str:
    """The shared-memory name of an isolated module's ring: the engine's tag, the type and
    the module's salt (a stable hash of its id), so that every process finds it alike."""
    return f"{tag}_h_{type_name}_{salt & 0xFFFFFFFF:08x}"


class H(IntEnum):
    """The ring's header words."""

    SUBMITTED = 0
    """The highest call made `READY` (−1 before the first)."""
    DOORBELL = 1
    """Changed by a slot after each submission: the host waits on it (a futex)."""
    HOST_PID = 2
    """The host serving the ring (0: none; the keeper clears it when the host dies)."""
    HEARTBEAT_NS = 3
    """The host's last sign of life (`time.monotonic_ns`), at least every `BEAT_S`."""
    HOST_DONE = 4
    """The last call the host dealt with (rendered or found bypassed)."""
    BYPASSES = 5
    """Calls appended to the bypass log so far."""
    DIFFERENT = 6
    """Calls whose input differed between the two slots (lockstep lost)."""
    GENERATIONS = 7
    """Module instances the hosts of this ring have made."""
    LOST = 8
    """Calls whose entry was reused before a slot read it (a slot far behind its peer)."""
    ENTRIES = 9
    FRAMES = 10
    PARAMS = 11
    FIRST_CALL = 12
    """The call the current host started at (a fresh instance there)."""
    HOST_ERRORS = 13
    """Calls in which the module raised or wrote non-finite samples, in the host."""
    HOST_WAITS = 14
    """Times a slot waited for the host (in step, still rendering the call it needed)."""
    PEER_WAITS = 15
    """Times a slot waited for its peer (writing the same call)."""
    WAITED_NS = 16
    """The slots' time in those waits, in all (the three counters are added to by both
    slots without an atomic: for the figures, a rare lost update is no matter)."""
    LONGEST_WAIT_NS = 17
    """The longest of those waits."""
    UNWAITED = 18
    """Calls a slot bypassed without waiting for a host in step: its `WaitBudget` was spent."""


class Outcome(IntEnum):
    """What a slot got for a call."""

    DONE = DONE
    BYPASS = BYPASS
    LOST = 0


@dataclass(frozen=True, slots=True)
class RingShape:
    """How big a ring is: frames per call at most, and parameters per call."""

    frames: int
    params: int

    def nbytes(self) -> int:
        """The segment's size."""
        words = _HEADER + 3 * ENTRIES + 2 * LOG
        floats = ENTRIES * self.params + 2 * ENTRIES * self.frames * 2 + ENTRIES * EVENTS * WIDTH
        return 8 * (words + floats)


class HostRing:
    """Views on a ring's memory (shared memory, or a private buffer for an offline render)."""

    def __init__(self, buffer: memoryview | bytearray, shape: RingShape) -> None:
        self.shape = shape
        at = 0

        def ints(count: int) -> npt.NDArray[np.int64]:
            nonlocal at
            view: npt.NDArray[np.int64] = np.ndarray((count,), np.int64, buffer, at)
            at += 8 * count
            return view

        def floats(*dims: int) -> npt.NDArray[np.float64]:
            nonlocal at
            view: npt.NDArray[np.float64] = np.ndarray(dims, np.float64, buffer, at)
            at += 8 * int(np.prod(dims))
            return view

        self.header = ints(_HEADER)
        self.words = ints(ENTRIES)
        self.frames = ints(ENTRIES)
        self.log_calls = ints(LOG)
        self.log_seqs = ints(LOG)
        p, b = shape.params, shape.frames
        self.params = floats(ENTRIES, p)
        self.inp = floats(ENTRIES, b, 2)
        self.out = floats(ENTRIES, b, 2)
        self.event_counts = ints(ENTRIES)
        self.events = floats(ENTRIES, EVENTS, WIDTH)
        """Each call's rows of what the graph did to the module before it (`host_events`)."""
        self.word_futex = Futex(self.words)
        self.header_futex = Futex(self.header)
        self._shm: shared_memory.SharedMemory | None = None

    def format(self) -> None:
        """Make a new ring: no call submitted, every entry decided (a lap before call 0)."""
        self.header[:] = 0
        self.header[H.SUBMITTED] = -1
        self.header[H.HOST_DONE] = -1
        self.header[H.ENTRIES] = ENTRIES
        self.header[H.FRAMES] = self.shape.frames
        self.header[H.PARAMS] = self.shape.params
        self.words[:] = -8 + DONE
        self.log_seqs[:] = 0

    @classmethod
    def private(cls, shape: RingShape) -> HostRing:
        """A ring in this process's own memory (an offline render, a test)."""
        ring = cls(bytearray(shape.nbytes()), shape)
        ring.format()
        return ring

    @classmethod
    def create(cls, name: str, shape: RingShape) -> HostRing:
        """A new ring in a new shared-memory segment `name` (the caller unlinks it)."""
        shm = shared_memory.SharedMemory(name=name, create=True, size=shape.nbytes())
        assert shm.buf is not None
        ring = cls(shm.buf, shape)
        ring._shm = shm
        ring.format()
        return ring

    @classmethod
    def attach(cls, name: str) -> HostRing:
        """Attach to the ring in segment `name`; its shape is read from its header."""
        shm = shared_memory.SharedMemory(name=name)
        assert shm.buf is not None
        head = np.ndarray((_HEADER,), np.int64, shm.buf)
        shape = RingShape(int(head[H.FRAMES]), int(head[H.PARAMS]))
        del head
        ring = cls(shm.buf, shape)
        ring._shm = shm
        return ring

    @property
    def name(self) -> str:
        """The segment's name ("" for a private ring)."""
        return "" if self._shm is None else self._shm.name

    def close(self) -> None:
        """Let go of the segment (views first: a mapping with views cannot close)."""
        if self._shm is None:
            return
        for attr in (
            "header", "words", "frames", "log_calls", "log_seqs", "params", "inp", "out",
            "event_counts", "events",
        ):  # fmt: skip
            delattr(self, attr)
        del self.word_futex, self.header_futex
        shm, self._shm = self._shm, None
        shm.close()

    def unlink(self) -> None:
        """Remove the segment's name (the creator, at the end)."""
        if self._shm is not None:
            self._shm.unlink()

    # -- shared by the slots and the host ------------------------------------------------

    def decide_bypass(self, entry: int, seen: int, call: int) -> bool:
        """Move call `call`'s entry from `seen` to `BYPASS`; if this did it, log the call."""
        if not cas(self.words, entry, seen, call * 8 + BYPASS):
            return False
        while True:
            index = int(self.header[H.BYPASSES])
            if cas(self.header, H.BYPASSES, index, index + 1):
                break
        self.log_calls[index % LOG] = call
        self.log_seqs[index % LOG] = index + 1
        self.word_futex.wake(entry)
        return True

    def bypass_log(self, start: int) -> tuple[list[int], int]:
        """The calls bypassed since log position `start`, and the position after them (the
        log keeps the last `LOG`; a reader further behind loses the oldest)."""
        end = int(self.header[H.BYPASSES])
        calls = []
        for index in range(max(start, end - LOG), end):
            deadline = time.monotonic() + 0.01
            while self.log_seqs[index % LOG] != index + 1 and time.monotonic() < deadline:
                pass  # reserved a moment ago, being written
            calls.append(int(self.log_calls[index % LOG]))
        return calls, end


@numba.njit(cache=True)
def _put(
    entries: npt.NDArray[np.float64],
    e: int,
    src: npt.NDArray[np.float64],
    n: int,
    table: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
) -> None:
    for i in range(n):
        entries[e, i, 0] = src[i, 0]
        entries[e, i, 1] = src[i, 1]
    for i in range(params.shape[0]):
        table[e, i] = params[i]


@numba.njit(cache=True)
def same_input(
    entries: npt.NDArray[np.float64],
    e: int,
    src: npt.NDArray[np.float64],
    n: int,
    table: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
) -> bool:
    """Whether entry `e` holds `src[:n]` and `params`: a slot's check of what its peer
    offered for the same call."""
    for i in range(n):
        if entries[e, i, 0] != src[i, 0] or entries[e, i, 1] != src[i, 1]:
            return False
    for i in range(params.shape[0]):
        if table[e, i] != params[i]:
            return False
    return True


@numba.njit(cache=True)
def _put_events(
    table: npt.NDArray[np.float64], e: int, rows: npt.NDArray[np.float64], count: int
) -> None:
    for i in range(count):
        for j in range(rows.shape[1]):
            table[e, i, j] = rows[i, j]


@numba.njit(cache=True)
def same_events(
    table: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    e: int,
    rows: npt.NDArray[np.float64],
    count: int,
) -> bool:
    """Whether entry `e` holds `rows[:count]`: a slot's check of the events its peer offered."""
    if counts[e] != count:
        return False
    for i in range(count):
        for j in range(rows.shape[1]):
            if table[e, i, j] != rows[i, j]:
                return False
    return True


def word_at(words: npt.NDArray[np.int64], e: int) -> tuple[int, int, int]:
    """An entry's word as read now: (the word, its call, its phase)."""
    seen = int(words[e])
    return seen, seen >> 3, seen & 7


class SlotLink:
    """A slot's side of a ring: submit a call's input, collect its outcome."""

    def __init__(
        self,
        ring: HostRing,
        wait_s: float = 0.001,
        settle_s: float = 0.002,
        budget: WaitBudget | None = None,
    ) -> None:
        self.ring = ring
        self.wait_s = wait_s
        """How long a slot waits for a host that is in step but still rendering."""
        self.settle_s = settle_s
        """How long a second slot waits for a first one that is writing the same call."""
        self.budget = budget
        """The waiting for hosts left to the slot, shared by all its rings (None: each call
        may wait `wait_s`)."""

    def submit(
        self,
        call: int,
        inp: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
        n: int,
        events: npt.NDArray[np.float64] | None = None,
        count: int = 0,
    ) -> None:
        """Offer call `call`'s input (`inp[:n]`, stereo), parameters and events (the first
        `count` rows of `events`, see `host_events`) to the host."""
        ring, words, e = self.ring, self.ring.words, call % ENTRIES
        waited = False
        while True:
            seen, held, phase = word_at(words, e)
            if held < call:
                if phase in (WRITING, READY):  # never read: decide it before reusing it
                    ring.decide_bypass(e, seen, held)
                    continue
                if not cas(words, e, seen, call * 8 + WRITING):
                    continue
                _put(ring.inp, e, inp, n, ring.params, params)
                if events is not None and count:
                    _put_events(ring.events, e, events, count)
                ring.event_counts[e] = count
                ring.frames[e] = n
                if not cas(words, e, call * 8 + WRITING, call * 8 + READY):
                    return  # the other slot took this one for dead and bypassed the call
                if ring.header[H.SUBMITTED] < call:
                    ring.header[H.SUBMITTED] = call
                ring.header[H.DOORBELL] += 1
                ring.header_futex.wake(H.DOORBELL)
                return
            if held > call:
                ring.header[H.LOST] += 1
                return
            if phase == WRITING:  # the other slot is writing it, or died doing so
                if not waited:
                    self._wait(e, seen, self.settle_s, H.PEER_WAITS)
                    waited = True
                    continue
                ring.decide_bypass(e, seen, call)
                continue
            if phase != BYPASS and ring.frames[e] == n:
                same = same_input(ring.inp, e, inp, n, ring.params, params)
                if count or ring.event_counts[e]:
                    same = (
                        same
                        and events is not None
                        and bool(same_events(ring.events, ring.event_counts, e, events, count))
                    )
                if not same and int(words[e]) == seen:
                    ring.header[H.DIFFERENT] += 1
            return

    def collect(self, call: int, fifo: npt.NDArray[np.float64], at: int, n: int) -> Outcome:
        """The outcome of call `call` (of `n` frames); on `DONE` its output is copied into
        `fifo` (a circular stereo buffer) from frame `at`."""
        ring, words, e = self.ring, self.ring.words, call % ENTRIES
        waited = False
        while True:
            seen, held, phase = word_at(words, e)
            if held != call:
                ring.header[H.LOST] += 1
                return Outcome.LOST
            if phase == DONE:
                _to_fifo(fifo, at, ring.out, e, n)
                if int(words[e]) != seen:
                    ring.header[H.LOST] += 1
                    return Outcome.LOST
                return Outcome.DONE
            if phase == BYPASS:
                return Outcome.BYPASS
            header = ring.header
            in_step = header[H.HOST_PID] > 0 and header[H.HOST_DONE] == call - 1
            if in_step and not waited:
                budget, waited = self.budget, True
                timeout = self.wait_s if budget is None else budget.grant(self.wait_s)
                if timeout > 0.0:
                    took = self._wait(e, seen, timeout, H.HOST_WAITS)
                    if budget is not None:
                        budget.spend(took)
                    continue
                if budget is not None:
                    header[H.UNWAITED] += 1
            ring.decide_bypass(e, seen, call)

    def _wait(self, e: int, seen: int, timeout_s: float, counter: H) -> int:
        """Wait for entry `e`'s word to change from `seen`, counted under `counter`; the
        nanoseconds it took."""
        header = self.ring.header
        began = time.monotonic_ns()
        self.ring.word_futex.wait(e, seen, timeout_s)
        took = time.monotonic_ns() - began
        header[counter] += 1
        header[H.WAITED_NS] += took
        if took > header[H.LONGEST_WAIT_NS]:
            header[H.LONGEST_WAIT_NS] = took
        return took


@numba.njit(cache=True)
def _to_fifo(
    fifo: npt.NDArray[np.float64], at: int, entries: npt.NDArray[np.float64], e: int, n: int
) -> None:
    size = fifo.shape[0]
    for i in range(n):
        j = (at + i) % size
        fifo[j, 0] = entries[e, i, 0]
        fifo[j, 1] = entries[e, i, 1]
