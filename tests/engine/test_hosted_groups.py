"""`HostedModules` groups isolated modules into hosts: every module of a maker's types in one
host, any other module in a host of its own; a group's death told once, naming its modules,
plugins and maker; a module removed from a group detached, the group's host stopped with its
last module. (Fake keepers: the host processes are `test_host_groups.py`'s.)"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from chronus.engine import hosted as hosted_module
from chronus.engine.host_keeper import HostEvent
from chronus.engine.hosted import HostedModules
from chronus.plugins.host_ring import HostRing
from chronus.plugins.type_source import TypeSource


class _Keeper:
    """Records what `HostedModules` asks of a group's keeper."""

    made: ClassVar[list[_Keeper]] = []

    launching = False

    def __init__(
        self,
        ring: HostRing,
        source: TypeSource,
        rate: int,
        key: str = "",
        blank: Callable[[], object] = lambda: None,
        **_: object,
    ) -> None:
        self.blank = blank
        self.members: dict[str, HostRing] = {key or ring.name: ring}
        self.retired: list[str] = []
        self.started = False
        self.closed = False
        self.events: list[HostEvent] = []
        _Keeper.made.append(self)

    def start(self, wait: bool = True) -> None:
        self.started = True

    def add(self, ring: HostRing, source: TypeSource, key: str = "") -> None:
        self.members[key or ring.name] = ring

    def retire(self, key: str) -> None:
        self.retired.append(key)

    def remove(self, name: str) -> tuple[int, ...]:
        del self.members[name]
        return (7,)

    def poll(self) -> None:
        pass

    def take_events(self) -> list[HostEvent]:
        events, self.events = self.events, []
        return events

    def health(self, name: str = "") -> dict[str, Any]:
        return {"host_pid": 42, "host_state": "running", "ring": name}

    def close(self) -> None:
        self.closed = True


class _Blank:
    made: ClassVar[list[_Blank]] = []

    def __init__(self, fork: object = None) -> None:
        self.types: list[str] = []
        self.killed = False
        _Blank.made.append(self)

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True

    def resolve(self, source: TypeSource, rate: int, frames: int) -> None:
        self.types.append(source.name)


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostedModules]:
    _Keeper.made, _Blank.made = [], []
    monkeypatch.setattr(hosted_module, "HostKeeper", _Keeper)
    monkeypatch.setattr(hosted_module, "WarmHost", _Blank)
    made = HostedModules(f"chr_test_hg{os.getpid()}", 48000, 128)
    made.host("tap_reverb", TypeSource("ladspa", "tap_reverb"), 5, "tom_szilagyi", "Tom Szilagyi")
    made.host("tap_echo", TypeSource("ladspa", "tap_echo"), 9, "tom_szilagyi", "Tom Szilagyi")
    made.host("plate", TypeSource("ladspa", "plate"), 4, "steve_harris", "Steve Harris")
    made.host("gain", TypeSource("user", "gain"), 2)
    yield made
    made.close()


def _ring(hosted: HostedModules, module_id: str) -> str:
    return str(hosted.health()[module_id]["ring"])


def test_a_makers_modules_share_one_host_and_any_other_module_has_its_own(
    hosted: HostedModules,
) -> None:
    for module_id, type_name in (("r1", "tap_reverb"), ("e1", "tap_echo"), ("r2", "tap_reverb"),
                                 ("p1", "plate"), ("g1", "gain"), ("g2", "gain")):  # fmt: skip
        hosted.created(module_id, type_name)
    tom, steve, g1, g2 = _Keeper.made
    assert all(keeper.started for keeper in _Keeper.made)
    assert set(tom.members) == {_ring(hosted, m) for m in ("r1", "e1", "r2")}
    assert set(steve.members) == {_ring(hosted, "p1")}
    assert set(g1.members) == {_ring(hosted, "g1")} and set(g2.members) == {_ring(hosted, "g2")}
    health = hosted.health("tap_echo")
    assert list(health) == ["e1"]
    assert health["e1"]["plugin"] == "tap_echo" and health["e1"]["maker"] == "Tom Szilagyi"
    assert health["e1"]["host_group"] == "tom_szilagyi"
    assert health["e1"]["group_modules"] == ["r1", "e1", "r2"]
    assert health["e1"]["host_pid"] == 42
    assert hosted.health("gain")["g2"]["host_group"] == "g2"
    assert hosted.type_info("tap_echo") == {"maker": "Tom Szilagyi", "host_group": "tom_szilagyi"}
    assert hosted.type_info("gain") == {}
    assert hosted.keeper("r2") is tom and hosted.keeper("g1") is g1


def test_a_groups_events_are_told_by_module_and_its_death_once(hosted: HostedModules) -> None:
    hosted.created("r1", "tap_reverb")
    hosted.created("e1", "tap_echo")
    hosted.created("g1", "gain")
    tom, gain = _Keeper.made
    tom.events = [
        HostEvent("host", call=3, pid=42, ring=_ring(hosted, "e1")),
        HostEvent("died", why="died of signal 9; respawning now"),
    ]
    gain.events = [HostEvent("died", why="died of signal 11; respawning now")]
    events = hosted.tick(flush=True)
    assert events[0] == ("e1", HostEvent("host", call=3, pid=42, ring=_ring(hosted, "e1")))
    deaths = [(subject, event.why) for subject, event in events if event.kind == "died"]
    assert deaths == [
        ("r1, e1", "their plugin host died of signal 9; respawning now — tap_echo, tap_reverb, "
                   "maker Tom Szilagyi, host group tom_szilagyi"),
        ("g1", "its plugin host died of signal 11; respawning now"),
    ]  # fmt: skip


def test_a_module_removed_is_detached_and_the_last_one_stops_the_host(
    hosted: HostedModules, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosted.created("r1", "tap_reverb")
    hosted.created("e1", "tap_echo")
    [tom] = _Keeper.made
    ring = _ring(hosted, "r1")
    monkeypatch.setattr(hosted_module, "CLOSE_AFTER_S", 0.0)  # due at the next tick
    hosted.removed("r1")
    assert ring in tom.members, "served until the slots have faded it out"
    assert hosted.health("tap_echo")["e1"]["group_modules"] == ["e1"]
    assert ("r1", HostEvent("bypass", bypassed=(7,))) in hosted.tick()
    assert list(tom.members) == [_ring(hosted, "e1")] and not tom.closed
    hosted.removed("e1")
    hosted.tick()
    assert tom.members == {}
    deadline = time.perf_counter() + 5.0
    while not tom.closed and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert tom.closed, "the group's host stops with its last module"
    assert hosted.health() == {}
    hosted.created("r3", "tap_reverb")
    assert len(_Keeper.made) == 2, "a new group, a new host"


def _exists(name: str) -> bool:
    try:
        HostRing.attach(name).close()
    except (OSError, ValueError):
        return False
    return True


def test_a_module_made_again_in_its_group_leaves_the_old_one_served_and_the_host_on(
    hosted: HostedModules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed then made again under its id while it fades: the old ring stays in the
    group's host (retired: no later host takes it) under its name, the new one joins under
    the name and its life; the old one's close detaches it alone and leaves the new ring's
    name, and the group's host plays on."""
    monkeypatch.setattr(hosted_module, "CLOSE_AFTER_S", 0.0)  # due at the next tick
    hosted.created("r1", "tap_reverb")
    hosted.created("e1", "tap_echo")
    [tom] = _Keeper.made
    name = _ring(hosted, "r1")
    hosted.removed("r1")
    hosted.created("r1", "tap_reverb")
    again = _ring(hosted, "r1")
    assert len(_Keeper.made) == 1, "the same group's host"
    assert again.startswith(f"{name}#") and set(tom.members) == {name, again, _ring(hosted, "e1")}
    assert tom.retired == [name]
    assert hosted.life("r1") == 1 and hosted.health("tap_reverb")["r1"]["ring"] == again
    assert hosted.health("tap_echo")["e1"]["group_modules"] == ["e1", "r1"]
    tom.events = [HostEvent("host", call=9, pid=42, ring=again)]
    events = hosted.tick()
    assert ("r1", HostEvent("host", call=9, pid=42, ring=again, life=1)) in events
    assert ("r1", HostEvent("bypass", bypassed=(7,))) in events, "the old one's, life 0"
    assert set(tom.members) == {again, _ring(hosted, "e1")} and not tom.closed
    assert _exists(name), "the new ring's name is not unlinked by the old one's close"
    hosted.removed("r1")
    hosted.tick()
    assert not _exists(name)


def test_a_commit_making_a_module_again_keeps_the_old_one_until_it_switches_or_fails(
    hosted: HostedModules, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hosted_module, "CLOSE_AFTER_S", 0.0)
    hosted.created("r1", "tap_reverb")
    [tom] = _Keeper.made
    name = _ring(hosted, "r1")
    hosted.created("r1", "tap_reverb")  # a commit staged: remove r1, create r1
    cancelled = _ring(hosted, "r1")
    hosted.tick()
    assert set(tom.members) == {name, cancelled}, "the old one plays until the switch"
    hosted.cancelled("r1")
    hosted.tick()
    assert set(tom.members) == {name} and hosted.life("r1") == 0
    assert hosted.health()["r1"]["ring"] == name
    hosted.created("r1", "tap_reverb")  # staged again: the same life, another ring
    again = _ring(hosted, "r1")
    hosted.tick()
    assert set(tom.members) == {name, again} and hosted.life("r1") == 1 and again != cancelled
    hosted.committed(0.0)
    hosted.tick()
    assert set(tom.members) == {again} and _exists(name)


def test_a_groups_first_host_is_the_spare_given_its_types_ahead(hosted: HostedModules) -> None:
    """A spare per maker (given every hosted type of it) and per other hosted type, made as
    the types are hosted; a group's keeper takes its key's, and a tick gives the key a new
    one; a type no longer hosted is taken from its spare (the key's others given again)."""
    typed = {tuple(blank.types): blank for blank in _Blank.made if blank.types}
    assert set(typed) == {("tap_reverb", "tap_echo"), ("plate",), ("gain",)}
    hosted.created("r1", "tap_reverb")
    [tom] = _Keeper.made
    assert tom.blank() is typed["tap_reverb", "tap_echo"]
    hosted.tick()
    again = [b for b in _Blank.made if b.types == ["tap_reverb", "tap_echo"] and not b.killed]
    assert len(again) == 2, "the taken one and its replacement"
    hosted.unhost("tap_echo")
    assert again[1].killed
    assert [b.types for b in _Blank.made if not b.killed].count(["tap_reverb"]) == 1
