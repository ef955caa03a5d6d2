"""The isolated host's ring: two fake slots and one host, stepped by hand, in one process.

Each test drives the protocol through a fault (a dead host, a host killed mid-block, a slot
killed mid-write, slots that disagree) and checks that both slots see the same outcome for
every call, that each bypass is logged once, and that an offline replay of the log renders
what played.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.module import Module
from chronus.plugins import atomics as atomics_module
from chronus.plugins import host_events as host_events_module
from chronus.plugins import host_ring as host_ring_module
from chronus.plugins import isolated as isolated_module
from chronus.plugins.atomics import cas
from chronus.plugins.host import HostServer
from chronus.plugins.host_ring import (
    BYPASS,
    DONE,
    ENTRIES,
    READY,
    WRITING,
    H,
    HostRing,
    Outcome,
    RingShape,
    SlotLink,
)
from chronus.plugins.isolated import ReplayLink, isolated_type
from chronus.plugins.source import import_plugin, version_of
from chronus.plugins.type_source import TypeSource, TypeSourceError, resolve_type
from chronus.plugins.wait_budget import WaitBudget

RATE, FRAMES = 48000, 128
FOLD = Path(__file__).resolve().parents[2] / "examples" / "modules" / "fold.py"


@pytest.fixture(scope="module")
def fold() -> type[Module]:
    return import_plugin(FOLD, "fold", version_of(FOLD.read_bytes()))


def _blocks(count: int, seed: int = 1) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return 0.5 * rng.standard_normal((count, FRAMES, 2))


class _Setup:
    """A private ring, a host on it, and two slots' links (A, B)."""

    def __init__(self, cls: type[Module], wait_s: float = 0.0) -> None:
        self.ring = HostRing.private(RingShape(FRAMES, len(cls.PARAMS)))
        self.host = HostServer(self.ring, cls, RATE)
        self.host.start(pid=1)
        self.a = SlotLink(self.ring, wait_s=wait_s, settle_s=0.0)
        self.b = SlotLink(self.ring, wait_s=wait_s, settle_s=0.0)
        self.params = np.array([spec.default for spec in cls.PARAMS])
        self.fifo_a = np.zeros((4 * FRAMES, 2))
        self.fifo_b = np.zeros((4 * FRAMES, 2))

    def both_collect(self, call: int) -> tuple[Outcome, Outcome]:
        at = call * FRAMES
        return (
            self.a.collect(call, self.fifo_a, at, FRAMES),
            self.b.collect(call, self.fifo_b, at, FRAMES),
        )

    def logged(self) -> list[int]:
        return self.ring.bypass_log(0)[0]


def test_cas_changes_a_word_only_from_the_expected_value() -> None:
    words = np.zeros(2, np.int64)
    assert cas(words, 1, 0, 7)
    assert not cas(words, 1, 0, 9)
    assert list(words) == [0, 7]


def test_a_healthy_host_renders_each_call_once_and_both_slots_read_it(
    fold: type[Module],
) -> None:
    setup = _Setup(fold)
    blocks = _blocks(3)
    inline = fold(RATE, FRAMES)
    for name, value in zip(setup.host.names, setup.params, strict=True):
        inline.set_param(name, float(value))
    expected = np.zeros((FRAMES, 2))
    for call, block in enumerate(blocks):
        setup.a.submit(call, block, setup.params, FRAMES)
        setup.host.step()
        setup.b.submit(call, block, setup.params, FRAMES)
        assert setup.both_collect(call) == (Outcome.DONE, Outcome.DONE)
        inline.process_stereo(block, expected, FRAMES)
        at = (call * FRAMES) % setup.fifo_a.shape[0]
        assert np.array_equal(setup.fifo_a[at : at + FRAMES], expected)
        assert np.array_equal(setup.fifo_b[at : at + FRAMES], expected)
    assert setup.ring.header[H.GENERATIONS] == 1
    assert setup.ring.header[H.DIFFERENT] == 0
    assert setup.logged() == []


def test_slots_that_offer_different_input_are_counted(fold: type[Module]) -> None:
    setup = _Setup(fold)
    block = _blocks(1)[0]
    setup.a.submit(0, block, setup.params, FRAMES)
    setup.b.submit(0, block + 1e-9, setup.params, FRAMES)
    assert setup.ring.header[H.DIFFERENT] == 1


def test_without_a_host_both_slots_bypass_the_same_calls_logged_once(
    fold: type[Module],
) -> None:
    setup = _Setup(fold, wait_s=0.05)
    setup.ring.header[H.HOST_PID] = 0  # the keeper saw it die
    for call, block in enumerate(_blocks(4)):
        setup.a.submit(call, block, setup.params, FRAMES)
        setup.b.submit(call, block, setup.params, FRAMES)
        assert setup.both_collect(call) == (Outcome.BYPASS, Outcome.BYPASS)
    assert setup.logged() == [0, 1, 2, 3]


def test_a_host_killed_mid_block_gives_both_slots_a_bypass_and_a_fresh_instance_after(
    fold: type[Module],
) -> None:
    setup = _Setup(fold, wait_s=0.01)
    blocks = _blocks(3)
    setup.a.submit(0, blocks[0], setup.params, FRAMES)
    setup.host.step()
    # call 1: the host took it (it is in step) but never answers: A waits, then decides
    setup.a.submit(1, blocks[1], setup.params, FRAMES)
    setup.b.submit(1, blocks[1], setup.params, FRAMES)
    assert setup.a.collect(1, setup.fifo_a, FRAMES, FRAMES) == Outcome.BYPASS
    # the host was only late: its answer now loses, and its instance is dropped
    setup.host.step()
    assert setup.ring.words[1] == 1 * 8 + BYPASS
    assert setup.host.instance is None
    assert setup.b.collect(1, setup.fifo_b, FRAMES, FRAMES) == Outcome.BYPASS
    setup.a.submit(2, blocks[2], setup.params, FRAMES)
    setup.host.step()
    assert setup.both_collect(2) == (Outcome.DONE, Outcome.DONE)
    assert setup.ring.header[H.GENERATIONS] == 2
    assert setup.logged() == [1]


def test_a_slot_killed_mid_write_does_not_stall_the_other(fold: type[Module]) -> None:
    setup = _Setup(fold)
    block = _blocks(1)[0]
    # slot A claimed call 0 and died before it set READY
    assert cas(setup.ring.words, 0, int(setup.ring.words[0]), 0 * 8 + WRITING)
    setup.b.submit(0, block, setup.params, FRAMES)
    assert setup.ring.words[0] == BYPASS
    assert setup.b.collect(0, setup.fifo_b, 0, FRAMES) == Outcome.BYPASS
    setup.b.submit(1, block, setup.params, FRAMES)
    setup.host.step()
    setup.host.step()
    assert setup.b.collect(1, setup.fifo_b, FRAMES, FRAMES) == Outcome.DONE
    assert setup.logged() == [0]


def test_a_slots_waits_for_the_host_and_for_its_peer_are_counted(fold: type[Module]) -> None:
    setup = _Setup(fold, wait_s=0.01)
    blocks, header = _blocks(3), setup.ring.header
    setup.a.submit(0, blocks[0], setup.params, FRAMES)
    setup.host.step()
    assert setup.a.collect(0, setup.fifo_a, 0, FRAMES) == Outcome.DONE  # no wait: done
    assert (header[H.HOST_WAITS], header[H.PEER_WAITS], header[H.WAITED_NS]) == (0, 0, 0)
    setup.a.submit(1, blocks[1], setup.params, FRAMES)  # in step, never answered: A waits
    assert setup.a.collect(1, setup.fifo_a, FRAMES, FRAMES) == Outcome.BYPASS
    assert header[H.HOST_WAITS] == 1 and header[H.PEER_WAITS] == 0
    assert header[H.WAITED_NS] >= 5_000_000  # the 10 ms futex wait, give or take
    assert header[H.LONGEST_WAIT_NS] == header[H.WAITED_NS]
    # call 2: B finds A still writing it (A died there): B waits for it once, then decides
    assert cas(setup.ring.words, 2, int(setup.ring.words[2]), 2 * 8 + WRITING)
    setup.b.submit(2, blocks[2], setup.params, FRAMES)
    assert header[H.PEER_WAITS] == 1 and header[H.HOST_WAITS] == 1
    assert setup.ring.words[2] == 2 * 8 + BYPASS


@pytest.mark.parametrize("shared", [False, True])
def test_a_budget_shared_by_a_slots_rings_bounds_its_waits_for_late_hosts_together(
    fold: type[Module], shared: bool
) -> None:
    """Four hosts in step that never answer: alone, each ring waits its `wait_s`; with one
    budget for the four, the waits stop when it is spent and the rest are bypassed at once."""
    budget = WaitBudget(cap_s=0.004, rate=0.0)  # earns nothing back: the test is exact
    rings, links = [], []
    blocks = _blocks(2)
    params = np.array([spec.default for spec in fold.PARAMS])
    for _ in range(4):
        ring = HostRing.private(RingShape(FRAMES, len(fold.PARAMS)))
        host = HostServer(ring, fold, RATE)
        host.start(pid=1)
        link = SlotLink(ring, wait_s=0.003, budget=budget if shared else None)
        link.submit(0, blocks[0], params, FRAMES)
        host.step()
        link.submit(1, blocks[1], params, FRAMES)  # the host is in step and never renders it
        rings.append(ring)
        links.append(link)
    fifo = np.zeros((4 * FRAMES, 2))
    for link in links:
        assert link.collect(1, fifo, FRAMES, FRAMES) == Outcome.BYPASS
    waits = [int(ring.header[H.HOST_WAITS]) for ring in rings]
    unwaited = [int(ring.header[H.UNWAITED]) for ring in rings]
    if not shared:
        assert waits == [1, 1, 1, 1] and unwaited == [0, 0, 0, 0]
        return
    assert waits[0] == 1  # 3 ms of the 4
    assert sum(waits) + sum(unwaited) == 4
    assert sum(unwaited) >= 2 and unwaited[0] == 0
    assert budget.left_ns < budget.least_ns


def test_a_slot_that_finishes_writing_after_the_other_gave_up_keeps_the_bypass(
    fold: type[Module],
) -> None:
    """Slot A was held up mid-write for longer than B waits: B decided the bypass, and A's
    late write must not turn it back into a call the host renders."""
    setup = _Setup(fold)
    block = _blocks(1)[0]
    words = setup.ring.words

    class Late(SlotLink):
        def submit(self, call: int, inp: Any, params: Any, n: int) -> None:
            real_cas = host_ring_module.cas

            def held_up(array: Any, index: int, expected: int, desired: int) -> bool:
                if desired == call * 8 + READY:  # B's turn comes while A writes
                    setup.b.submit(call, inp, params, n)
                return real_cas(array, index, expected, desired)

            host_ring_module.cas = held_up  # type: ignore[assignment]
            try:
                super().submit(call, inp, params, n)
            finally:
                host_ring_module.cas = real_cas

    Late(setup.ring, settle_s=0.0).submit(0, block, setup.params, FRAMES)
    assert words[0] == BYPASS
    setup.host.step()  # passes it by, renders nothing
    assert words[0] == BYPASS
    assert setup.ring.header[H.GENERATIONS] == 0
    assert setup.b.collect(0, setup.fifo_b, 0, FRAMES) == Outcome.BYPASS
    assert setup.logged() == [0]


def test_a_host_replaced_between_calls_starts_fresh_and_the_replay_must_know(
    fold: type[Module],
) -> None:
    """The first host dies after a call it finished; its successor starts at the next call
    with a fresh instance, with no bypass between: only the host's start tells the replay."""
    setup = _Setup(fold)
    blocks = _blocks(10)
    played = np.zeros((10, FRAMES, 2))
    for call, block in enumerate(blocks):
        if call == 5:
            setup.host = HostServer(setup.ring, fold, RATE)
            assert setup.host.start(pid=2) == 5
        setup.a.submit(call, block, setup.params, FRAMES)
        setup.host.step()
        assert setup.a.collect(call, played[call], 0, FRAMES) == Outcome.DONE
    assert setup.logged() == []

    def replay(fresh: frozenset[int]) -> npt.NDArray[np.float64]:
        link = ReplayLink(fold, RATE, FRAMES, set(), fresh)
        rendered = np.zeros((10, FRAMES, 2))
        for call, block in enumerate(blocks):
            link.submit(call, block, setup.params, FRAMES)
            assert link.collect(call, rendered[call], 0, FRAMES) == Outcome.DONE
        return rendered

    assert np.array_equal(replay(frozenset({0, 5})), played)
    assert not np.array_equal(replay(frozenset({0})), played)


def test_a_module_that_raises_in_the_host_is_bypassed_by_the_host(
    fold: type[Module],
) -> None:
    class Raising(fold):  # type: ignore[misc,valid-type]
        def process_stereo(self, inp: object, out: object, n: int) -> None:
            raise RuntimeError("boom")

    setup = _Setup(Raising)
    setup.a.submit(0, _blocks(1)[0], setup.params, FRAMES)
    setup.host.step()
    assert setup.ring.words[0] == BYPASS
    assert setup.ring.header[H.HOST_ERRORS] == 1
    assert setup.logged() == [0]


def test_a_host_far_behind_starts_again_at_the_newest_call(fold: type[Module]) -> None:
    setup = _Setup(fold)
    setup.ring.header[H.HOST_PID] = 0
    blocks = _blocks(ENTRIES + 3)
    for call, block in enumerate(blocks):
        setup.a.submit(call, block, setup.params, FRAMES)
        if call:
            setup.a.collect(call - 1, setup.fifo_a, 0, FRAMES)
    setup.ring.header[H.HOST_PID] = 1
    while setup.host.step():
        pass
    last = len(blocks) - 1
    assert setup.ring.words[last % ENTRIES] == last * 8 + DONE
    assert setup.ring.header[H.HOST_DONE] == last


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_replay_of_the_bypass_log_renders_what_the_slots_played(
    fold: type[Module], seed: int
) -> None:
    """Random host stalls and block splits; the stand-in's output with the real ring equals
    its output with a replay of the log (and both slots' outputs are the same)."""
    rng = np.random.default_rng(seed)
    ring = HostRing.private(RingShape(FRAMES, len(fold.PARAMS)))
    host = HostServer(ring, fold, RATE)
    host.start(pid=1)
    stand_in = isolated_type(fold)
    a, b = stand_in(RATE, FRAMES), stand_in(RATE, FRAMES)
    a.attach(SlotLink(ring, wait_s=0.0))
    b.attach(SlotLink(ring, wait_s=0.0))
    sizes = [int(rng.choice([FRAMES, FRAMES, 64, 17, 1])) for _ in range(200)]
    drives = {i: float(rng.uniform(0, 36)) for i in range(len(sizes)) if rng.random() < 0.05}
    stalls = rng.random(len(sizes)) < 0.2
    signal = 0.5 * rng.standard_normal((sum(sizes), 2))

    def play(modules: list[Module], host: HostServer | None) -> list[npt.NDArray[np.float64]]:
        played = [np.zeros_like(signal) for _ in modules]
        inp, out = np.zeros((FRAMES, 2)), np.zeros((FRAMES, 2))
        at = 0
        for call, n in enumerate(sizes):
            inp[:n] = signal[at : at + n]
            for index, module in enumerate(modules):
                if call in drives:
                    module.set_param("drive", drives[call])
                module.process_stereo(inp, out, n)  # type: ignore[attr-defined]
                played[index][at : at + n] = out[:n]
                if index == 0 and host is not None and not stalls[call]:
                    while host.step():
                        pass
            at += n
        return played

    played_a, played_b = play([a, b], host)
    logged = set(ring.bypass_log(0)[0])
    assert 0 < len(logged) < len(sizes)
    assert np.array_equal(played_a, played_b)
    assert not np.array_equal(played_a[FRAMES:], signal[:-FRAMES])  # the host did render
    replayed = stand_in(RATE, FRAMES)
    replayed.attach(ReplayLink(fold, RATE, FRAMES, logged))
    (rendered,) = play([replayed], None)
    assert np.array_equal(rendered, played_a)


def test_a_slots_calls_through_the_ring_allocate_nothing(fold: type[Module]) -> None:
    """What a slot runs each block (the stand-in, its link, the atomics) keeps no memory."""
    ring = HostRing.private(RingShape(FRAMES, len(fold.PARAMS)))
    host = HostServer(ring, fold, RATE)
    host.start(pid=1)
    module = isolated_type(fold)(RATE, FRAMES)
    module.attach(SlotLink(ring, wait_s=0.0))
    inp, out = _blocks(1)[0], np.zeros((FRAMES, 2))

    name = fold.PARAMS[0].name
    values = [fold.PARAMS[0].minimum, fold.PARAMS[0].maximum]

    def calls(count: int) -> None:  # the host misses one call in ten: both paths run
        for i in range(count):
            module.set_param(name, values[i % 2])  # an event row with every call
            module.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
            if i % 10:
                host.step()

    calls(2 * ENTRIES)  # warm: kernels loaded, every entry used once
    files = [
        isolated_module.__file__,
        host_ring_module.__file__,
        atomics_module.__file__,
        host_events_module.__file__,
    ]
    here = [tracemalloc.Filter(True, str(name)) for name in files]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(here)
        calls(1000)
        after = tracemalloc.take_snapshot().filter_traces(here)
    finally:
        tracemalloc.stop()
    diff = after.compare_to(before, "filename")
    assert sum(d.size_diff for d in diff) == 0
    assert sum(d.count_diff for d in diff) == 0
    assert ring.header[H.SUBMITTED] == 2 * ENTRIES + 1000 - 1
    assert ring.header[H.BYPASSES] >= 100


def test_the_allocation_check_can_fail(fold: type[Module]) -> None:
    """The filter above sees what the stand-in's module allocates (or it proves nothing)."""
    here = [tracemalloc.Filter(True, str(isolated_module.__file__))]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(here)
        kept = [isolated_type(fold)(RATE, FRAMES) for _ in range(3)]
        after = tracemalloc.take_snapshot().filter_traces(here)
    finally:
        tracemalloc.stop()
    assert kept and sum(d.size_diff for d in after.compare_to(before, "filename")) > 0


@pytest.mark.parametrize(("when_down", "through"), [(None, True), ("silence", False)])
def test_a_bypassed_processor_plays_its_input_unless_it_declares_silence(
    fold: type[Module], when_down: str | None, through: bool
) -> None:
    cls = fold if when_down is None else type("Quiet", (fold,), {"when_down": when_down})
    module = isolated_type(cls)(RATE, FRAMES)  # no link: every call is bypassed
    blocks = _blocks(3)
    out = np.zeros((FRAMES, 2))
    for block in blocks:
        module.process_stereo(block, out, FRAMES)  # type: ignore[attr-defined]
    expected = blocks[1] if through else np.zeros((FRAMES, 2))
    assert np.array_equal(out, expected)


def test_type_sources_resolve_builtin_and_user_types_and_refuse_others() -> None:
    saw = TypeSource("builtin", "saw")
    assert TypeSource.from_json(saw.to_json()) == saw
    assert resolve_type(saw).TYPE == "saw"
    user = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
    assert resolve_type(TypeSource.from_json(user.to_json())).TYPE == "fold"
    with pytest.raises(TypeSourceError):
        resolve_type(TypeSource("builtin", "nope"))
    with pytest.raises(TypeSourceError):
        TypeSource.from_json('{"kind": "vst", "name": "x"}')
    with pytest.raises(TypeSourceError):
        TypeSource.from_json("[1, 2")
