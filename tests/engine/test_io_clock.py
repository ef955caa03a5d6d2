"""The sample clock through an audio I/O restart: the stand-in's arithmetic, and the hand-over
to a resuming `BlockPump`, on real shared memory and real semaphores."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus.engine import audio_io as audio_io_module
from chronus.engine.audio_io import BlockPump
from chronus.engine.io_clock import StandIn, blocks_due, resume_skip
from chronus.engine.stats import IoField
from tests.engine.test_pump import BLOCK, Rig, block_of
from tests.engine.test_pump import rig as _rig  # noqa: F401 (its fixture, for `resuming`)

PERIOD = 1_000_000  # 1 ms, in ns: round numbers for the arithmetic


def test_blocks_due_counts_whole_periods_after_the_last_block() -> None:
    assert blocks_due(5_000, 5_000, PERIOD) == 0
    assert blocks_due(5_000, 5_000 + PERIOD - 1, PERIOD) == 0
    assert blocks_due(5_000, 5_000 + PERIOD, PERIOD) == 1
    assert blocks_due(5_000, 5_000 + 37 * PERIOD + 3, PERIOD) == 37
    assert blocks_due(5_000, 4_000, PERIOD) == 0  # a time before the last block
    assert blocks_due(5_000, 10**12, 0) == 0  # no period: nothing is ever due


def test_a_resume_plays_the_block_due_now_and_skips_the_ones_before() -> None:
    assert resume_skip(5_000, 5_000 + PERIOD // 2, PERIOD) == 0  # early: the next one
    assert resume_skip(5_000, 5_000 + PERIOD, PERIOD) == 0
    assert resume_skip(5_000, 5_000 + 2 * PERIOD, PERIOD) == 1
    assert resume_skip(5_000, 5_000 + 10 * PERIOD + 9, PERIOD) == 9
    assert resume_skip(0, 10**12, PERIOD) == 0  # no block was ever played


@given(
    st.integers(1, 10**12), st.lists(st.integers(0, 50 * PERIOD), max_size=30), st.integers(1, 10)
)
def test_stepping_often_or_once_gives_the_same_clock(
    last: int, waits: list[int], period_scale: int
) -> None:
    """The stand-in's steps land on a grid: how often it is ticked changes nothing."""
    period = period_scale * PERIOD // 7
    now, often = last, np.zeros(IoField.SIZE, dtype=np.int64)
    once = np.zeros(IoField.SIZE, dtype=np.int64)
    often[IoField.LAST_BLOCK_NS] = once[IoField.LAST_BLOCK_NS] = last
    stepper = _bare_stand_in(often, period)
    for wait in waits:
        now += wait
        stepper.step(now)
    _bare_stand_in(once, period).step(now)
    assert often[IoField.CONSUMED] == once[IoField.CONSUMED] == blocks_due(last, now, period)
    assert often[IoField.LAST_BLOCK_NS] == once[IoField.LAST_BLOCK_NS]
    assert 0 <= now - int(often[IoField.LAST_BLOCK_NS]) < period
    assert often[IoField.BLOCKS_MISSED] == often[IoField.CONSUMED]


class _NoWake:
    def release(self) -> None:
        pass


class _NoRing:
    def __init__(self) -> None:
        self.header = np.zeros(16, dtype=np.int64)


def _bare_stand_in(v: np.ndarray, period: int) -> StandIn:
    v[IoField.CLOCK_HELD] = 1
    rings = (_NoRing(), _NoRing())
    return StandIn(v, rings, (_NoWake(), _NoWake()), period)  # type: ignore[arg-type]


@pytest.fixture
def resuming(request: pytest.FixtureRequest) -> Iterator[tuple[Rig, StandIn]]:
    """A rig whose pump replaces a dead I/O, and the supervisor's stand-in beside it."""
    rig: Rig = request.getfixturevalue("_rig")
    rig.pump = BlockPump(rig.rings, rig.tap, rig.io, rig.control, rig.wakes, None, PERIOD, True)
    yield rig, StandIn(rig.io.values, rig.rings, rig.wakes, PERIOD)
    del rig.pump  # before the rig's shared memory goes


def test_the_stand_in_moves_the_clock_and_wakes_the_slots(
    resuming: tuple[Rig, StandIn],
) -> None:
    rig, stand_in = resuming
    v = rig.v
    v[IoField.CONSUMED] = 10  # the dead I/O played blocks 0..9, the last at t = 50 ms
    v[IoField.LAST_BLOCK_NS] = 50 * PERIOD
    stand_in.hold(51 * PERIOD + 5)
    assert stand_in.holding and v[IoField.CLOCK_HELD] == 1
    assert stand_in.step(51 * PERIOD + 5) == 1
    assert rig.wakes_posted() == [1, 1]
    assert stand_in.step(51 * PERIOD + 9) == 0  # nothing more due: nobody woken
    assert rig.wakes_posted() == [0, 0]
    assert stand_in.step(58 * PERIOD) == 7
    assert int(v[IoField.CONSUMED]) == 18 and int(v[IoField.BLOCKS_MISSED]) == 8
    assert [ring.read_pos for ring in rig.rings] == [18, 18]  # the slots may render on
    assert int(v[IoField.LAST_BLOCK_NS]) == 58 * PERIOD  # on the grid, not the tick's time
    assert rig.wakes_posted() == [1, 1]
    assert not stand_in.ready_to_hand_over()


def test_a_new_io_waits_for_the_clock_then_resumes_on_it(
    resuming: tuple[Rig, StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, stand_in = resuming
    v = rig.v
    v[IoField.CONSUMED] = 10
    v[IoField.LAST_BLOCK_NS] = 50 * PERIOD
    stand_in.hold(60 * PERIOD)
    stand_in.step(60 * PERIOD)  # blocks 10..19 missed
    assert rig.wakes_posted() == [1, 1]
    rig.rings[0].restart_at(20)
    rig.rings[1].restart_at(28)
    for k in range(20, 28):
        rig.publish(0, k)
    now = [60 * PERIOD + 300_000]
    monkeypatch.setattr(audio_io_module, "time", SimpleNamespace(monotonic_ns=lambda: now[0]))
    rig.out.fill(1.0)
    out = rig.run()  # the device runs, but the stand-in holds the clock: silence
    assert not np.any(out)
    assert int(v[IoField.WAITING_CALLBACKS]) == 1 and int(v[IoField.CONSUMED]) == 20
    assert rig.tap.write_pos == 0 and rig.wakes_posted() == [0, 0]
    assert stand_in.ready_to_hand_over()
    stand_in.let_go(61 * PERIOD + 100)  # block 20 fell due meanwhile
    assert v[IoField.CLOCK_HELD] == 0 and int(v[IoField.CONSUMED]) == 21
    now[0] = 63 * PERIOD + 400_000  # the device's next callback: block 21 is past, 22 due
    out = rig.run()
    fade_in = ((np.arange(BLOCK, dtype=np.float32) + 1) / BLOCK).reshape(-1, 1)
    np.testing.assert_array_equal(out, block_of(22, 0) * fade_in)
    assert int(v[IoField.BLOCKS_MISSED]) == 12  # 10..21
    assert int(v[IoField.CONSUMED]) == 23
    assert int(v[IoField.RESUMED_BLOCK]) == 22 and int(v[IoField.RESUMED_NS]) == now[0]
    assert int(v[IoField.UNDERRUNS]) == 0
    assert rig.tap.write_pos == 1 and int(rig.tap.index[0]) == 22
    now[0] += PERIOD
    np.testing.assert_array_equal(rig.run(), block_of(23, 0))  # and on, as before
