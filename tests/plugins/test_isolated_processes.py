"""Isolated hosting with real processes: a host kept by a `HostKeeper`, two slot processes
playing a user module (fold) through its ring in real time, the standby a block behind.

The host is killed (SIGKILL) and stopped (SIGSTOP); a slot is killed. Each time the slots
play on, both play the same samples, and the offline replay of the bypass log renders them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.engine.backoff import RespawnPolicy
from chronus.engine.host_keeper import HostEvent, HostKeeper
from chronus.plugins.host_ring import H, HostRing, RingShape, SlotLink
from chronus.plugins.isolated import ReplayLink, isolated_type
from chronus.plugins.source import import_plugin, version_of
from chronus.plugins.type_source import TypeSource

RATE, FRAMES = 48000, 128
PERIOD = FRAMES / RATE
FOLD = Path(__file__).resolve().parents[2] / "examples" / "modules" / "fold.py"
VERSION = version_of(FOLD.read_bytes())

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")


def _signal(blocks: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(7)
    return 0.5 * rng.standard_normal((blocks * FRAMES, 2))


def _slot(ring_name: str, blocks: int, go: Any, lag: int, out_path: str) -> None:
    """A fake slot: warm up, wait for the others, then play the stand-in over the test
    signal, block `b` at the start + (b + lag) periods (on the monotonic clock every process
    shares), and save what it played."""
    fold = import_plugin(FOLD, "fold", VERSION)
    stand_in = isolated_type(fold)
    signal_ = _signal(blocks)
    played = np.zeros_like(signal_)
    inp, out = np.zeros((FRAMES, 2)), np.zeros((FRAMES, 2))
    warm = stand_in(RATE, FRAMES)  # the stand-in's and the ring's kernels load now
    warm.attach(ReplayLink(fold, RATE, FRAMES, set()))
    warm.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
    ring = HostRing.attach(ring_name)
    module = stand_in(RATE, FRAMES)
    module.attach(SlotLink(ring))
    go.wait()
    start = go.start.value
    for block in range(blocks):
        delay = start + (block + lag) * PERIOD - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        at = block * FRAMES
        inp[:] = signal_[at : at + FRAMES]
        module.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
        played[at : at + FRAMES] = out
        if block % 50 == 0:
            np.save(out_path, played[:at])  # what it played so far, if it is killed
    np.save(out_path, played)


def _replay(blocks: int, bypassed: set[int], fresh: frozenset[int]) -> npt.NDArray[np.float64]:
    fold = import_plugin(FOLD, "fold", VERSION)
    module = isolated_type(fold)(RATE, FRAMES)
    module.attach(ReplayLink(fold, RATE, FRAMES, bypassed, fresh))
    signal_ = _signal(blocks)
    rendered = np.zeros_like(signal_)
    inp, out = np.zeros((FRAMES, 2)), np.zeros((FRAMES, 2))
    for block in range(blocks):
        at = block * FRAMES
        inp[:] = signal_[at : at + FRAMES]
        module.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
        rendered[at : at + FRAMES] = out
    return rendered


class _Go:
    """The start: both slots warm, then one time on the monotonic clock for all."""

    def __init__(self, context: Any) -> None:
        self.barrier = context.Barrier(3)
        self.start = context.Value("d", 0.0)

    def wait(self) -> None:
        self.barrier.wait(timeout=120)
        self.barrier.wait(timeout=10)  # the start is set between the two

    def start_soon(self) -> float:
        self.barrier.wait(timeout=120)
        self.start.value = time.monotonic() + 0.2
        self.barrier.wait(timeout=10)
        return float(self.start.value)


class _Rig:
    """A ring, its keeper, and the slot processes."""

    def __init__(self, tmp: Path, policy: RespawnPolicy) -> None:
        fold = import_plugin(FOLD, "fold", VERSION)
        name = f"chr_test_host_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        self.ring = HostRing.create(name, RingShape(FRAMES, len(fold.PARAMS)))
        source = TypeSource("user", "fold", str(FOLD), VERSION)
        self.keeper = HostKeeper(self.ring, source, RATE, policy)
        self.tmp = tmp
        self.events: list[HostEvent] = []

    def play(self, blocks: int, faults: dict[float, object]) -> list[multiprocessing.Process]:
        """Start both slots, then keep the host (polling as a supervisor would) and apply the
        faults (time after the start → a callable) until both slots are done."""
        context = multiprocessing.get_context("spawn")
        go = _Go(context)
        slots = [
            context.Process(
                target=_slot,
                args=(self.ring.name, blocks, go, lag, str(self.tmp / f"slot{lag}.npy")),
                daemon=True,
            )
            for lag in (0, 1)
        ]
        for slot in slots:
            slot.start()
        start = go.start_soon()
        pending = sorted(faults.items(), key=lambda item: item[0])
        while any(slot.is_alive() for slot in slots):
            if pending and time.monotonic() >= start + pending[0][0]:
                fault = pending.pop(0)[1]
                assert callable(fault)
                fault(slots)
            self.keeper.poll()
            self.events.extend(self.keeper.take_events())
            time.sleep(0.05)
        self.events.extend(self.keeper.take_events())
        return slots

    def played(self, lag: int) -> npt.NDArray[np.float64]:
        return np.load(self.tmp / f"slot{lag}.npy")  # type: ignore[no-any-return]

    def bypassed(self) -> set[int]:
        return {call for event in self.events for call in event.bypassed}

    def fresh(self) -> frozenset[int]:
        """The calls hosts started at."""
        return frozenset(event.call for event in self.events if event.kind == "host")

    def replay(self, blocks: int) -> npt.NDArray[np.float64]:
        return _replay(blocks, self.bypassed(), self.fresh())

    def close(self) -> None:
        self.keeper.close()
        self.ring.unlink()
        self.ring.close()


@pytest.fixture
def rig(tmp_path: Path) -> object:
    rig = _Rig(tmp_path, RespawnPolicy(steps=(0.0, 0.5, 1.0)))
    rig.keeper.start()
    time.sleep(1.0)  # the spare gets ready meanwhile
    yield rig
    rig.close()


def test_the_host_killed_and_stopped_the_slots_play_on_alike_and_the_log_replays(
    rig: _Rig,
) -> None:
    blocks = int(6.0 / PERIOD)

    def kill(_: object) -> None:
        host = rig.keeper.host
        assert host is not None
        os.kill(host.pid, signal.SIGKILL)

    def stop(_: object) -> None:
        host = rig.keeper.host
        assert host is not None
        os.kill(host.pid, signal.SIGSTOP)

    rig.play(blocks, {1.0: kill, 2.5: stop})
    a, b = rig.played(0), rig.played(1)
    assert a.shape == b.shape == (blocks * FRAMES, 2)
    assert np.array_equal(a, b)
    bypassed = rig.bypassed()
    starts = [event.call for event in rig.events if event.kind == "host"]
    assert len(starts) == 3, rig.keeper.health()  # the first host, then one after each fault
    assert starts[0] < starts[1] < starts[2] < blocks
    # while no host served, every call was bypassed: the signal passes, a block late
    for call in range(starts[1] - 5, starts[1]):
        assert call in bypassed
    first = starts[1] * FRAMES  # the output of call c plays a block later, from (c + 1) × FRAMES
    assert np.array_equal(a[first : first + FRAMES], _signal(blocks)[first - FRAMES : first])
    assert len(bypassed) < blocks // 2  # the hosts did render most of it
    assert np.array_equal(rig.replay(blocks), a)
    health = rig.keeper.health()
    assert health["hosting"] == "isolated"
    assert health["restarts"] == 2
    assert health["deaths"][0] == "died of signal 9"
    assert health["deaths"][1].startswith("no heartbeat")
    assert health["different"] == 0
    assert rig.ring.header[H.DIFFERENT] == 0


def test_a_slot_killed_mid_run_does_not_stall_the_other(rig: _Rig) -> None:
    blocks = int(3.0 / PERIOD)

    def kill_active(slots: list[multiprocessing.Process]) -> None:
        assert slots[0].pid is not None
        os.kill(slots[0].pid, signal.SIGKILL)

    slots = rig.play(blocks, {1.0: kill_active})
    assert slots[0].exitcode == -signal.SIGKILL
    b = rig.played(1)
    assert b.shape == (blocks * FRAMES, 2)
    assert np.array_equal(rig.replay(blocks), b)
    a = rig.played(0)  # what the killed slot played before it died
    assert len(a) > 0 and np.array_equal(a, b[: len(a)])
    assert rig.keeper.health()["restarts"] == 0
