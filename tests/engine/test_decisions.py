"""Late commands land on the same sample in both slots (the active decides, the standby follows)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from chronus.dsp.render import Renderer
from chronus.engine.rings import CommandRing, unique_name
from chronus.engine.slot import Decisions, _drain
from chronus.engine.stats import DECISION_SLOTS, SlotField, decision_table
from chronus.protocol import encode, validate

BLOCK = 128


class Slot:
    """One slot's side: its command ring, renderer and decision table (peer set later)."""

    def __init__(self) -> None:
        self.ring = CommandRing.create(unique_name("test-cmd"), capacity=64, record=256)
        self.values = np.zeros(SlotField.SIZE, dtype=np.int64)
        decision_table(self.values)[:, 0] = -1
        self.renderer = Renderer(48000, BLOCK)
        self.renderer.schedule(0, validate("/patch/create", ("bass", "saw")))
        self.out = np.zeros((BLOCK, 2), dtype=np.float32)
        self.decisions: Decisions

    def render_to(self, block: int) -> None:
        while self.renderer.position < block * BLOCK:
            self.renderer.render(self.out, BLOCK)

    def drain(self, may_wait: bool) -> None:
        _drain(self.ring, self.renderer, self.decisions, may_wait)

    def applied(self) -> list[int]:
        return sorted(sample for sample, _ in self.renderer.state()["pending"])


@pytest.fixture
def pair() -> Iterator[tuple[Slot, Slot]]:
    active, standby = Slot(), Slot()
    active.decisions = Decisions(active.values, standby.values)
    standby.decisions = Decisions(standby.values, active.values)
    yield active, standby
    for slot in (active, standby):
        slot.ring.close()


def push(slots: tuple[Slot, ...], seq: int, stamp: int, solo: bool = False) -> None:
    payload = encode(validate("/mod/bass/cutoff", (300 + seq,)))
    for slot in slots:
        slot.ring.push(stamp, payload, seq, solo)


def test_a_command_in_time_applies_at_its_stamp_in_both(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(4)
    standby.render_to(3)
    push(pair, 0, 5 * BLOCK + 7)
    active.drain(may_wait=False)
    standby.drain(may_wait=True)
    assert active.applied() == standby.applied() == [5 * BLOCK + 7]
    assert active.renderer.late_count == standby.renderer.late_count == 0


def test_an_overtaken_command_applies_where_the_active_took_it(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)  # the stamp is still ahead of the standby
    push(pair, 0, 9 * BLOCK)  # stamped when the slots were at block 8
    standby.drain(may_wait=True)  # the active holds block 8: the standby must not guess
    assert standby.applied() == [] and len(standby.decisions.waiting) == 1
    active.drain(may_wait=False)
    assert active.applied() == [10 * BLOCK] and active.renderer.late_count == 1
    standby.drain(may_wait=True)
    assert standby.applied() == [10 * BLOCK] and standby.renderer.late_count == 1


def test_commands_after_a_waiting_one_wait_too_so_the_order_holds(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)
    push(pair, 0, 9 * BLOCK)
    push(pair, 1, 12 * BLOCK)
    active.decisions.record(1, 12 * BLOCK)  # as if the second were decided and not the first
    standby.drain(may_wait=True)
    assert standby.applied() == [] and len(standby.decisions.waiting) == 2
    active.drain(may_wait=False)
    standby.drain(may_wait=True)
    assert standby.applied() == active.applied() == [10 * BLOCK, 12 * BLOCK]


def test_a_standby_covering_for_a_late_active_decides_and_the_active_follows(
    pair: tuple[Slot, Slot],
) -> None:
    active, standby = pair
    active.render_to(8)
    standby.render_to(9)  # rendering ahead: the active has not published block 8
    push(pair, 0, 8 * BLOCK + 3)
    standby.drain(may_wait=False)
    assert standby.applied() == [9 * BLOCK]
    active.drain(may_wait=False)
    assert active.applied() == [9 * BLOCK]  # not its own 8 * BLOCK + 3: the standby played it


def test_a_solo_command_is_decided_alone(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    active.render_to(10)
    standby.render_to(8)
    push((standby,), 0, 9 * BLOCK, solo=True)  # a commit being built in the standby
    standby.drain(may_wait=True)
    assert standby.applied() == [9 * BLOCK]


def test_the_decision_table_wraps_by_sequence_number(pair: tuple[Slot, Slot]) -> None:
    active, standby = pair
    seq = 3 * DECISION_SLOTS + 5
    push(pair, seq, 100)
    active.drain(may_wait=False)
    assert standby.decisions.lookup(seq) == 100
    assert standby.decisions.lookup(seq - DECISION_SLOTS) is None
