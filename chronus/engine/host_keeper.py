"""Keeping an isolated module's host alive: a warm spare, a heartbeat, respawn with backoff.

The supervisor keeps one `HostKeeper` per ring. A spare host process is started ahead of
need (numpy, numba and chronus imported), so a host is made by handing the spare its ring and
type, not by starting Python. The keeper then watches the host's heartbeat in the ring (the
host writes it at least every `BEAT_S`, 500 ms): three missed (`DEAD_AFTER_S`) or an exit, and
the host is dead — killed if it was only stopped or hung. Meanwhile the slots bypass the
module on their own (the ring's protocol); the keeper clears the ring's host pid so that they
stop waiting for it, and respawns along the ladder of `RespawnPolicy`: immediately, after 2 s,
after 10 s, then Suspended (the module stays bypassed until reloaded).

Every bypass is in the ring's bypass log and every host's first call in its header: the
keeper hands both on (`take_events`) for the session log, so that an offline render decides
the same outcomes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

from chronus.engine.backoff import RespawnDecision, RespawnPolicy
from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.plugins.host import BEAT_S, host_main
from chronus.plugins.host_ring import H, HostRing
from chronus.plugins.type_source import TypeSource

__all__ = ["DEAD_AFTER_S", "HostEvent", "HostKeeper", "WarmHost"]

DEAD_AFTER_S: Final = 3 * BEAT_S
"""A host whose heartbeat is older than three beats is dead (hung, or stopped)."""

START_TIMEOUT_S: Final = 30.0
"""How long a spare may take to warm up, or an assigned host to start serving."""


HOST_PRIORITY: Final = 59
"""SCHED_FIFO priority of a host, just below the slots (60): a slot waits for its host only
within a block, and a host at normal priority can be held off the CPU for longer than that."""


def _host_process(conn: Connection) -> None:
    die_with_parent()
    host_main(conn, serving=lambda: try_realtime(HOST_PRIORITY))


class WarmHost:
    """A host process started ahead of need, waiting for its ring."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_host_process, args=(child,), name="chronus-host", daemon=True
        )
        self.process.start()
        child.close()
        self.born = time.monotonic()
        self.asked = self.born
        """When it was started, or given its ring: its warm-up is timed from then (a blank
        host may wait idle for minutes before it is given one)."""
        self._ready = False

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid or 0

    def prepare(self, ring: str, source: TypeSource, rate: int) -> None:
        """Give it its ring and type now: it resolves and warms them, and waits for `go`."""
        self.asked = time.monotonic()
        try:
            self.conn.send((ring, source.to_json(), rate))
        except OSError:
            pass  # dead already: `go` says so

    def ready(self) -> bool:
        """Whether it has resolved and warmed its type (never blocks). Raises
        `RuntimeError` if it failed to, or died, or has taken `START_TIMEOUT_S`."""
        if self._ready:
            return True
        try:
            if self.conn.poll():
                reply = self.conn.recv()
                if reply[0] != "ready":
                    raise RuntimeError(f"the host failed to start: {reply[1]}")
                self._ready = True
                return True
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the host died while it warmed up: {exc}") from exc
        if not self.alive():
            raise RuntimeError(f"the host died while it warmed up (exit {self.process.exitcode})")
        if time.monotonic() - self.asked > START_TIMEOUT_S:
            raise RuntimeError(f"the host did not warm up within {START_TIMEOUT_S:g} s")
        return False

    def go(self, timeout: float) -> int:
        """Make it serve (waiting for it to be ready if it is not); the first call it
        serves. Raises `RuntimeError` if it failed or does not serve within `timeout` (it is
        killed then)."""
        deadline = time.monotonic() + timeout
        try:
            while not self.ready():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the host did not start within {timeout:g} s")
                self.conn.poll(0.05)
            self.conn.send("go")
            if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"the host did not start within {timeout:g} s")
            reply = self.conn.recv()
            if reply[0] != "serving":
                raise RuntimeError(f"the host failed to start: {reply[1]}")
        except (EOFError, OSError) as exc:
            self.kill()
            raise RuntimeError(f"the host died while it started: {exc}") from exc
        except RuntimeError:
            self.kill()
            raise
        return int(reply[2])

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL it (stopped or not) and reap it."""
        if self.process.is_alive() and self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.join(5.0)

    def stop(self) -> None:
        """Ask it to end (it stops at its next wake-up), then kill it if it does not."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(2 * BEAT_S)
        self.kill()
        self.conn.close()


@dataclass(frozen=True, slots=True)
class HostEvent:
    """For the session log: a host started serving at `call` with a fresh instance, or the
    calls in `bypassed` were decided bypassed. For the players only: a host `died` (`why`
    it died and what follows)."""

    kind: str
    call: int = -1
    bypassed: tuple[int, ...] = ()
    pid: int = 0
    why: str = ""


@dataclass(slots=True)
class _Life:
    host: WarmHost | None = None
    started: float | None = None
    state: str = "starting"
    respawn_at: float = 0.0
    restarts: int = 0
    deaths: list[str] = field(default_factory=list)
    death_times: list[float] = field(default_factory=list)
    start_times: list[float] = field(default_factory=list)
    decision: str = ""
    spawn_ms: float = 0.0


class HostKeeper:
    """One ring's host: started from a warm spare, watched, respawned, reported."""

    def __init__(
        self,
        ring: HostRing,
        source: TypeSource,
        rate: int,
        policy: RespawnPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        blank: Callable[[], WarmHost] = WarmHost,
    ) -> None:
        self.ring = ring
        self.source = source
        self.rate = rate
        self.policy = policy or RespawnPolicy()
        self.clock = clock
        self.blank = blank
        """Where a new host comes from: a process with its imports done, waiting for a ring."""
        self._life = _Life()
        self._spare: WarmHost | None = None
        self._log_at = 0
        self._events: list[HostEvent] = []

    def start(self, wait: bool = True) -> None:
        """Start the first host (and a spare, ready for its successor). Without `wait`,
        only start warming it: `poll` makes it serve once it is ready (meanwhile the slots
        bypass the module), so that a supervisor's loop never waits for an import."""
        if wait:
            self._spawn()
        else:
            self._spare = self._ready_spare()

    def _ready_spare(self) -> WarmHost:
        spare = self.blank()
        spare.prepare(self.ring.name, self.source, self.rate)
        return spare

    def _spawn(self) -> None:
        life = self._life
        spare, self._spare = self._spare or self._ready_spare(), None
        began = time.perf_counter()
        try:
            first = spare.go(START_TIMEOUT_S)
        finally:
            life.spawn_ms = 1000 * (time.perf_counter() - began)
        self._spare = self._ready_spare()
        life.host, life.started, life.state = spare, self.clock(), "running"
        life.start_times.append(life.started)
        self._events.append(HostEvent("host", call=first, pid=spare.pid))

    def poll(self) -> None:
        """Look at the host once (call it every 100 ms or so; it never waits for a host to
        warm up): a death is handled, a start or a respawn that is due is made once its
        spare is ready."""
        life = self._life
        now = self.clock()
        if life.state == "running" and life.host is not None:
            why = self._dead(life.host)
            if why:
                self._died(why, now)
        if life.state in ("starting", "respawning") and now >= life.respawn_at:
            spare = self._spare = self._spare or self._ready_spare()
            try:
                if not spare.ready():
                    return
            except RuntimeError as exc:
                spare.kill()
                self._spare = None
                self._died(str(exc), self.clock())
                return
            if life.state == "respawning":
                life.restarts += 1
            try:
                self._spawn()
            except RuntimeError as exc:
                self._died(str(exc), self.clock())

    def _dead(self, host: WarmHost) -> str:
        if not host.alive():
            code = host.process.exitcode
            return f"died of signal {-code}" if code is not None and code < 0 else f"exit {code}"
        beat = int(self.ring.header[H.HEARTBEAT_NS])
        age = (time.monotonic_ns() - beat) / 1e9
        if age > DEAD_AFTER_S:
            return f"no heartbeat for {age:.1f} s"
        return ""

    def _died(self, why: str, now: float) -> None:
        life = self._life
        self.ring.header[H.HOST_PID] = 0  # the slots stop waiting for it at once
        if life.host is not None:
            life.host.kill()
            life.host = None
        served = 0.0 if life.started is None else now - life.started
        life.started = None
        decision: RespawnDecision = self.policy.on_death(now, served)
        life.deaths.append(why)
        life.death_times.append(now)
        life.decision = decision.describe()
        if decision.suspended:
            life.state = "suspended"
        else:
            life.state, life.respawn_at = "respawning", now + decision.delay_s
        self._events.append(HostEvent("died", why=f"{why}; {life.decision}"))

    def take_events(self) -> list[HostEvent]:
        """What happened since the last call: host starts and bypasses (for the session log),
        and deaths (for the players)."""
        calls, self._log_at = self.ring.bypass_log(self._log_at)
        events, self._events = self._events, []
        if calls:
            events.append(HostEvent("bypass", bypassed=tuple(calls)))
        return events

    def health(self) -> dict[str, Any]:
        """The hosting mode, the host's pid, state and restarts, and the ring's counters."""
        life = self._life
        header = self.ring.header
        return {
            "hosting": "isolated",
            "host_pid": 0 if life.host is None else life.host.pid,
            "host_state": life.state,
            "restarts": life.restarts,
            "deaths": list(life.deaths),
            "decision": life.decision,
            "spawn_ms": round(life.spawn_ms, 1),
            "first_call": int(header[H.FIRST_CALL]),
            "generations": int(header[H.GENERATIONS]),
            "bypasses": int(header[H.BYPASSES]),
            "different": int(header[H.DIFFERENT]),
            "lost": int(header[H.LOST]),
            "host_errors": int(header[H.HOST_ERRORS]),
            "latency_blocks": 1,
        }

    def history(self) -> list[tuple[float, str]]:
        """Every start and death so far, on the keeper's clock, in order: (time, "start")
        or (time, why it died)."""
        life = self._life
        events = [(at, "start") for at in life.start_times]
        events += list(zip(life.death_times, life.deaths, strict=True))
        return sorted(events)

    @property
    def host(self) -> WarmHost | None:
        """The host serving now, if any."""
        return self._life.host

    def close(self) -> None:
        """Stop the host and the spare."""
        for host in (self._life.host, self._spare):
            if host is not None:
                host.stop()
        self._life.host, self._spare = None, None
        self.ring.header[H.HOST_PID] = 0
