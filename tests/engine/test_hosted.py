"""`HostedModules`: each isolated module's ring made before the slots need it, its host
started and polled, bypasses handed on in batches, the ring gone after a removal."""

from __future__ import annotations

import os
import threading
import time
import zlib

import numpy as np
import pytest

from chronus.engine import hosted as hosted_module
from chronus.engine.hosted import HostedModules
from chronus.plugins.host_ring import H, HostRing, RingShape, SlotLink, ring_name
from chronus.plugins.isolated import ring_links
from chronus.plugins.type_source import TypeSource

LOWPASS = TypeSource("builtin", "lowpass")


def _ring_exists(name: str) -> bool:
    try:
        ring = HostRing.attach(name)
    except FileNotFoundError:
        return False
    ring.close()
    return True


def _starts(hosted: HostedModules) -> list[int]:
    """The calls the first hosts to serve started at (waiting up to 60 s for one)."""
    started: list[int] = []
    deadline = time.monotonic() + 60.0
    while not started and time.monotonic() < deadline:
        started += [e.call for _, e in hosted.tick() if e.kind == "host"]
        time.sleep(0.02)
    return started


def test_only_a_hosted_types_modules_get_a_ring_and_a_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hosted_module, "CLOSE_AFTER_S", 0.0)
    tag = f"chr_test_hosted_{os.getpid()}"
    hosted = HostedModules(tag, 48000, 64)
    try:
        hosted.created("s", "saw")
        assert hosted.health() == {} and hosted.hosting("lowpass") == "inline"
        hosted.host("lowpass", LOWPASS, 7)
        hosted.created("f", "lowpass")
        name = ring_name(tag, "lowpass", zlib.crc32(b"f"))
        assert _ring_exists(name), "made before its /patch/create reaches the slots"
        link = ring_links(tag)("lowpass", zlib.crc32(b"f"))
        assert link is not None and ring_links(tag)("lowpass", 1) is None
        assert set(hosted.health()) == {"f"} and set(hosted.health("lowpass")) == {"f"}
        assert hosted.health("saw") == {}
        started = _starts(hosted)
        assert started == [0], "no call was submitted: the host serves from call 0"
        zeros = np.zeros((64, 2))
        for call in range(3):
            link.submit(call, zeros, np.zeros(7), 64)
        hosted.keeper("f").ring.decide_bypass(5, int(hosted.keeper("f").ring.words[5]), 5)
        assert [e.kind for _, e in hosted.tick(flush=True)] == ["bypass"]
        hosted.removed("f")
        assert hosted.keeper("f") is None and hosted.health() == {}
        link.ring.close()  # type: ignore[attr-defined]
        hosted.tick()
        deadline = time.monotonic() + 10.0
        while _ring_exists(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _ring_exists(name), "closed once the slots are done with it"
    finally:
        hosted.close()


def test_a_module_made_again_under_its_id_gets_a_fresh_ring() -> None:
    tag = f"chr_test_again_{os.getpid()}"
    hosted = HostedModules(tag, 48000, 64)
    try:
        hosted.host("lowpass", LOWPASS, 7)
        hosted.created("f", "lowpass")
        first = hosted.keeper("f")
        assert first is not None
        first.ring.header[H.BYPASSES] = 41
        hosted.removed("f")
        hosted.created("f", "lowpass")
        second = hosted.keeper("f")
        assert second is not None and second is not first
        ring = HostRing.attach(ring_name(tag, "lowpass", zlib.crc32(b"f")))
        assert int(ring.header[H.BYPASSES]) == 0, "the name now names the new ring"
        ring.close()
    finally:
        hosted.close()


def test_a_new_supervisor_adopts_a_ring_and_starts_a_host_on_it() -> None:
    """The ring a dead supervisor made (its host dead with it, calls 0-4 submitted) gets a
    new host that serves from the next call; the new supervisor unlinks it at the end."""
    tag = f"chr_test_adopt_{os.getpid()}"
    name = ring_name(tag, "lowpass", zlib.crc32(b"f"))
    made = HostRing.create(name, RingShape(64, 7))
    made.header[H.HOST_PID] = 2**22 + 1  # no such process: the host that died
    link = SlotLink(HostRing.attach(name))
    for call in range(5):
        link.submit(call, np.zeros((64, 2)), np.zeros(7), 64)
    hosted = HostedModules(tag, 48000, 64)
    try:
        assert not hosted.adopt("f", "lowpass", name), "its type is not hosted here"
        hosted.host("lowpass", LOWPASS, 7)
        assert not hosted.adopt("g", "lowpass", f"{tag}_gone")
        assert hosted.adopt("f", "lowpass", name)
        assert int(made.header[H.HOST_PID]) == 0, "the slots stop waiting for the dead host"
        assert set(hosted.health()) == {"f"}
        started = _starts(hosted)
        assert started == [5], "a fresh instance from the call after the last one submitted"
        assert hosted.health()["f"]["host_state"] == "running"
    finally:
        hosted.close()
        link.ring.close()
        made.close()
    assert not _ring_exists(name), "the new supervisor unlinks the ring it adopted"


def test_the_engine_stops_every_modules_host_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One after the other, hosts that each take a beat to stop held an engine's quit up past
    the 10 s a client waits before it kills it (and the shared memory leaked)."""
    barrier = threading.Barrier(3, timeout=10.0)
    closed: list[str] = []

    class Keeper:
        def __init__(self, ring: HostRing, *_: object, **__: object) -> None:
            self.ring = ring

        def start(self, wait: bool = True) -> None:
            pass

        def close(self) -> None:
            barrier.wait()  # the three stop together, or this one times out
            closed.append(self.ring.name)

    class Blank:
        def alive(self) -> bool:
            return True

        def kill(self) -> None:
            pass

        def resolve(self, *_: object) -> None:
            pass

    monkeypatch.setattr(hosted_module, "HostKeeper", Keeper)
    monkeypatch.setattr(hosted_module, "WarmHost", Blank)
    tag = f"chr_test_hosted_close_{os.getpid()}"
    hosted = HostedModules(tag, 48000, 64)
    hosted.host("lowpass", LOWPASS, 7)
    for module in "abc":
        hosted.created(module, "lowpass")
    hosted.close()
    assert len(closed) == 3 and not barrier.broken
    names = [ring_name(tag, "lowpass", zlib.crc32(m.encode())) for m in "abc"]
    assert not any(_ring_exists(name) for name in names)
    assert hosted.health() == {}


def test_a_commit_making_a_module_again_keeps_the_old_one_until_it_switches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hosted_module, "CLOSE_AFTER_S", 0.0)
    tag = f"chr_test_commit_again_{os.getpid()}"
    hosted = HostedModules(tag, 48000, 64)
    try:
        hosted.host("lowpass", LOWPASS, 7)
        hosted.created("f", "lowpass")
        old = hosted.keeper("f")
        assert old is not None and hosted.life("f") == 0
        old_ring = old.ring
        hosted.created("f", "lowpass")  # a commit staged: remove f, create f
        new = hosted.keeper("f")
        assert new is not None and new is not old and hosted.life("f") == 1
        new_ring = new.ring
        hosted.tick()
        assert old_ring.name, "the live patch still plays the old one: its ring stays"
        hosted.cancelled("f")  # the commit failed
        assert hosted.keeper("f") is old and hosted.life("f") == 0
        hosted.created("f", "lowpass")  # staged again
        again = hosted.keeper("f")
        assert again is not None and hosted.life("f") == 1
        hosted.tick()
        assert old_ring.name, "kept until the commit switches"
        hosted.committed(0.0)
        deadline = time.monotonic() + 10.0
        while (old_ring.name or new_ring.name) and time.monotonic() < deadline:
            hosted.tick()
            time.sleep(0.05)
        assert not old_ring.name and not new_ring.name, "closed once done with"
        assert hosted.keeper("f") is again
        assert _ring_exists(ring_name(tag, "lowpass", zlib.crc32(b"f"))), "the new one's"
    finally:
        hosted.close()
