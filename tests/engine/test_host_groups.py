"""One host process serving a group's rings (real host processes, played from this process as
one slot would): both rings served by one pid; a ring detached, and one attached, while
another plays without a bypass; the host SIGKILLed: every ring bypassed, then all served again
by the respawned host, and each ring's outcomes replayed offline equal to what played."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.module import Module
from chronus.engine.backoff import RespawnPolicy
from chronus.engine.host_keeper import HostEvent, HostKeeper, WarmHost
from chronus.plugins.host_ring import H, HostRing, Outcome, RingShape, SlotLink
from chronus.plugins.isolated import ReplayLink
from chronus.plugins.source import version_of
from chronus.plugins.type_source import TypeSource, resolve_type

RATE, FRAMES = 48000, 128
FOLD = Path(__file__).resolve().parents[2] / "examples" / "modules" / "fold.py"
FOLD_SOURCE = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
LOWPASS_SOURCE = TypeSource("builtin", "lowpass")


@dataclass
class _Played:
    """One ring as a slot plays it: every call's input, outcome and output."""

    ring: HostRing
    cls: type[Module]
    link: SlotLink
    seed: int
    calls: list[tuple[int, Outcome, npt.NDArray[np.float64]]] = field(default_factory=list)
    next_call: int = 0
    """Its next call: a ring's calls count from 0, as a new module's do."""

    @property
    def params(self) -> npt.NDArray[np.float64]:
        return np.array([spec.default for spec in self.cls.PARAMS])

    def signal(self, call: int) -> npt.NDArray[np.float64]:
        return 0.5 * np.random.default_rng([self.seed, call]).standard_normal((FRAMES, 2))

    def play(self) -> None:
        self.link.submit(self.next_call, self.signal(self.next_call), self.params, FRAMES)

    def collect(self) -> Outcome:
        call, self.next_call = self.next_call, self.next_call + 1
        fifo = np.zeros((FRAMES, 2))
        outcome = self.link.collect(call, fifo, 0, FRAMES)
        self.calls.append((call, outcome, fifo))
        return outcome

    def replay_equal(self, events: list[HostEvent]) -> bool:
        """Whether an offline replay, given this ring's bypasses and host starts, renders
        every call as it played."""
        mine = [e for e in events if e.ring == self.ring.name]
        bypassed = {call for e in mine for call in e.bypassed}
        fresh = frozenset(e.call for e in mine if e.kind == "host")
        replay = ReplayLink(self.cls, RATE, FRAMES, bypassed, fresh)
        for call, outcome, out in self.calls:
            replay.submit(call, self.signal(call), self.params, FRAMES)
            fifo = np.zeros((FRAMES, 2))
            if replay.collect(call, fifo, 0, FRAMES) != outcome or not np.array_equal(fifo, out):
                return False
        return True


class _Group:
    """A keeper with rings, and the rings played from this process."""

    def __init__(self) -> None:
        self.played: dict[str, _Played] = {}
        self.events: list[HostEvent] = []
        self.keeper: HostKeeper | None = None

    def ring(self, tag: str, source: TypeSource, wait_s: float = 2.0) -> _Played:
        cls = resolve_type(source, RATE)
        name = f"chr_test_group_{os.getpid()}_{tag}"
        ring = HostRing.create(name, RingShape(FRAMES, len(cls.PARAMS)))
        link = SlotLink(ring, wait_s=wait_s)
        played = self.played[tag] = _Played(ring, cls, link, len(self.played))
        if self.keeper is None:
            self.keeper = HostKeeper(ring, source, RATE, RespawnPolicy(steps=(0.0, 0.5, 1.0)))
        else:
            self.keeper.add(ring, source)
        return played

    def poll(self) -> None:
        assert self.keeper is not None
        self.keeper.poll()
        self.events += self.keeper.take_events()

    def play(self, calls: int, *tags: str, poll: bool = True) -> dict[str, list[Outcome]]:
        """Play `calls` calls on each ring of `tags`, the keeper polled as a supervisor would
        (unless not to `poll`)."""
        outcomes: dict[str, list[Outcome]] = {tag: [] for tag in tags}
        for _ in range(calls):
            for tag in tags:
                self.played[tag].play()
            for tag in tags:
                outcomes[tag].append(self.played[tag].collect())
            if poll:
                self.poll()
            time.sleep(FRAMES / RATE)
        return outcomes

    def wait(self, done: Callable[[], object], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if done():
                return
            time.sleep(0.01)
        assert self.keeper is not None
        raise AssertionError(f"not done within {timeout} s: {self.keeper.health()}")

    def started(self, tag: str) -> list[int]:
        name = self.played[tag].ring.name
        return [e.call for e in self.events if e.kind == "host" and e.ring == name]

    def close(self) -> None:
        if self.keeper is not None:
            self.keeper.close()
        for played in self.played.values():
            played.ring.unlink()
            played.ring.close()


@pytest.fixture
def group() -> Iterator[_Group]:
    made = _Group()
    yield made
    made.close()


def _pid(played: _Played) -> int:
    return int(played.ring.header[H.HOST_PID])


def test_one_host_process_serves_two_rings_each_as_offline(group: _Group) -> None:
    fold, low = group.ring("fold", FOLD_SOURCE), group.ring("low", LOWPASS_SOURCE)
    assert group.keeper is not None
    group.keeper.start()
    host = group.keeper.host
    assert host is not None
    assert _pid(fold) == _pid(low) == host.pid
    group.poll()
    assert group.started("fold") == group.started("low") == [0]
    outcomes = group.play(40, "fold", "low")
    assert outcomes == {"fold": [Outcome.DONE] * 40, "low": [Outcome.DONE] * 40}
    assert fold.replay_equal(group.events) and low.replay_equal(group.events)
    assert not np.array_equal(fold.calls[-1][2], low.calls[-1][2])  # two modules, two sounds
    assert group.keeper.health(low.ring.name)["generations"] == 1
    assert Path(f"/proc/{host.pid}/cmdline").read_bytes().rstrip(b"\0") == (
        b"chronus: plugin host fold+lowpass"
    )


def test_a_ring_detached_and_one_attached_while_another_plays_without_a_bypass(
    group: _Group,
) -> None:
    fold, low = group.ring("fold", FOLD_SOURCE), group.ring("low", LOWPASS_SOURCE, wait_s=0.05)
    assert group.keeper is not None
    group.keeper.start()
    host = group.keeper.host
    assert host is not None
    group.play(20, "fold", "low")
    assert group.keeper.remove(low.ring.name) == ()
    assert list(group.keeper.members) == [fold.ring.name]
    played = group.play(30, "fold")["fold"]
    late = group.ring("late", FOLD_SOURCE)
    deadline = time.monotonic() + 60.0
    while not group.started("late") and time.monotonic() < deadline:  # it plays on meanwhile
        played += group.play(1, "fold")["fold"]
    played += group.play(30, "fold", "late")["fold"]
    assert played == [Outcome.DONE] * len(played), "the detach and the attach cost it nothing"
    assert fold.ring.header[H.BYPASSES] == 0 and fold.ring.header[H.GENERATIONS] == 1
    assert fold.replay_equal(group.events)
    assert _pid(late) == host.pid == group.keeper.host.pid  # the same host took it
    assert [outcome for _, outcome, _ in late.calls] == [Outcome.DONE] * 30
    assert late.replay_equal(group.events)
    low.play()  # nobody serves it now: bypassed
    assert low.collect() is Outcome.BYPASS


def test_the_host_killed_bypasses_every_ring_and_the_respawn_restores_them_all(
    group: _Group,
) -> None:
    fold = group.ring("fold", FOLD_SOURCE, wait_s=0.2)
    low = group.ring("low", LOWPASS_SOURCE, wait_s=0.2)
    keeper = group.keeper
    assert keeper is not None
    keeper.start()
    time.sleep(1.0)  # the spare gets ready meanwhile
    group.play(20, "fold", "low")
    first = keeper.host
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    first.process.join(5.0)
    down = group.play(5, "fold", "low", poll=False)  # the keeper has not seen it yet
    assert down == {"fold": [Outcome.BYPASS] * 5, "low": [Outcome.BYPASS] * 5}
    group.wait(lambda: len(group.started("fold")) == len(group.started("low")) == 2)
    second = keeper.host
    assert second is not None and second.pid != first.pid
    assert _pid(fold) == _pid(low) == second.pid
    back = group.play(20, "fold", "low")
    assert back == {"fold": [Outcome.DONE] * 20, "low": [Outcome.DONE] * 20}
    for played in (fold, low):
        health = keeper.health(played.ring.name)
        assert health["restarts"] == 1 and health["deaths"] == ["died of signal 9"]
        assert health["generations"] == 2, "a fresh instance after the respawn"
        assert played.replay_equal(group.events)


def test_a_ring_made_under_a_served_rings_name_is_served_apart_and_only_it_respawned(
    group: _Group,
) -> None:
    """A module made again under its id while the old one plays: the new ring takes the old
    one's name (unlinked) and joins under another key; the host serves both, each as offline;
    the old one retired, a respawned host serves the new one only (it would find the new
    ring by the name), the old one is bypassed."""
    old = group.ring("fold", FOLD_SOURCE, wait_s=0.2)
    keeper = group.keeper
    assert keeper is not None
    keeper.start()
    time.sleep(1.0)  # the spare gets ready meanwhile
    group.play(10, "fold")
    name, key = old.ring.name, f"{old.ring.name}#2"
    old.ring.unlink()
    ring = HostRing.create(name, RingShape(FRAMES, len(old.cls.PARAMS)))
    new = group.played["again"] = _Played(ring, old.cls, SlotLink(ring, wait_s=0.2), 7)
    keeper.add(ring, FOLD_SOURCE, key)
    keeper.retire(name)
    group.wait(lambda: [e.call for e in group.events if e.kind == "host" and e.ring == key])
    both = group.play(20, "fold", "again")
    assert both == {"fold": [Outcome.DONE] * 20, "again": [Outcome.DONE] * 20}
    first = keeper.host
    assert first is not None and _pid(old) == _pid(new) == first.pid
    os.kill(first.pid, signal.SIGKILL)
    first.process.join(5.0)
    group.wait(lambda: len([e for e in group.events if e.kind == "host" and e.ring == key]) == 2)
    after = group.play(10, "fold", "again")
    assert after == {"fold": [Outcome.BYPASS] * 10, "again": [Outcome.DONE] * 10}
    assert keeper.host is not None and _pid(new) == keeper.host.pid != first.pid
    assert old.replay_equal([e for e in group.events if e.ring == name])
    assert new.replay_equal([replace(e, ring=name) for e in group.events if e.ring == key])
    keeper.remove(name)
    group.played.pop("fold").ring.close()  # its name is the new ring's now


def _answer(host: WarmHost, timeout: float = 60.0) -> tuple[object, ...]:
    assert host.conn.poll(timeout), "no answer"
    reply: tuple[object, ...] = host.conn.recv()
    return reply


def test_a_host_given_its_type_ahead_only_attaches_a_ring_of_it(tmp_path: Path) -> None:
    """A typed spare: given the type before any ring (`resolve`), it has it when the ring
    comes, even with the module's file gone by then; a host not given it ahead has to
    import it with the ring, and fails so."""
    copy = tmp_path / "fold.py"
    copy.write_bytes(FOLD.read_bytes())
    source = TypeSource("user", "fold", str(copy), version_of(copy.read_bytes()))
    cls = resolve_type(source, RATE)
    rings = [
        HostRing.create(f"chr_test_typed_{os.getpid()}_{n}", RingShape(FRAMES, len(cls.PARAMS)))
        for n in range(2)
    ]
    typed, blank = WarmHost(), WarmHost()
    try:
        typed.resolve(source, RATE, FRAMES)
        assert _answer(typed) == ("typed", source.to_json())
        copy.unlink()
        typed.prepare(rings[0].name, source, RATE)
        blank.prepare(rings[1].name, source, RATE)
        assert _answer(typed) == ("ready", rings[0].name)
        failed = _answer(blank)
        assert failed[:2] == ("failed", rings[1].name), failed
    finally:
        for host in (typed, blank):
            host.kill()
        for ring in rings:
            ring.unlink()
            ring.close()
