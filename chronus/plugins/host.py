"""An isolated module's host: renders each call of its rings once, in a process of its own.

`HostServer` is the host's side of the protocol in `host_ring.py` for one ring, the same code
in a live host process (`host_main`) and in an offline render (`ReplayLink`), so that both
make their module instances at the same calls and render the same samples. A host process
serves a group's rings (`GroupHost`: the modules of one plugin maker, or one module alone),
one `HostServer` each. It starts warm (numpy, numba and chronus imported) and waits for its
assignment; for each ring it is given, it resolves the module type, renders a throwaway block
(numba loads the kernels here, off the ring) and attaches the ring; told to go, it serves
every ring from its next call not yet submitted, each with a fresh instance. Rings are
attached and detached while it serves the others.
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
from chronus.plugins.atomics import FutexSet, cas
from chronus.plugins.host_events import replay
from chronus.plugins.host_ring import BYPASS, DONE, ENTRIES, READY, H, HostRing, word_at
from chronus.plugins.type_source import TypeSource, resolve_type

__all__ = ["BEAT_S", "GroupHost", "HostServer", "host_main"]

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

    def close(self) -> None:
        """Drop every view on the ring's memory (before the ring is closed)."""
        self.instance = None
        self.inputs, self.outputs = [], []

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


def _warm(cls: type[Module], rate: int, frames: int) -> None:
    """Render one throwaway block, so that numba's kernels are loaded before the first call."""
    instance = cls(rate, frames)
    if isinstance(instance, Processor):
        instance.process_stereo(np.zeros((frames, 2)), np.zeros((frames, 2)), frames)
    else:
        instance.process(np.zeros(frames), frames)


class GroupHost:
    """A host process's rings: one `HostServer` per ring, attached and detached while the
    others play, served together from one loop.

    Before `go` a host only gets ready: each ring it is given is attached, its type resolved
    and warmed. From `go` on it serves every ring it holds and a ring given later is served
    at once. Each pass of the loop deals with one call of each ring in turn (so one ring's
    backlog never holds the others back) until none has a call waiting, then sleeps until
    any ring's doorbell rings (`FutexSet`), a beat at most.
    """

    def __init__(self, conn: Connection, serving: Callable[[], object]) -> None:
        self.conn = conn
        self.serving = serving
        self.ready: dict[str, HostServer] = {}
        """Rings attached and warm, not yet served (before `go`)."""
        self.servers: dict[str, HostServer] = {}
        self.live = False
        self._bells = FutexSet([])
        self._expected: list[int] = []
        self._types: dict[tuple[str, int], type[Module]] = {}
        """The types resolved and warmed, by source and rate: a ring of one only attaches."""

    def handle(self, message: object) -> bool:
        """Act on one word from the keeper; False once told to end."""
        if message is None:
            return False
        if message == "go":
            self.go()
        elif isinstance(message, tuple) and message[0] == "attach":
            name = str(message[4]) if len(message) > 4 else ""
            self.attach(str(message[1]), str(message[2]), int(message[3]), name)
        elif isinstance(message, tuple) and message[0] == "detach":
            self.detach(str(message[1]))
        elif isinstance(message, tuple) and message[0] == "type":
            try:
                self._type(str(message[1]), int(message[2]), int(message[3]))
            except Exception as exc:  # said again by the `attach` of a ring of it
                self.conn.send(("untyped", str(message[1]), f"{type(exc).__name__}: {exc}"))
            else:
                self.conn.send(("typed", str(message[1])))
        return True

    def _type(self, source_json: str, rate: int, frames: int) -> type[Module]:
        """The type `source_json` resolved and warmed with a block of `frames` (once)."""
        cls = self._types.get((source_json, rate))
        if cls is None:
            cls = resolve_type(TypeSource.from_json(source_json), rate)
            self.pump()
            _warm(cls, rate, frames)
            self._types[source_json, rate] = cls
        return cls

    def attach(self, name: str, source_json: str, rate: int, ring_name: str = "") -> None:
        """Attach ring `name` (its shared memory's `ring_name`, if not that: a ring made
        under the name of one still served is known by another) and make its type
        (`("ready", name)` before `go`; after it, the ring is served at once: `("serving",
        pid, {name: first call})`), or say why not (`("failed", name, why)`). The rings
        served meanwhile are looked at between the steps, so that a plugin's library
        opening costs them no block."""
        try:
            ring = HostRing.attach(ring_name or name)
        except Exception as exc:
            self.conn.send(("failed", name, f"{type(exc).__name__}: {exc}"))
            return
        try:
            self.pump()
            cls = self._type(source_json, rate, ring.shape.frames)
        except Exception as exc:
            ring.close()
            self.conn.send(("failed", name, f"{type(exc).__name__}: {exc}"))
            return
        server = HostServer(ring, cls, rate)
        if not self.live:
            self.ready[name] = server
            self._title("ready")
            self.conn.send(("ready", name))
            return
        self.servers[name] = server
        self._rings_changed()
        self.conn.send(("serving", os.getpid(), {name: server.start(os.getpid())}))

    def detach(self, name: str) -> None:
        """Stop serving ring `name` and let go of it (the others play on)."""
        server = self.servers.pop(name, None) or self.ready.pop(name, None)
        if server is None:
            return
        self._rings_changed()
        ring = server.ring
        server.close()
        try:
            ring.close()
        except BufferError:
            pass  # a view outlived its server: the mapping goes with the last of them

    def go(self) -> None:
        """Serve every ring made ready, each from its next call not yet submitted."""
        self.live = True
        self.serving()
        pid = os.getpid()
        self.servers, self.ready = self.ready, {}
        firsts = {name: server.start(pid) for name, server in self.servers.items()}
        self._rings_changed()
        self.conn.send(("serving", pid, firsts, time.monotonic()))

    def _rings_changed(self) -> None:
        servers = list(self.servers.values())
        self._bells = FutexSet([(s.ring.header, H.DOORBELL) for s in servers])
        self._expected = [0] * len(servers)
        self._title("")

    def _title(self, state: str) -> None:
        from chronus.engine.titles import set_title

        types = sorted({s.cls.TYPE for s in [*self.servers.values(), *self.ready.values()]})
        set_title(f"plugin host {'+'.join(types)}" + (f" ({state})" if state else ""))

    def pump(self) -> bool:
        """Deal with every call waiting on any ring, one ring's call at a time; whether
        there was any."""
        servers = list(self.servers.values())
        now = time.monotonic_ns()
        for server in servers:
            server.ring.header[H.HEARTBEAT_NS] = now
        any_call = False
        stepped = True
        while stepped:
            stepped = False
            for server in servers:
                if server.step():
                    stepped = any_call = True
        return any_call

    def run(self) -> None:
        """Take words from the keeper and serve, until told to end or the pipe closes."""
        conn = self.conn
        while True:
            if not self.live or conn.poll():
                if not self.handle(conn.recv()):
                    return
                continue
            expected = self._expected
            for i, server in enumerate(self.servers.values()):
                expected[i] = int(server.ring.header[H.DOORBELL])
            if not self.pump():
                self._bells.wait(expected, BEAT_S)


def host_main(conn: Connection, serving: Callable[[], object] = lambda: None) -> None:
    """A host process: warm now, get ready for the rings it is given, serve them when told.

    Words on the pipe: `("type", type source JSON, sample rate, frames)` resolves a type
    and warms it ahead of its rings (answered `("typed", source)` or `("untyped", source,
    why)`, which the keeper leaves: a ring's `attach` says a failure again);
    `("attach", ring, type source JSON, sample rate, shared memory name)`
    (the name optional: `ring` if not given) is answered `("ready", ring)` once the type is
    resolved, a block rendered and the ring attached, or `("failed", ring, why)`; after
    `go`, `("serving", pid, {ring: first call})`; `("detach", ring)`; `"go"` (answered
    `("serving", pid, {ring: first call, …}, monotonic time)`); and `None` or the pipe
    closing: the end. `serving` is called as it starts serving, not before: a host takes
    real-time priority then, so that its imports and a first compile of its kernels (a cold
    numba cache) never hold a core at that priority. A spare is made ready ahead of need, so
    that a respawn costs a word on the pipe, not an import.
    """
    from chronus.engine.titles import set_title

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_title("plugin host (spare)")
    try:
        GroupHost(conn, serving).run()
    except (EOFError, OSError):
        return
