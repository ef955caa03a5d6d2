"""An isolated module's host: renders each call of the ring once, in a process of its own.

`HostServer` is the host's side of the protocol in `host_ring.py`, the same code in a live
host process (`host_main`) and in an offline render (`ReplayLink`), so that both make their
module instances at the same calls and render the same samples. A host process starts warm
(numpy, numba and chronus imported) and waits for its assignment; given one, it resolves the
module type, renders a throwaway block (numba loads the kernels here, off the ring), attaches
the ring and waits again; told to go, it serves the ring from the next call not yet
submitted, with a fresh instance.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Final

import numpy as np

from chronus.dsp.module import Module, Processor
from chronus.plugins.atomics import cas
from chronus.plugins.host_events import replay
from chronus.plugins.host_ring import BYPASS, DONE, ENTRIES, READY, H, HostRing, word_at
from chronus.plugins.type_source import TypeSource, resolve_type

__all__ = ["BEAT_S", "HostServer", "host_main"]

BEAT_S: Final = 0.5
"""The host writes its heartbeat at least this often (it waits on the doorbell no longer)."""


class HostServer:
    """Serves a ring's calls in order with one module instance at a time."""

    def __init__(self, ring: HostRing, cls: type[Module], rate: int) -> None:
        self.ring = ring
        self.cls = cls
        self.rate = rate
        self.names = [spec.name for spec in cls.PARAMS]
        self.processor = issubclass(cls, Processor)
        self.instance: Module | None = None
        self.applied = np.zeros(len(self.names))
        self.mono = np.zeros(ring.shape.frames)
        self.inputs = [ring.inp[e] for e in range(ENTRIES)]
        self.outputs = [ring.out[e] for e in range(ENTRIES)]
        self.next_call = 0
        self.call_entry = 0
        """The entry of the call being rendered."""

    def start(self, pid: int) -> int:
        """Serve from the next call not yet submitted; returns that call."""
        header = self.ring.header
        self.next_call = int(header[H.SUBMITTED]) + 1
        self.instance = None
        header[H.FIRST_CALL] = self.next_call
        header[H.HOST_DONE] = self.next_call - 1
        header[H.HEARTBEAT_NS] = time.monotonic_ns()
        header[H.HOST_PID] = pid
        return self.next_call

    def step(self) -> bool:
        """Deal with the next call if it can be: render it, or pass a bypassed one, or jump
        past calls decided without this host. False if it is not submitted yet."""
        ring = self.ring
        k = self.next_call
        e = k % ENTRIES
        seen, held, phase = word_at(ring.words, e)
        if held == k and phase == READY:
            self._render(k, e, seen)
        elif held == k and phase == BYPASS:
            self.instance = None
        elif held > k:  # far behind (stopped): start again at the newest call
            self.instance = None
            self.next_call = max(k + 1, int(ring.header[H.SUBMITTED]))
            return True
        else:
            return False
        ring.header[H.HOST_DONE] = k
        self.next_call = k + 1
        return True

    def _render(self, k: int, e: int, seen: int) -> None:
        ring = self.ring
        self.call_entry = e
        n = int(ring.frames[e])
        params = ring.params[e]
        out = self.outputs[e]
        try:
            instance = self._instance(params)
            count = int(ring.event_counts[e])
            if count:  # notes and the like first, and inside the block (`host_events`)
                replay(instance, ring.events[e], count, n, self._piece, self._set)
            else:
                self._piece(0, n)
            fine = bool(np.isfinite(out[:n]).all())
        except Exception:
            fine = False
        if not fine:
            ring.header[H.HOST_ERRORS] += 1
            ring.decide_bypass(e, seen, k)
            self.instance = None
        elif cas(ring.words, e, seen, k * 8 + DONE):
            ring.word_futex.wake(e)
        else:  # a slot gave up on it first: what this instance rendered is not what played
            self.instance = None

    def _piece(self, start: int, stop: int) -> None:
        """Render frames `start` to `stop` of the call being served (from 0: with the
        parameters its events did not set)."""
        instance, e = self.instance, self.call_entry
        assert instance is not None
        if start == 0:
            params = self.ring.params[e]
            for i, name in enumerate(self.names):
                if params[i] != self.applied[i]:
                    instance.set_param(name, float(params[i]))
                    self.applied[i] = params[i]
        out = self.outputs[e]
        if self.processor:
            inp = self.inputs[e]
            instance.process_stereo(inp[start:], out[start:], stop - start)  # type: ignore[attr-defined]
        else:
            mono = self.mono[start:]
            instance.process(mono, stop - start)
            out[start:stop, 0] = mono[: stop - start]
            out[start:stop, 1] = mono[: stop - start]

    def _set(self, index: int, value: float) -> None:
        """A parameter's event: set it on the instance, in its place among the others."""
        assert self.instance is not None
        self.instance.set_param(self.names[index], value)
        self.applied[index] = value

    def _instance(self, params: np.ndarray) -> Module:
        """The instance to render with: the current one, or a fresh one with `params`."""
        instance = self.instance
        if instance is None:
            instance = self.cls(self.rate, self.ring.shape.frames)
            for name, value in zip(self.names, params, strict=True):
                instance.set_param(name, float(value))
            self.applied[:] = params
            self.ring.header[H.GENERATIONS] += 1
            self.instance = instance
        return instance

    def serve(self, running: Callable[[], bool]) -> None:
        """Serve until `running()` is false, beating at least every `BEAT_S`."""
        ring = self.ring
        header = ring.header
        while running():
            header[H.HEARTBEAT_NS] = time.monotonic_ns()
            bell = int(header[H.DOORBELL])
            if not self.step():
                ring.header_futex.wait(H.DOORBELL, bell, BEAT_S)


def _warm(cls: type[Module], rate: int, frames: int) -> None:
    """Render one throwaway block, so that numba's kernels are loaded before the first call."""
    instance = cls(rate, frames)
    if isinstance(instance, Processor):
        instance.process_stereo(np.zeros((frames, 2)), np.zeros((frames, 2)), frames)
    else:
        instance.process(np.zeros(frames), frames)


def host_main(conn: Connection, serving: Callable[[], object] = lambda: None) -> None:
    """A host process: warm now, get ready for the ring it is given, serve it when told.

    It receives `(ring name, type source JSON, sample rate)` and answers `("ready",)` once
    the type is resolved, a block rendered and the ring attached, or `("failed", why)`;
    then `"go"` makes it start (`("serving", pid, first call)`) and serve until its pipe
    closes or says `None`. `serving` is called as it starts serving, not before: a host
    takes real-time priority then, so that its imports and a first compile of its kernels
    (a cold numba cache) never hold a core at that priority. A spare is made ready ahead of
    need, so that a respawn costs a word on the pipe, not an import.
    """
    from chronus.engine.titles import set_title

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_title("plugin host (spare)")
    try:
        task = conn.recv()
        if task is None:
            return
        ring_name, source_json, rate = task
        try:
            cls = resolve_type(TypeSource.from_json(source_json), rate)
            ring = HostRing.attach(ring_name)
            _warm(cls, rate, ring.shape.frames)
        except Exception as exc:
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
            return
        set_title(f"plugin host {cls.TYPE} (ready)")
        conn.send(("ready",))
        if conn.recv() != "go":
            return
    except (EOFError, OSError):
        return
    set_title(f"plugin host {cls.TYPE}")
    serving()
    server = HostServer(ring, cls, rate)
    first = server.start(os.getpid())
    conn.send(("serving", os.getpid(), first))
    server.serve(lambda: not conn.poll())
