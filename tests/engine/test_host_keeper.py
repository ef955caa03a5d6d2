"""`HostKeeper` with real host processes: a start that does not block, and the backoff
ladder down to Suspended for a module whose host can never start."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.engine import host_keeper
from chronus.engine.backoff import RespawnPolicy
from chronus.engine.host_keeper import HostKeeper
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
    ring: HostRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blank host is started ahead of need and may wait longer than the warm-up limit
    before a module is made: the limit counts from when it is given its ring (it was taken
    for a host that failed to warm up, a death on the ladder, when no plugin code had run)."""
    monkeypatch.setattr(host_keeper, "START_TIMEOUT_S", 8.0)
    blank = host_keeper.WarmHost()
    time.sleep(9.0)
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
