"""Keeping a group's host alive: a warm spare, a heartbeat, respawn with backoff.

The supervisor keeps one `HostKeeper` per host group (the modules of one plugin maker, or one
module alone), and one ring per module in it. A spare host process is started ahead of need
(numpy, numba and chronus imported), so a host is made by handing the spare its rings and
types, not by starting Python. The keeper then watches the host's heartbeat in the rings (the
host writes it at least every `BEAT_S`, 500 ms): three missed (`DEAD_AFTER_S`) or an exit, and
the host is dead — killed if it was only stopped or hung. Meanwhile the slots bypass every
module of the group on their own (the ring's protocol); the keeper clears each ring's host pid
so that they stop waiting for it, and respawns along the ladder of `RespawnPolicy`:
immediately, after 2 s, after 10 s, then Suspended (the modules stay bypassed until
reloaded). A respawned host starts each ring afresh, at a call of its own.

Every bypass is in its ring's bypass log and every host's first call in the ring's header:
the keeper hands both on (`take_events`) for the session log, so that an offline render decides
the same outcomes.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final, TypeAlias

from chronus.engine.backoff import RespawnDecision, RespawnPolicy
from chronus.engine.launcher import ChildProcess
from chronus.engine.lifecycle import die_with_parent, try_realtime
from chronus.plugins.host import BEAT_S, host_main
from chronus.plugins.host_ring import H, HostRing
from chronus.plugins.type_source import TypeSource

__all__ = ["DEAD_AFTER_S", "HostEvent", "HostFork", "HostKeeper", "WarmHost"]

DEAD_AFTER_S: Final = 3 * BEAT_S
"""A host whose heartbeat is older than three beats is dead (hung, or stopped)."""

START_TIMEOUT_S: Final = 30.0
"""How long a spare may take to warm up, or an assigned host to start serving."""


HOST_PRIORITY: Final = 59
"""SCHED_FIFO priority of a host, just below the slots (60): a slot waits for its host only
within a block, and a host at normal priority can be held off the CPU for longer than that."""


HostFork: TypeAlias = Callable[[Callable[..., object], tuple[Any, ...], str], ChildProcess | None]
"""Starts a warm process running `target(*args)` (a fork of the engine's template:
`Launcher.start_warm`), or gives None when it cannot now (then a host is spawned)."""


def _host_process(conn: Connection) -> None:
    die_with_parent()
    host_main(conn, serving=lambda: try_realtime(HOST_PRIORITY))


class WarmHost:
    """A host process started ahead of need, waiting for its rings: forked warm by `fork`
    if given and able (about 2 ms, its imports shared with the template's), else spawned
    (a fresh interpreter importing numpy, numba and chronus: seconds of CPU)."""

    def __init__(self, fork: HostFork | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        process = None if fork is None else fork(_host_process, (child,), "chronus-host")
        self.forked = process is not None
        if process is None:
            process = context.Process(
                target=_host_process, args=(child,), name="chronus-host", daemon=True
            )
            process.start()
        self.process: ChildProcess = process
        child.close()
        self.born = time.monotonic()
        self.asked_at = self.born
        """When it was last given a ring: its warm-up is timed from then (a blank host may
        have waited long for its first)."""
        self._asked: set[str] = set()
        """Rings given and not yet answered for."""
        self._ready: set[str] = set()
        self.failed: dict[str, str] = {}
        """Rings it could not take, and why (their modules stay bypassed; the others play)."""
        self._started: dict[str, int] = {}
        self.serving = False
        self.went_at = 0.0
        """When it was told to serve (`go`)."""
        self.served_at = 0.0
        """When it started serving, by its own clock (monotonic, as this process's)."""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid or 0

    def prepare(self, ring: str, source: TypeSource, rate: int, name: str = "") -> None:
        """Give it a ring (known as `ring`; its shared memory's `name`, if not that) and its
        type: it resolves and warms them, and waits for `go` (once it serves, it serves the
        ring at once: `take_started` says from which call)."""
        self._asked.add(ring)
        self.failed.pop(ring, None)
        self.asked_at = time.monotonic()
        try:
            self.conn.send(("attach", ring, source.to_json(), rate, name or ring))
        except OSError:
            pass  # dead already: `go` or the keeper's watch says so

    def resolve(self, source: TypeSource, rate: int, frames: int) -> None:
        """Give it a type ahead of its rings: it resolves it and renders a block of
        `frames` now, so that a ring of it given later only attaches (never waits)."""
        self.asked_at = time.monotonic()
        try:
            self.conn.send(("type", source.to_json(), rate, frames))
        except OSError:
            pass  # dead already: the keeper's watch says so

    def detach(self, ring: str) -> None:
        """Make it let go of a ring (the others play on)."""
        self._asked.discard(ring)
        self._ready.discard(ring)
        self._started.pop(ring, None)
        self.failed.pop(ring, None)
        try:
            self.conn.send(("detach", ring))
        except OSError:
            pass

    def _read(self) -> None:
        """Take every answer that came (never blocks); `RuntimeError` if the pipe broke."""
        try:
            while self.conn.poll():
                reply = self.conn.recv()
                if reply[0] == "serving":
                    if not self.serving and len(reply) > 3:
                        self.served_at = float(reply[3])
                    self.serving = True
                    wanted = self._asked | self._ready
                    started = {r: int(call) for r, call in reply[2].items() if r in wanted}
                    self._started.update(started)
                    self._asked -= set(started)
                    self._ready |= set(started)
                elif reply[1] in self._asked:
                    self._asked.discard(reply[1])
                    if reply[0] == "ready":
                        self._ready.add(reply[1])
                    else:
                        self.failed[reply[1]] = str(reply[2])
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the host died: {exc}") from exc

    def ready(self) -> bool:
        """Whether it has resolved and warmed the types of all its rings (never blocks).
        Raises `RuntimeError` if it could take none of them, or died, or has taken
        `START_TIMEOUT_S`."""
        try:
            self._read()
        except RuntimeError as exc:
            raise RuntimeError(f"the host died while it warmed up: {exc}") from exc
        if not self._asked:
            if not self._ready and self.failed:
                raise RuntimeError(f"the host failed to start: {'; '.join(self.failed.values())}")
            return True
        if not self.alive():
            raise RuntimeError(f"the host died while it warmed up (exit {self.process.exitcode})")
        if time.monotonic() - self.asked_at > START_TIMEOUT_S:
            raise RuntimeError(f"the host did not warm up within {START_TIMEOUT_S:g} s")
        return False

    def go(self) -> None:
        """Tell it to serve once it is ready: it takes the rings given before first (never
        waits; `served` says when it serves)."""
        self.went_at = time.monotonic()
        try:
            self.conn.send("go")
        except OSError:
            pass  # dead: `served` says so

    def served(self) -> dict[str, int] | None:
        """Once it serves after `go`: the first call it serves of each ring; None until
        then (never blocks). Raises `RuntimeError` if it failed to take any ring, died, or
        does not serve within `START_TIMEOUT_S` of being ready (it is killed then)."""
        try:
            if not self.ready():
                return None
            if self.serving:
                return self.take_started()
            if not self.alive():
                raise RuntimeError(f"the host died while it started (exit {self.process.exitcode})")
            if time.monotonic() - max(self.went_at, self.asked_at) > START_TIMEOUT_S:
                raise RuntimeError(f"the host did not start within {START_TIMEOUT_S:g} s")
        except (EOFError, OSError) as exc:
            self.kill()
            raise RuntimeError(f"the host died while it started: {exc}") from exc
        except RuntimeError:
            self.kill()
            raise
        return None

    @property
    def served_a_ring(self) -> bool:
        """Whether it said it serves, with a ring it took (what it said before it died)."""
        return self.serving and bool(self._ready)

    def take_started(self, read: bool = True) -> dict[str, int]:
        """The rings it started serving since the last call, each with its first call
        (never blocks; `RuntimeError` if the pipe broke; without `read`, only what was read
        already)."""
        if read:
            self._read()
        started, self._started = self._started, {}
        return started

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL it (stopped or not) and reap it."""
        if self.process.is_alive():
            self.process.kill()
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
    """For the session log: a host started serving `ring` at `call` with a fresh instance,
    or the calls of `ring` in `bypassed` were decided bypassed. For the players only: the
    group's host `died` (`why` it died and what follows). `life`: how many modules were
    made under the module's id before it (set by `HostedModules`, for the session log)."""

    kind: str
    call: int = -1
    bypassed: tuple[int, ...] = ()
    pid: int = 0
    why: str = ""
    ring: str = ""
    life: int = 0


@dataclass(slots=True)
class _Member:
    """A ring the group's host serves, with its type."""

    ring: HostRing
    source: TypeSource
    log_at: int = 0
    error: str = ""
    """Why the host could not take it (its module stays bypassed; the others play)."""
    retired: bool = False
    """Its ring's name went to another ring (`retire`): served by the running host only."""


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
    delays: list[float | None] = field(default_factory=list)
    """Each death's delay before the respawn, by the ladder (None: suspended)."""


class HostKeeper:
    """A group's host, serving the group's rings: started from a warm spare, watched,
    respawned, reported. Made with its first ring; `add` and `remove` change the group while
    its host serves (the spare is told too)."""

    def __init__(
        self,
        ring: HostRing,
        source: TypeSource,
        rate: int,
        policy: RespawnPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        blank: Callable[[], WarmHost] = WarmHost,
        key: str = "",
        keep_spare: bool = True,
    ) -> None:
        self.rate = rate
        self.policy = policy or RespawnPolicy()
        self.clock = clock
        self.blank = blank
        """Where a new host comes from: a process with its imports done, waiting for rings."""
        self.keep_spare = keep_spare
        """Whether a spare is made ready for the host's successor as soon as it serves
        (a process held for each group); if not, the successor comes from `blank` when it is
        needed (which then should give one with the group's types resolved ahead)."""
        self.members: dict[str, _Member] = {key or ring.name: _Member(ring, source)}
        """By key: the ring's name, unless it was given another (`add`)."""
        self._life = _Life()
        self._spare: WarmHost | None = None
        self._launching: WarmHost | None = None
        """The host told to serve, until it is seen serving."""
        self._events: list[HostEvent] = []

    @property
    def ring(self) -> HostRing:
        """The group's first ring (a keeper of one module: its ring)."""
        return next(iter(self.members.values())).ring

    def add(self, ring: HostRing, source: TypeSource, key: str = "") -> None:
        """Serve one more ring, known by `key` (its name if not given: a ring made under
        the name of one still served needs another): the host takes it at once (meanwhile,
        and if it cannot, the slots bypass its module), the spare gets it ready."""
        key = key or ring.name
        self.members[key] = _Member(ring, source)
        for host in (self._life.host, self._launching, self._spare):
            if host is not None:
                host.prepare(key, source, self.rate, ring.name)

    def retire(self, key: str) -> None:
        """Ring `key`'s name goes to a new ring: the running host serves it on (through the
        mapping it has) until `remove`, but no later host takes it (it would find the new
        ring by the name), so its module is bypassed if the host dies."""
        member = self.members.get(key)
        if member is not None and not member.retired:
            member.retired = True
            for host in (self._launching, self._spare):  # it may not have attached it yet
                if host is not None:
                    host.detach(key)

    def remove(self, name: str) -> tuple[int, ...]:
        """Stop serving ring `name` (the others play on); its calls bypassed and not yet
        handed on by `take_events`."""
        member = self.members.pop(name, None)
        if member is None:
            return ()
        for host in (self._life.host, self._launching, self._spare):
            if host is not None:
                host.detach(name)
        calls, _ = member.ring.bypass_log(member.log_at)
        return tuple(calls)

    def start(self, wait: bool = True) -> None:
        """Start the first host (and, with `keep_spare`, a spare ready for its successor).
        Without `wait`, it is only told to serve as soon as it is ready: `poll` sees it serve
        (meanwhile the slots bypass the modules), so that a supervisor's loop never waits for
        a host. With `wait`, `RuntimeError` if it failed (a death, on the ladder)."""
        self._launch()
        while wait and self._launching is not None:
            self._collect()
            if self._launching is not None:
                self._launching.conn.poll(0.005)
        if wait and self._life.state != "running":
            raise RuntimeError(self._life.deaths[-1])

    def _ready_spare(self) -> WarmHost:
        spare = self.blank()
        for key, member in self.members.items():
            if not member.retired:
                spare.prepare(key, member.source, self.rate, member.ring.name)
        return spare

    def _launch(self) -> None:
        """Tell the spare to serve (never waits): `_collect` sees it serving."""
        spare, self._spare = self._spare or self._ready_spare(), None
        spare.go()
        self._launching = spare

    def _collect(self) -> None:
        """See whether the host told to serve serves yet (never waits): its failure is a
        death; its start is reported, and a spare made for its successor."""
        life, spare = self._life, self._launching
        assert spare is not None
        try:
            firsts = spare.served()
        except RuntimeError as exc:
            if not spare.served_a_ring:
                self._launching = None
                spare.process.join(0.5)  # its pipe closed as it died: a signal says how
                code = spare.process.exitcode or 0  # (SIGKILL: ours, after what `exc` tells)
                died = code < 0 and -code != signal.SIGKILL
                self._died(f"died of signal {-code}" if died else str(exc), self.clock())
                return
            # It served, then died before this look (CI, a plugin that crashes at its first
            # call): a start, as it was; `poll` finds the serving host dead and tells how.
            firsts = spare.take_started(read=False)
        if firsts is None:
            return
        self._launching = None
        life.spawn_ms = 1000 * max(0.0, spare.served_at - spare.went_at)
        if self.keep_spare:
            self._spare = self._ready_spare()
        life.host, life.started, life.state = spare, self.clock(), "running"
        life.start_times.append(life.started)
        for name, member in self.members.items():
            member.error = spare.failed.get(name, "")
        self._serving(spare.pid, firsts)

    def _serving(self, pid: int, firsts: dict[str, int]) -> None:
        for name, call in firsts.items():
            if name in self.members:
                self.members[name].error = ""
                self._events.append(HostEvent("host", call=call, pid=pid, ring=name))

    def poll(self) -> None:
        """Look at the host once (call it every 10–100 ms; it never waits for a host): a
        death is handled, a host told to serve is seen serving, a respawn that is due is
        started (its spare told to serve as soon as it is ready), rings added are reported
        served."""
        life = self._life
        now = self.clock()
        if life.state == "running" and life.host is not None:
            host = life.host
            why = self._dead(host)
            if not why:
                try:
                    self._serving(host.pid, host.take_started())
                except RuntimeError as exc:
                    host.process.join(0.5)  # its pipe closed as it died: its exit says how
                    why = self._dead(host) or str(exc)
                for name, failed in host.failed.items():
                    if name in self.members:
                        self.members[name].error = failed
            if why:
                self._died(why, now)
        if self._launching is not None:
            self._collect()
        elif life.state == "respawning" and now >= life.respawn_at:
            life.restarts += 1
            self._launch()
            self._collect()

    def _dead(self, host: WarmHost) -> str:
        if not host.alive():
            code = host.process.exitcode
            return f"died of signal {-code}" if code is not None and code < 0 else f"exit {code}"
        if not self.members:
            return ""
        beat = max(int(member.ring.header[H.HEARTBEAT_NS]) for member in self.members.values())
        age = (time.monotonic_ns() - beat) / 1e9
        if age > DEAD_AFTER_S:
            return f"no heartbeat for {age:.1f} s"
        return ""

    def _died(self, why: str, now: float) -> None:
        life = self._life
        for member in self.members.values():
            member.ring.header[H.HOST_PID] = 0  # the slots stop waiting for it at once
        if life.host is not None:
            life.host.kill()
            life.host = None
        served = 0.0 if life.started is None else now - life.started
        life.started = None
        decision: RespawnDecision = self.policy.on_death(now, served)
        life.deaths.append(why)
        life.death_times.append(now)
        life.decision = decision.describe()
        life.delays.append(None if decision.suspended else decision.delay_s)
        if decision.suspended:
            life.state = "suspended"
        else:
            life.state, life.respawn_at = "respawning", now + decision.delay_s
        self._events.append(HostEvent("died", why=f"{why}; {life.decision}"))

    def take_events(self) -> list[HostEvent]:
        """What happened since the last call: host starts and bypasses, by ring (for the
        session log), and deaths (for the players)."""
        events, self._events = self._events, []
        for name, member in self.members.items():
            calls, member.log_at = member.ring.bypass_log(member.log_at)
            if calls:
                events.append(HostEvent("bypass", bypassed=tuple(calls), ring=name))
        return events

    def health(self, name: str = "") -> dict[str, Any]:
        """The hosting mode, the host's pid, state and restarts, and ring `name`'s counters
        (the first ring's if not given). A ring the host could not take is `failed`."""
        life = self._life
        member = self.members.get(name) or next(iter(self.members.values()))
        header = member.ring.header
        state = "failed" if member.error and life.state == "running" else life.state
        return {
            "hosting": "isolated",
            "host_pid": 0 if life.host is None else life.host.pid,
            "host_state": state,
            "restarts": life.restarts,
            "deaths": list(life.deaths),
            "decision": life.decision,
            "spawn_ms": round(life.spawn_ms, 1),
            "respawns": self._respawns(),
            "first_call": int(header[H.FIRST_CALL]),
            "generations": int(header[H.GENERATIONS]),
            "bypasses": int(header[H.BYPASSES]),
            "different": int(header[H.DIFFERENT]),
            "lost": int(header[H.LOST]),
            "host_errors": int(header[H.HOST_ERRORS]),
            "slot_waits": {
                "host": int(header[H.HOST_WAITS]),
                "peer": int(header[H.PEER_WAITS]),
                "ms": round(int(header[H.WAITED_NS]) / 1e6, 1),
                "longest_us": round(int(header[H.LONGEST_WAIT_NS]) / 1e3, 1),
                "unwaited": int(header[H.UNWAITED]),
            },
            "latency_blocks": 1,
            "error": member.error,
        }

    def _respawns(self) -> list[dict[str, Any]]:
        """Each death's respawn: why, the ladder's delay, and how long after the death the
        next host served (None if none did before the next death)."""
        life = self._life
        ends = [*life.death_times[1:], float("inf")][: len(life.death_times)]
        return [
            {
                "why": why,
                "delay_s": delay,
                "serving_after_s": next(
                    (round(t - died, 3) for t in life.start_times if died <= t < end), None
                ),
            }
            for why, delay, died, end in zip(
                life.deaths, life.delays, life.death_times, ends, strict=True
            )
        ]

    def history(self) -> list[tuple[float, str]]:
        """Every start and death so far, on the keeper's clock, in order: (time, "start")
        or (time, why it died)."""
        life = self._life
        events = [(at, "start") for at in life.start_times]
        events += list(zip(life.death_times, life.deaths, strict=True))
        return sorted(events)

    @property
    def launching(self) -> bool:
        """Whether a host was told to serve and has not been seen serving yet."""
        return self._launching is not None

    @property
    def host(self) -> WarmHost | None:
        """The host serving now, if any."""
        return self._life.host

    def close(self) -> None:
        """Stop the host and the spare."""
        for host in (self._life.host, self._launching, self._spare):
            if host is not None:
                host.stop()
        self._life.host, self._launching, self._spare = None, None, None
        for member in self.members.values():
            member.ring.header[H.HOST_PID] = 0
