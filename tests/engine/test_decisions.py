"""Overtaken commands land on the same sample in both slots, whichever takes them first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronus.dsp.render import Renderer
from chronus.engine.decisions import UNBOUNDED, Decisions, drain
from chronus.engine.rings import CommandRing, unique_name
from chronus.engine.stats import DECISION_SLOTS, ProcessState, SlotField, decision_table
from chronus.protocol import encode, validate

BLOCK = 128


class Slot:
    """One slot's side: its command ring, renderer and counters (peer set later). It renders
    as a slot's loop does: a drain before each block, and no block an undecided command may
    land in."""

    def __init__(self) -> None:
        self.ring = CommandRing.create(unique_name("test-cmd"), capacity=64, record=256)
        self.values = np.zeros(SlotField.SIZE, dtype=np.int64)
        self.values[SlotField.STATE] = ProcessState.RUNNING
        decision_table(self.values)[:, 0] = -1
        self.renderer = Renderer(48000, BLOCK)
        self.renderer.schedule(0, validate("/patch/create", ("bass", "saw")))
        self.renderer.schedule(0, validate("/patch/connect", ("bass", "master")))
        self.renderer.schedule(0, validate("/note/bass", (40, 100, 60.0)))
        self.out = np.zeros((BLOCK, 2), dtype=np.float32)
        self.blocks: list[npt.NDArray[np.float32]] = []
        self.decisions: Decisions
        self.published = 1 << 40

    @property
    def block(self) -> int:
        return self.renderer.position // BLOCK

    def drain(self) -> int:
        return drain(self.ring, self.renderer, self.decisions, self.published)

    def step(self) -> bool:
        """Drain, then render the next block if no undecided command may land in it."""
        if self.drain() < (self.block + 1) * BLOCK:
            return False
        self.renderer.render(self.out, BLOCK)
        self.blocks.append(self.out.copy())
        return True

    def render(self) -> None:
        """Render the next block with no drain before it (one done already)."""
        self.renderer.render(self.out, BLOCK)
        self.blocks.append(self.out.copy())

    def render_to(self, block: int) -> None:
        while self.block < block:
            assert self.step(), f"held back at block {self.block}"

    def applied(self) -> list[int]:
        """Where this slot applies (or applied) each command it decided."""
        rows = decision_table(self.values)
        return sorted(int(row[2]) for row in rows if row[0] >= 0 and row[2] >= 0)


def pair_of() -> tuple[Slot, Slot]:
    a, b = Slot(), Slot()
    a.decisions = Decisions(a.values, b.values, BLOCK)
    b.decisions = Decisions(b.values, a.values, BLOCK)
    return a, b


@pytest.fixture
def pair() -> Iterator[tuple[Slot, Slot]]:
    slots = pair_of()
    yield slots
    for slot in slots:
        slot.ring.close()


def push(slots: tuple[Slot, ...], seq: int, stamp: int, solo: bool = False) -> None:
    payload = encode(validate("/mod/bass/cutoff", (300.0 + seq,)))
    for slot in slots:
        slot.ring.push(stamp, payload, seq, solo)


def test_a_command_in_time_applies_at_its_stamp_in_both(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(4)
    standby.render_to(3)
    push(pair, 0, 5 * BLOCK + 7)
    assert active.drain() == UNBOUNDED
    assert standby.drain() == UNBOUNDED
    assert active.applied() == standby.applied() == [5 * BLOCK + 7]
    assert active.renderer.late_count == standby.renderer.late_count == 0


def test_an_overtaken_command_applies_where_both_can(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)
    push(pair, 0, 9 * BLOCK)  # stamped when the slots were at block 8
    assert standby.step()  # block 8 is before the stamp: nothing can land there
    assert not standby.step()  # block 9 might: the active has drained for it already
    assert active.step() and active.applied() == [10 * BLOCK]  # its next block: 10
    standby.render_to(11)
    assert standby.applied() == [10 * BLOCK] and standby.renderer.late_count == 1
    assert active.renderer.late_count == 1


def test_a_slot_ahead_decides_and_the_one_behind_follows_whichever_drains_first(
    pair: tuple[Slot, Slot],
) -> None:
    """The active, held up, is behind the standby; the command's stamp is in time for the
    active and not for the standby. Before, the active took it at its stamp if it drained
    first, and the standby (past the stamp) could not follow: they differed."""
    active, standby = pair
    active.render_to(8)
    standby.render_to(9)
    push(pair, 0, 8 * BLOCK + 3)
    assert not active.step()  # the standby may have rendered past the stamp already
    assert standby.step() and standby.applied() == [9 * BLOCK]
    assert active.step() and active.applied() == [9 * BLOCK]


def test_a_command_that_arrives_while_the_active_renders_the_same_block(
    pair: tuple[Slot, Slot],
) -> None:
    """The active drained for block 9 before the command came and renders it; the standby
    drains for block 9 after. Before, the standby took it at block 9 and the active, past
    it, at block 10."""
    active, standby = pair
    active.render_to(9)
    standby.render_to(9)
    active.drain()  # for block 9: the command is not there yet
    push(pair, 0, 8 * BLOCK)
    assert not standby.step()
    active.render()
    assert active.step() and active.applied() == [10 * BLOCK]
    standby.render_to(11)
    assert standby.applied() == [10 * BLOCK]
    np.testing.assert_array_equal(active.blocks[9], standby.blocks[9])


def test_an_unpublished_command_is_not_popped(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    push((active,), 0, 5 * BLOCK)  # in the active's ring, not yet in the standby's
    active.published = 0
    active.drain()
    assert active.applied() == [] and len(active.ring) == 1
    push((standby,), 0, 5 * BLOCK)
    active.published = standby.published = 1
    active.drain()
    standby.drain()
    assert active.applied() == standby.applied() == [5 * BLOCK]


def test_a_dead_peer_is_not_waited_for(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(8)
    standby.render_to(10)
    standby.values[SlotField.STATE] = ProcessState.DEAD
    push((active,), 0, 8 * BLOCK + 3)
    assert active.step() and active.applied() == [8 * BLOCK + 3]


def test_an_active_that_gives_up_decides_late_enough_for_its_peer(
    pair: tuple[Slot, Slot],
) -> None:
    """A peer stopped between its drain's start and its pop: the active waits a block
    period, then takes the latest block the peer may take the command in; the peer follows."""
    active, standby = pair
    active.render_to(8)
    standby.render_to(9)
    standby.decisions.begin(9)  # and stopped there
    push(pair, 0, 8 * BLOCK + 3)
    assert not active.step()
    active.decisions.give_up = True
    assert active.step() and active.applied() == [10 * BLOCK]
    standby.render_to(11)
    assert standby.applied() == [10 * BLOCK]


def test_commands_after_an_undecided_one_wait_too_so_the_order_holds(
    pair: tuple[Slot, Slot],
) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)
    push(pair, 0, 9 * BLOCK)
    push(pair, 1, 12 * BLOCK)
    assert standby.step() and not standby.step()
    assert len(standby.decisions.waiting) == 2
    active.render_to(13)
    standby.render_to(13)
    assert standby.applied() == active.applied() == [10 * BLOCK, 12 * BLOCK]


def test_a_solo_command_is_decided_alone(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)
    push((standby,), 0, 9 * BLOCK, solo=True)  # a commit being built in the standby
    assert standby.drain() == UNBOUNDED
    assert standby.applied() == [9 * BLOCK]


def test_a_new_worker_keeps_the_later_block_its_predecessor_held_a_command_in(
    pair: tuple[Slot, Slot],
) -> None:
    _, standby = pair
    assert standby.decisions.popped(7, 12) == 12  # the worker that sat here before
    assert standby.decisions.popped(7, 9) == 12  # the new one, starting further back


def test_the_decision_table_wraps_by_sequence_number(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    seq = 3 * DECISION_SLOTS + 5
    push(pair, seq, 100)
    assert standby.drain() == 100  # the active may hold it for block 0 too
    assert active.drain() == UNBOUNDED
    row = decision_table(active.values)[seq % DECISION_SLOTS]
    assert list(row) == [seq, 0, 100]
    assert standby.decisions.decide(seq, 0, 0) == 100  # the active's word
    assert standby.decisions.decide(seq - DECISION_SLOTS, 0, 0) is None  # not that row's


@settings(max_examples=60, deadline=None)
@given(
    script=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, BLOCK - 1)),
        min_size=1,
        max_size=6,
    ),
    steps=st.lists(st.integers(0, 1), min_size=0, max_size=120),
)
def test_any_interleaving_gives_the_same_samples_in_both_slots(
    script: list[tuple[int, int, int]], steps: list[int]
) -> None:
    """The supervisor stamps each command one block beyond the slots (less `overtake`
    blocks: it was held up), pushes it to one ring, then the other, then publishes it; the
    slots drain and render in any order meanwhile, each at most 4 blocks ahead of the other.
    Both render the same samples."""
    slots = pair_of()
    for slot in slots:
        slot.published = 0
    try:
        moves = iter(steps)

        def wander(times: int) -> None:
            for _ in range(times):
                slot = slots[next(moves, 0)]
                other = slots[1 - slots.index(slot)]
                if slot.block < other.block + 4:
                    slot.step()

        for seq, (pause, overtake, offset) in enumerate(script):
            ahead = max(slot.block for slot in slots)
            stamp = max(0, ahead + 1 - overtake) * BLOCK + offset
            payload = encode(validate("/mod/bass/cutoff", (300.0 + 100 * seq,)))
            first = seq % 2
            wander(pause)
            slots[first].ring.push(stamp, payload, seq)
            wander(pause)
            slots[1 - first].ring.push(stamp, payload, seq)
            wander(pause)
            for slot in slots:
                slot.published = seq + 1
            wander(pause)
        end = max(slot.block for slot in slots) + len(script) + 8
        for _ in range(4 * end):
            for slot in slots:
                if slot.block < end:
                    slot.step()
        assert [slot.block for slot in slots] == [end, end]
        for a, b in zip(*(slot.blocks for slot in slots), strict=True):
            np.testing.assert_array_equal(a, b)
    finally:
        for slot in slots:
            slot.ring.close()
