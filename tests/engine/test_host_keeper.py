"""`HostKeeper` with real host processes: a start that does not block, and the backoff
ladder down to Suspended for a module whose host can never start; with a stand-in host
(a thread at the other end of a real pipe), a poll that never waits for a host to serve."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace

import pytest

from chronus.engine import host_keeper
from chronus.engine.backoff import RespawnPolicy
from chronus.engine.host_keeper import HostKeeper, WarmHost
from chronus.plugins.host_ring import H, HostRing, RingShape
from chronus.plugins.source import version_of
from chronus.plugins.type_source import TypeSource

FOLD = Path(__file__).resolve().parents[2] / "examples" / "modules" / "fold.py"


@pytest.fixture
def ring() -> Iterator[HostRing]:
    ring = HostRing.create(f"chr_test_keeper_{os.getpid()}", RingShape(128, 7))
    yield ring
    ring.unlink()
    ring.close()


def _poll_until(keeper: HostKeeper, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while keeper.health()["host_state"] != state and time.monotonic() < deadline:
        keeper.poll()
        time.sleep(0.02)
    assert keeper.health()["host_state"] == state, keeper.health()


def test_a_start_without_waiting_serves_once_the_spare_is_warm(ring: HostRing) -> None:
    source = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
    keeper = HostKeeper(ring, source, 48000)
    try:
        keeper.start(wait=False)
        assert keeper.host is None
        assert keeper.health()["host_state"] == "starting"
        assert ring.header[H.HOST_PID] == 0  # the slots bypass meanwhile
        _poll_until(keeper, "running", 60.0)
        host = keeper.host
        assert host is not None
        assert ring.header[H.HOST_PID] == host.pid
        assert keeper.health()["restarts"] == 0
    finally:
        keeper.close()


def test_a_host_that_cannot_start_follows_the_ladder_to_suspended(ring: HostRing) -> None:
    steps = (0.0, 0.3, 0.6)
    keeper = HostKeeper(ring, TypeSource("builtin", "no_such_type"), 48000, RespawnPolicy(steps))
    try:
        keeper.start(wait=False)
        _poll_until(keeper, "suspended", 120.0)
        history = keeper.history()
        assert [why for _, why in history if why == "start"] == []
        deaths = [at for at, why in history]
        assert len(deaths) == len(steps) + 1
        assert all("no_such_type" in why for _, why in history)
        for before, after, step in zip(deaths, deaths[1:], steps, strict=False):
            assert after - before >= step  # each attempt waited its step (and a warm-up)
        health = keeper.health()
        assert health["decision"].startswith("suspended: crash loop")
        assert health["host_pid"] == 0
        assert [r["delay_s"] for r in health["respawns"]] == [*steps, None]
        assert all(r["serving_after_s"] is None for r in health["respawns"])  # none served
    finally:
        keeper.close()


def test_a_blank_host_that_waited_long_is_timed_from_its_ring_not_its_start(
    ring: HostRing,
) -> None:
    """A blank host is started ahead of need and may wait longer than the warm-up limit
    before a module is made: the limit counts from when it is given its ring (it was taken
    for a host that failed to warm up, a death on the ladder, when no plugin code had run)."""
    blank = host_keeper.WarmHost()
    # As if it had waited past the limit: its clocks say so, no need to wait it out.
    blank.born = blank.asked_at = time.monotonic() - host_keeper.START_TIMEOUT_S - 1.0
    assert blank.alive()
    source = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
    keeper = HostKeeper(ring, source, 48000, blank=lambda: blank)
    try:
        keeper.start(wait=False)
        _poll_until(keeper, "running", 60.0)
        health = keeper.health()
        assert health["deaths"] == [] and health["restarts"] == 0, health
        assert keeper.host is blank
    finally:
        keeper.close()


class _SlowHost(WarmHost):
    """A host that serves only once `release` is set, played by a thread (no process to
    start): it answers `ready` to each ring at once, and writes the ring's heartbeat and
    answers `serving` to `go` once released, or by itself after 3 s, so that a keeper that
    waits for it is not stuck (`unreleased` says that it had to)."""

    def __init__(self, ring: HostRing, release: threading.Event) -> None:
        self.conn, far = Pipe()
        self.process = SimpleNamespace(pid=os.getpid(), exitcode=None, is_alive=lambda: True)  # type: ignore[assignment]
        self.born = self.asked_at = time.monotonic()
        self._asked, self._ready = set(), set()
        self.failed, self._started = {}, {}
        self.serving = False
        self.went_at = self.served_at = 0.0
        self.unreleased = False
        threading.Thread(target=self._play, args=(far, ring, release), daemon=True).start()

    def _play(self, conn: Connection, ring: HostRing, release: threading.Event) -> None:
        rings: list[str] = []
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            if task == "go":
                self.unreleased = not release.wait(3.0)
                ring.header[H.HEARTBEAT_NS] = time.monotonic_ns()
                conn.send(("serving", os.getpid(), dict.fromkeys(rings, 7), time.monotonic()))
            elif task[0] == "attach":
                rings.append(task[1])
                conn.send(("ready", task[1]))

    def kill(self) -> None:
        """Nothing to kill: the thread ends with its pipe."""

    def stop(self) -> None:
        self.conn.close()


def test_a_poll_never_waits_for_a_host_to_serve(ring: HostRing) -> None:
    release = threading.Event()
    hosts: list[_SlowHost] = []

    def blank() -> WarmHost:
        hosts.append(_SlowHost(ring, release))
        return hosts[-1]

    keeper = HostKeeper(ring, TypeSource("builtin", "lowpass"), 48000, blank=blank)
    try:
        keeper.start(wait=False)
        for _ in range(10):
            keeper.poll()
            time.sleep(0.01)
        assert not hosts[0].unreleased, "a poll waited for the host to serve"
        assert keeper.health()["host_state"] == "starting" and keeper.launching
        assert keeper.host is None
        release.set()
        _poll_until(keeper, "running", 10.0)
        assert keeper.host is hosts[0] and not keeper.launching
        [event] = keeper.take_events()
        assert (event.kind, event.call, event.ring) == ("host", 7, ring.name)
        assert len(hosts) == 2, "a spare for its successor, once it serves"
    finally:
        keeper.close()


class _ServesThenCrashes(_SlowHost):
    """A host that answers `serving` to `go` and dies at once (a plugin that crashes at its
    first call), its pipe closed and its exit a SIGSEGV, before the keeper looks again."""

    def __init__(self, ring: HostRing) -> None:
        self.dead = threading.Event()
        super().__init__(ring, threading.Event())
        self.process = SimpleNamespace(  # type: ignore[assignment]
            pid=os.getpid(), exitcode=None, is_alive=lambda: not self.dead.is_set()
        )

    def _play(self, conn: Connection, ring: HostRing, release: threading.Event) -> None:
        rings: list[str] = []
        while True:
            try:
                task = conn.recv()
                if task == "go":
                    conn.send(("serving", os.getpid(), dict.fromkeys(rings, 7), time.monotonic()))
                    self.process.exitcode = -11
                    self.dead.set()
                    conn.close()
                    return
                if task[0] == "attach":
                    rings.append(task[1])
                    conn.send(("ready", task[1]))
            except (EOFError, OSError):  # the keeper closed: a spare it no longer needs
                return


def test_a_host_that_served_and_died_before_the_keepers_look_counts_as_started(
    ring: HostRing,
) -> None:
    # CI: a crashing plugin's second respawn served and died between two looks; the keeper
    # told it as "died while it started", and its ladder showed no start.
    hosts: list[_ServesThenCrashes] = []

    def blank() -> WarmHost:
        hosts.append(_ServesThenCrashes(ring))
        return hosts[-1]

    policy = RespawnPolicy((0.0, 30.0))
    keeper = HostKeeper(ring, TypeSource("builtin", "lowpass"), 48000, policy, blank=blank)
    try:
        keeper.start(wait=False)
        for host in (0, 1):  # the first host, then its respawn: each served, then died
            deadline = time.monotonic() + 10.0
            while len(hosts) <= host and time.monotonic() < deadline:
                keeper.poll()
                time.sleep(0.01)
            assert hosts[host].dead.wait(5.0)
            time.sleep(0.05)  # its pipe closed after its answer, before the keeper's look
            for _ in range(3):
                keeper.poll()
        health = keeper.health()
        assert health["deaths"] == ["died of signal 11"] * 2, health
        assert health["respawns"][0]["serving_after_s"] is not None  # the respawn served
        assert [why for _, why in keeper.history()] == ["start", "died of signal 11"] * 2
    finally:
        keeper.close()
