"""The I/O keeper of a supervisor that took a running engine over: the I/O it adopts plays
on; one the dead supervisor was restarting gets the clock its stand-in held; none at all is
restarted, the clock held meanwhile. Fakes for the launcher and the process."""

from __future__ import annotations

import doctest
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

from chronus.engine import io_keeper
from chronus.engine.audio_io import IoConfig
from chronus.engine.io_keeper import IoKeeper
from chronus.engine.launcher import spawn_context
from chronus.engine.rings import AudioRing, SharedCounters, unique_name
from chronus.engine.stats import IoField

BLOCK, RATE = 128, 48000


class _Process:
    pid = 4242
    sentinel = -1
    exitcode = None

    def is_alive(self) -> bool:
        return True


class _Launcher:
    """A launcher whose template is still warming up: nothing can be started yet."""

    def ready(self) -> bool:
        return False


@pytest.fixture
def counters() -> Iterator[SharedCounters]:
    made = SharedCounters.create(unique_name("test-io-adopt"), IoField.SIZE)
    yield made
    made.close()


@pytest.fixture
def keeper(counters: SharedCounters) -> Iterator[IoKeeper]:
    rings = (
        AudioRing.create(unique_name("test-io-adopt-a"), 8, BLOCK, RATE),
        AudioRing.create(unique_name("test-io-adopt-b"), 8, BLOCK, RATE),
    )
    ctx = spawn_context()
    config = IoConfig(("a", "b"), "tap", counters.name, "control", "null", RATE, BLOCK)
    told: list[str] = []
    keeper = IoKeeper(
        cast(Any, _Launcher()), ctx, config, counters, rings,
        (ctx.Semaphore(0), ctx.Semaphore(0)), ctx.Semaphore(0), told.append,
    )  # fmt: skip
    try:
        yield keeper
    finally:
        for ring in rings:
            ring.close()


def test_a_playing_io_is_adopted_running(keeper: IoKeeper) -> None:
    keeper.adopt(cast(Any, _Process()), "null (no device)", "")
    assert (keeper.state, keeper.pid, keeper.stand_in.holding) == ("running", 4242, False)
    assert keeper.status()["process"] == "running"


def test_a_restarting_io_gets_the_clock_the_dead_stand_in_held(
    keeper: IoKeeper, counters: SharedCounters
) -> None:
    v = counters.values
    v[IoField.CLOCK_HELD] = 1  # the dead supervisor's stand-in held it
    v[IoField.LAST_BLOCK_NS] = time.monotonic_ns() - 10 * BLOCK * 1_000_000_000 // RATE
    keeper.adopt(cast(Any, _Process()), "null (no device)", "")
    assert keeper.state == "restarting" and keeper.stand_in.holding
    keeper.tick()
    assert keeper.state == "restarting" and int(v[IoField.BLOCKS_MISSED]) >= 9  # clock moved
    v[IoField.WAITING_CALLBACKS] = 1  # its device calls back: it waits for the clock
    keeper.tick()
    assert keeper.state == "running" and not keeper.stand_in.holding
    v[IoField.RESUMED_NS] = time.monotonic_ns()
    keeper.tick()
    assert keeper.last_restart["blocks_missed"] >= 9


def test_with_no_io_left_the_clock_is_held_until_one_can_start(keeper: IoKeeper) -> None:
    keeper.adopt(None, "null (no device)", "")
    assert keeper.state == "waiting" and keeper.stand_in.holding
    keeper.tick()  # due at once, but the template is not warm yet: the clock moves on
    assert keeper.state == "waiting" and keeper.stand_in.holding


class _ReadyLauncher:
    """A launcher that starts nothing but keeps what it was asked to start."""

    def __init__(self) -> None:
        self.started: list[tuple[Any, ...]] = []

    def ready(self) -> bool:
        return True

    def start(self, target: Any, args: tuple[Any, ...], name: str) -> _Process:
        self.started.append(args)
        return _Process()


@pytest.mark.parametrize(
    ("description", "chosen", "standby"),
    [
        ("device: system (JACK Audio Connection Kit)", "", True),
        ("device: hw:0 (ALSA)", "", False),
        ("device: system (JACK Audio Connection Kit)", "warm", False),
        ("device: hw:0 (ALSA)", "standby", True),
    ],
)
def test_the_spare_io_is_a_standby_on_jack_unless_told(
    counters: SharedCounters,
    monkeypatch: pytest.MonkeyPatch,
    description: str,
    chosen: str,
    standby: bool,
) -> None:
    monkeypatch.setattr(io_keeper, "SPARE", chosen)
    assert io_keeper.spare_kind(description) == ("standby" if standby else "warm")
    ring_a = AudioRing.create(unique_name("test-io-spare-a"), 8, BLOCK, RATE)
    ring_b = AudioRing.create(unique_name("test-io-spare-b"), 8, BLOCK, RATE)
    ctx = spawn_context()
    config = IoConfig(("a", "b"), "tap", counters.name, "control", "device", RATE, BLOCK)
    launcher = _ReadyLauncher()
    keeper = IoKeeper(
        cast(Any, launcher), ctx, config, counters, (ring_a, ring_b),
        (ctx.Semaphore(0), ctx.Semaphore(0)), ctx.Semaphore(0), lambda _: None,
    )  # fmt: skip
    try:
        keeper.adopt(cast(Any, _Process()), description, "")
        keeper._spare_due = 0.0
        keeper.tick()
        [(spare_config, *_)] = launcher.started
        assert spare_config.resume and spare_config.standby == standby
        assert keeper.status()["spare_kind"] == ("standby" if standby else "warm")
    finally:
        ring_a.close()
        ring_b.close()


def test_doctests() -> None:
    result = doctest.testmod(io_keeper)
    assert result.failed == 0 and result.attempted > 0
