"""An isolated module as the slots see it: a stand-in that sends its calls to a host.

`isolated_type(cls)` makes a module type with the same name and parameters as `cls` whose
instances do no DSP: each call submits its input and parameters to the module's ring and
plays the host's output **one block later** (`max_block` frames of latency, `LATENCY`), so
that a slot never waits for the round trip: the output of a call is read a block after it
was offered, when a healthy host has long answered. A call whose outcome is a bypass plays
its own input (a processor) or silence (a source), delayed the same.

The stand-in's state (its call count, what it has offered and not yet played) is a module's
state like any other, so a standby joining by `load_state` continues on the same ring from
the same call. The link is given after construction (`attach`): a `SlotLink` in a slot, a
`ReplayLink` in an offline render. What the graph does to the module between its calls (a
note, a note inside the next block, a gate, a release, a panic, a tempo, a parameter) is
recorded as rows and sent with the next call, and the host does it to its instance there
(`host_events`): an isolated source plays its notes, an acid filter's envelope follows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numba
import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Module, Processor
from chronus.plugins.host import HostServer
from chronus.plugins.host_events import (
    FLUSH,
    GATE,
    NOTE_AT,
    NOTE_ON,
    PARAM,
    RELEASE,
    SILENCE,
    TEMPO,
    EventRecorder,
    hooks_of,
)
from chronus.plugins.host_ring import (
    ENTRIES,
    HostRing,
    Outcome,
    RingShape,
    SlotLink,
    ring_name,
    same_events,
    same_input,
)
from chronus.plugins.wait_budget import WaitBudget

__all__ = [
    "IsolatedModule",
    "Link",
    "LinkMaker",
    "ReplayLink",
    "isolated_type",
    "ring_links",
    "set_link_maker",
    "warm_stand_ins",
]

CALLS, POS, COLLECTED, START, PENDING, DROPPED = range(6)
"""Where the stand-in's counters live in its `counts` array (so that they are state):
calls made, frames offered, calls collected, where the next collected output goes, event
rows recorded for the next call, event rows dropped (no room)."""
NOTE_ROOM = 8
"""Rows kept free for what cannot be refused (a note, a gate) after a note inside the block."""


class Link(Protocol):
    """What a stand-in talks to: the host's ring, or an in-process replay of it."""

    def submit(
        self,
        call: int,
        inp: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
        n: int,
        events: npt.NDArray[np.float64] | None = None,
        count: int = 0,
    ) -> None: ...

    def collect(self, call: int, fifo: npt.NDArray[np.float64], at: int, n: int) -> Outcome: ...


LinkMaker = Callable[[str, int], "Link | None"]
"""Finds the link of an isolated module from its type's name and its salt (the stable hash of
its module id that the graph gives `reseed`); None where there is no ring."""

_link_maker: LinkMaker | None = None


def set_link_maker(maker: LinkMaker | None) -> None:
    """How this process's stand-ins find their rings (a slot: by the engine's naming; an
    offline render: replays from the session log; None: no ring, every call bypassed)."""
    global _link_maker
    _link_maker = maker


def ring_links(tag: str) -> LinkMaker:
    """A slot's link maker: the ring the supervisor made for the module (named by
    `ring_name(tag, type, salt)`), or None (every call bypassed) if there is none. Its
    links share one `WaitBudget`: the slot's waits for all its hosts together are bounded."""
    budget = WaitBudget()

    def link(type_name: str, salt: int) -> Link | None:
        try:
            return SlotLink(HostRing.attach(ring_name(tag, type_name, salt)), budget=budget)
        except (FileNotFoundError, ValueError):
            return None

    return link


class ReplayLink:
    """A ring served in this process, with the bypasses of a session log decided again at
    the same calls, and a fresh instance at each call a host started at: an offline render
    of what an isolated module played."""

    def __init__(
        self,
        cls: type[Module],
        rate: int,
        frames: int,
        bypassed: set[int],
        fresh: frozenset[int] = frozenset(),
        ended_down: bool = False,
    ) -> None:
        self.ring = HostRing.private(RingShape(frames, len(cls.PARAMS)))
        self.slot = SlotLink(self.ring)
        self.host = HostServer(self.ring, cls, rate)
        self.host.start(1)
        self.bypassed = bypassed
        self.fresh = fresh
        self.down_after = max(bypassed, default=-1) if ended_down else None
        """With no host serving when the session ended, the calls after the last one logged
        (a render's tail) are bypassed too: never rendered by code that was not running."""

    def submit(
        self,
        call: int,
        inp: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
        n: int,
        events: npt.NDArray[np.float64] | None = None,
        count: int = 0,
    ) -> None:
        """Offer the call, then decide it at once: bypassed as logged, or rendered. (Offered
        again, by a commit's new sound: only checked, as a second slot's is.)"""
        self.slot.submit(call, inp, params, n, events, count)
        if call < self.host.next_call:
            return
        if call in self.fresh:  # a host (re)started here, with no bypass before it maybe
            self.host.instance = None
        if call in self.bypassed or (self.down_after is not None and call > self.down_after):
            e = call % ENTRIES
            self.ring.decide_bypass(e, int(self.ring.words[e]), call)
        self.host.step()

    def collect(self, call: int, fifo: npt.NDArray[np.float64], at: int, n: int) -> Outcome:
        """The outcome decided at `submit`."""
        return self.slot.collect(call, fifo, at, n)


@numba.njit(cache=True)
def _write(fifo: npt.NDArray[np.float64], at: int, src: npt.NDArray[np.float64], n: int) -> None:
    size = fifo.shape[0]
    for i in range(n):
        j = (at + i) % size
        fifo[j, 0] = src[i, 0]
        fifo[j, 1] = src[i, 1]


@numba.njit(cache=True)
def _bypass(
    out_fifo: npt.NDArray[np.float64], in_fifo: npt.NDArray[np.float64], at: int, n: int,
    through: bool,
) -> None:  # fmt: skip
    size = out_fifo.shape[0]
    for i in range(n):
        j = (at + i) % size
        out_fifo[j, 0] = in_fifo[j, 0] if through else 0.0
        out_fifo[j, 1] = in_fifo[j, 1] if through else 0.0


@numba.njit(cache=True)
def _read(fifo: npt.NDArray[np.float64], at: int, dst: npt.NDArray[np.float64], n: int) -> None:
    size = fifo.shape[0]
    for i in range(n):
        j = (at + i) % size
        dst[i, 0] = fifo[j, 0]
        dst[i, 1] = fifo[j, 1]


@numba.njit(cache=True)
def _read_mono(
    fifo: npt.NDArray[np.float64], at: int, dst: npt.NDArray[np.float64], n: int
) -> None:
    size = fifo.shape[0]
    for i in range(n):
        dst[i] = fifo[(at + i) % size, 0]


class IsolatedModule(Module):
    """The stand-in's machinery, shared by the processor and the source kinds."""

    HOSTED: ClassVar[type[Module]]
    """The class the host runs."""
    LATENCY_BLOCKS: ClassVar[int] = 1
    """The output lags the input by this many blocks (`max_block` frames each)."""
    THROUGH: ClassVar[bool] = False
    """A bypassed call plays its input (True), or silence."""
    HOOKS: ClassVar[frozenset[int]] = frozenset()
    """The kinds of events the hosted class does something with (`host_events.hooks_of`)."""

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self.link: Link | None = None
        self._salt = -1
        self._index = {spec.name: i for i, spec in enumerate(self.PARAMS)}
        self._sent = np.zeros(len(self.PARAMS))
        self._counts = np.zeros(6, np.int64)
        self._lengths = np.zeros(ENTRIES, np.int64)
        self._in = np.zeros((4 * max_block, 2))
        self._out = np.zeros((4 * max_block, 2))
        self._mono_in = np.zeros((max_block, 2))
        self._events = EventRecorder(self._counts, PENDING, DROPPED)
        self.ignores_notes = NOTE_ON not in self.HOOKS
        self._init_params()
        self._events.sent()  # the host makes its instance with these values: no rows for them

    def attach(self, link: Link | None) -> None:
        """Talk to the host through `link` from now on (before the first call)."""
        self.link = link

    def reseed(self, salt: int) -> None:
        """The graph names the module (a stable hash of its id): find its ring by it."""
        self._salt = salt
        if _link_maker is not None:
            self.attach(_link_maker(self.TYPE, salt))

    def _state_scalars(self) -> dict[str, float | int]:
        return {"salt": self._salt}

    def _load_scalars(self, state: dict[str, Any]) -> None:
        self.reseed(int(state["salt"]))  # a joining slot finds the same ring

    def _param_changed(self, name: str, value: float) -> None:
        index = self._index[name]
        self._sent[index] = value
        self._events.record(PARAM, index, value)

    # -- what the graph does between calls, for the host to do (`host_events`) ----------

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """For the host's instance, before the next call."""
        if NOTE_ON in self.HOOKS:
            self._events.record(NOTE_ON, midi, velocity, length)

    def can_note_at(self) -> bool:
        """Yes if the hosted type takes notes inside a block and rows are left (its
        instance may not have room then: the host splits its render there instead)."""
        return NOTE_AT in self.HOOKS and self._events.room(NOTE_ROOM + 1)

    def note_at(self, at: int, midi: float, velocity: float, length: int) -> None:
        """For the host's instance, at sample `at` of the next call."""
        self._events.record(NOTE_AT, at, midi, velocity, length)

    def flush_notes(self) -> None:
        """For the host's instance, before the next call."""
        if FLUSH in self.HOOKS:
            self._events.record(FLUSH)

    def gate(self, on: bool) -> None:
        """For the host's instance, before the next call."""
        if GATE in self.HOOKS:
            self._events.record(GATE, 1.0 if on else 0.0)

    def release_all(self) -> None:
        """For the host's instance, before the next call."""
        if RELEASE in self.HOOKS:
            self._events.record(RELEASE)

    def silence(self) -> None:
        """For the host's instance, before the next call (what it already played and the
        stand-in holds plays on: a block)."""
        if SILENCE in self.HOOKS:
            self._events.record(SILENCE)

    def _forward_tempo(self, bpm: float) -> None:
        """`tempo_changed` of a stand-in whose hosted type follows the tempo."""
        self._events.record(TEMPO, bpm)

    def _exchange(self, inp: npt.NDArray[np.float64], n: int, through: bool) -> int:
        """Offer this call, collect every older call whose output is due; where the output
        of this call's frames starts in the output buffer."""
        link = self.link
        counts = self._counts
        call, pos = int(counts[CALLS]), int(counts[POS])
        _write(self._in, pos, inp, n)
        events = self._events
        if link is not None:
            link.submit(call, inp, self._sent, n, events.rows, events.count)
        events.sent()
        self._lengths[call % ENTRIES] = n
        counts[CALLS] = call + 1
        due = pos + n - self.max_block
        collected, start = int(counts[COLLECTED]), int(counts[START])
        while collected <= call and (start < due or call - collected >= ENTRIES // 2):
            length = int(self._lengths[collected % ENTRIES])
            outcome = (
                Outcome.LOST if link is None else link.collect(collected, self._out, start, length)
            )
            if outcome != Outcome.DONE:
                _bypass(self._out, self._in, start, length, through)
            collected += 1
            start += length
        counts[COLLECTED], counts[START] = collected, start
        counts[POS] = pos + n
        return pos - self.max_block

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "counts": self._counts,
            "lengths": self._lengths,
            "in": self._in,
            "out": self._out,
            "events": self._events.rows,
        }

    def quiet(self) -> bool:
        """Never: the host's module decides when it is silent, not the stand-in."""
        return False


class _IsolatedProcessor(IsolatedModule, Processor):
    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """Offer `n` frames, play the host's output of a block ago."""
        _read(self._out, self._exchange(inp, n, self.THROUGH), out, n)


class _IsolatedSource(IsolatedModule):
    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """Play the host's output of a block ago (mono)."""
        _read_mono(self._out, self._exchange(self._mono_in, n, False), out, n)


def isolated_type(cls: type[Module]) -> type[IsolatedModule]:
    """A stand-in type for `cls`: the same `TYPE` and `PARAMS`, hosted elsewhere.

    A bypassed call of a processor plays its input, unless `cls` declares
    `when_down = "silence"`; a source's is silent.
    """
    processor = issubclass(cls, Processor)
    base: type[IsolatedModule] = _IsolatedProcessor if processor else _IsolatedSource
    through = processor and getattr(cls, "when_down", "through") != "silence"
    hooks = hooks_of(cls)
    attributes: dict[str, Any] = {
        "TYPE": cls.TYPE,
        "PARAMS": cls.PARAMS,
        "HOSTED": cls,
        "THROUGH": through,
        "HOOKS": hooks,
        "__module__": __name__,
    }
    if TEMPO in hooks:  # the graph tells only the modules that define it of a tempo
        attributes["tempo_changed"] = IsolatedModule._forward_tempo
    return type(f"Isolated{cls.__name__}", (base,), attributes)


def warm_stand_ins(rate: int, max_block: int) -> None:
    """Compile (or load) the kernels of a stand-in and of a slot's side of a ring, with a
    built-in processor and source behind a private ring, so that the first isolated module
    a slot (or an offline render) makes does not compile them in a block: one compiled
    there runs into the guard's CPU limit, which suspends the module and aborts the compile
    (so that numba never caches it, and every process meets it again); even a warm cache's
    load costs tens of milliseconds there. Each path is taken: a call rendered by a host
    (`DONE`) and one bypassed, with events and without, and a peer's check of the same call."""
    from chronus.dsp.catalog import MODULE_TYPES  # the catalogue imports nothing of this

    for name in ("lowpass", "sine"):
        cls = MODULE_TYPES[name]
        stand_in = isolated_type(cls)(rate, max_block)
        ring = HostRing.private(RingShape(max_block, len(stand_in.PARAMS)))
        host = HostServer(ring, cls, rate)
        host.start(1)
        stand_in.attach(SlotLink(ring, wait_s=0.0, settle_s=0.0))
        inp, out = np.zeros((max_block, 2)), np.zeros((max_block, 2))
        for i, n in enumerate((max_block, 1, max_block, max_block, 1)):
            stand_in.set_param(stand_in.PARAMS[0].name, stand_in.PARAMS[0].default)  # a row
            if isinstance(stand_in, Processor):
                stand_in.process_stereo(inp, out, n)
            else:
                stand_in.process(out[:, 0].copy(), n)
            if i < 2:  # the first calls rendered, the later ones bypassed
                while host.step():
                    pass
        same_input(ring.inp, 0, inp, max_block, ring.params, stand_in._sent)  # a peer's check
        rows = stand_in._events.rows
        same_events(ring.events, ring.event_counts, 0, rows, int(ring.event_counts[0]))
