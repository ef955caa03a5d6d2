"""The pacer spreads a burst of commands over blocks, in order, within a budget per block."""

from __future__ import annotations

import pytest

from chronus.engine.pacing import BLOCK_BUDGET_US, MAX_BACKLOG_S, Pacer, cost_us
from chronus.protocol import validate

BLOCK = 128
RATE = 48000


def test_commands_sent_slowly_apply_at_the_next_block() -> None:
    pacer = Pacer(BLOCK, RATE)
    assert pacer.stamp(10 * BLOCK, 100.0) == 10 * BLOCK
    assert pacer.stamp(11 * BLOCK, 100.0) == 11 * BLOCK
    assert pacer.stamp(15 * BLOCK, 100.0) == 15 * BLOCK
    assert pacer.backlog(16 * BLOCK) == 16 * BLOCK


def test_a_burst_fills_each_block_to_its_budget_in_order() -> None:
    pacer = Pacer(BLOCK, RATE)
    stamps = [pacer.stamp(4 * BLOCK, 150.0) for _ in range(10)]
    assert stamps == sorted(stamps)
    per_block: dict[int, float] = {}
    for stamp in stamps:
        per_block[stamp] = per_block.get(stamp, 0.0) + 150.0
    assert all(total <= BLOCK_BUDGET_US for total in per_block.values())
    assert stamps[0] == 4 * BLOCK and len(per_block) == 4  # 3 + 3 + 3 + 1
    assert pacer.backlog(5 * BLOCK) == stamps[-1]


def test_a_command_costlier_than_the_budget_still_goes_alone() -> None:
    pacer = Pacer(BLOCK, RATE, budget_us=100.0)
    assert pacer.stamp(0, 40.0) == 0
    assert pacer.stamp(0, 400.0) == BLOCK
    assert pacer.stamp(0, 10.0) == 2 * BLOCK


def test_beyond_the_backlog_limit_commands_are_refused_unless_forced() -> None:
    pacer = Pacer(BLOCK, RATE)
    blocks = round(MAX_BACKLOG_S * RATE / BLOCK)
    for _ in range(blocks + 1):
        assert pacer.has_room(0, BLOCK_BUDGET_US)
        pacer.stamp(0, BLOCK_BUDGET_US)
    assert not pacer.has_room(0, 1.0)
    with pytest.raises(OverflowError):
        pacer.stamp(0, 1.0)
    assert pacer.stamp(0, 1.0, force=True) == (blocks + 1) * BLOCK
    assert pacer.has_room(3 * BLOCK, 1.0)  # time went on: the backlog is shorter now


def test_costs_follow_what_a_command_does() -> None:
    def cost(address: str, *args: object) -> float:
        return cost_us(validate(address, args))

    assert cost("/patch/create", "a", "saw") > cost("/patch/create", "f", "lowpass")
    assert cost("/patch/create", "r", "reverb") > cost("/patch/connect", "a", "master")
    assert cost("/patch/connect", "a", "master") > cost("/mod/a/cutoff", 500)
    assert cost("/seq/a/pattern", "c2 e2") > cost("/note/a", 60, 100)


def test_a_new_supervisor_stamps_after_the_burst_its_predecessor_was_spreading() -> None:
    """A supervisor that takes over goes on after the last stamp the command rings hold:
    the rest of a burst keeps its order, and an earlier stamp never moves it back."""
    pacer = Pacer(BLOCK, RATE)
    pacer.continue_after(40 * BLOCK)  # the dead one had paced a burst up to block 40
    assert pacer.stamp(10 * BLOCK, 15.0) == 41 * BLOCK  # block 40 is taken as full
    pacer.continue_after(5 * BLOCK)
    assert pacer.stamp(10 * BLOCK, 15.0) == 41 * BLOCK
    assert pacer.stamp(60 * BLOCK, 15.0) == 60 * BLOCK  # the burst is over by then
