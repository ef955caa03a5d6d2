"""BlockPump in-process, on real shared memory and real semaphores.

Two rings stand for seats A and B; the test publishes blocks into them as the slots would and
calls `pump()` as the audio callback would, then checks what came out, what was counted, which
positions moved and who was woken.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Semaphore
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp import crossfade as crossfade_module
from chronus.engine import audio_io as audio_io_module
from chronus.engine.audio_io import BURST_WAIT_NS, BlockPump
from chronus.engine.cpu_watch import STALE_NS, CpuField, CpuStamps
from chronus.engine.recorder import RecordTap
from chronus.engine.rings import AudioRing, SharedCounters, unique_name
from chronus.engine.stats import (
    UNDERRUN_LOG_ENTRIES,
    ControlField,
    IoField,
    io_between_callbacks,
    underrun_cause,
    underrun_log,
)

BLOCK = 16
CHANNELS = 2
RATE = 48000
CAPACITY = 8
TAP_CAPACITY = 64


def block_of(k: int, seat: int) -> npt.NDArray[np.float32]:
    """A block whose samples say which seat and block they are (never zero)."""
    frames = np.arange(BLOCK, dtype=np.float32)[:, None]
    channel = np.arange(CHANNELS, dtype=np.float32)[None, :]
    return ((1 + seat) * 0.1 + k * 0.001 + frames * 1e-5 + channel * 1e-6).astype(np.float32)


@dataclass
class Rig:
    rings: tuple[AudioRing, AudioRing]
    tap: RecordTap
    io: SharedCounters
    control: SharedCounters
    wakes: tuple[Semaphore, Semaphore]
    pump: BlockPump
    out: npt.NDArray[np.float32]

    @property
    def v(self) -> npt.NDArray[np.int64]:
        return self.io.values

    def publish(self, seat: int, k: int, sounding: bool = True) -> None:
        """Seat `seat` renders block k (its ring must be at k)."""
        ring = self.rings[seat]
        assert ring.write_pos == k, (seat, ring.write_pos, k)
        np.copyto(ring.next_block(), block_of(k, seat))
        ring.publish(sounding)

    def skip(self, seat: int, k: int) -> None:
        """Seat `seat` will never render block k (as a slot that starts later would)."""
        self.rings[seat].restart_at(k + 1)

    def run(self) -> npt.NDArray[np.float32]:
        self.pump.pump(self.out)
        return self.out.copy()

    def wakes_posted(self) -> list[int]:
        """How many times each semaphore was posted since the last call (drains them)."""
        counts = []
        for wake in self.wakes:
            n = 0
            while wake.acquire(block=False):
                n += 1
            counts.append(n)
        return counts

    def tapped(self, k: int) -> npt.NDArray[np.float32]:
        """The tap's copy of block k (the pump puts one block per call, in order)."""
        position = k  # CONSUMED starts at 0, one put per pump
        slot = position % self.tap.capacity
        assert int(self.tap.seq[slot]) == position
        assert int(self.tap.index[slot]) == k
        return self.tap.blocks[slot].copy()


@pytest.fixture
def rig() -> Iterator[Rig]:
    rings = (
        AudioRing.create(unique_name("test-pump-a"), CAPACITY, BLOCK, RATE),
        AudioRing.create(unique_name("test-pump-b"), CAPACITY, BLOCK, RATE),
    )
    tap = RecordTap.create(unique_name("test-pump-tap"), TAP_CAPACITY, BLOCK)
    io = SharedCounters.create(unique_name("test-pump-io"), IoField.SIZE)
    control = SharedCounters.create(unique_name("test-pump-ctl"), ControlField.SIZE)
    control.values[ControlField.RUN] = 1
    ctx = mp.get_context("spawn")
    wakes = (ctx.Semaphore(0), ctx.Semaphore(0))
    pump = BlockPump(rings, tap, io, control, wakes)
    out = np.zeros((BLOCK, CHANNELS), dtype=np.float32)
    yield Rig(rings, tap, io, control, wakes, pump, out)
    del pump
    for ring in rings:
        ring.close()
    tap.close()
    io.close()
    control.close()


def test_the_active_block_is_played_when_present(rig: Rig) -> None:
    rig.publish(0, 0)
    rig.publish(1, 0)
    out = rig.run()
    assert int(rig.v[IoField.LONG_CALLBACKS]) == 0  # the rig's pump has no period to exceed
    np.testing.assert_array_equal(out, block_of(0, 0))
    assert int(rig.v[IoField.CONSUMED]) == 1
    assert int(rig.v[IoField.COVERED]) == 0
    assert int(rig.v[IoField.UNDERRUNS]) == 0
    assert int(rig.v[IoField.SOUNDING_BLOCKS]) == 1
    assert int(rig.v[IoField.TIMING_COUNT]) == 1
    assert int(rig.v[IoField.LAST_BLOCK_NS]) > 0
    assert rig.wakes_posted() == [1, 1]
    np.testing.assert_array_equal(rig.tapped(0), out)


def test_the_standby_covers_a_missing_active_block(rig: Rig) -> None:
    rig.skip(0, 0)  # A never renders block 0
    rig.publish(1, 0)
    out = rig.run()
    np.testing.assert_array_equal(out, block_of(0, 1))
    assert int(rig.v[IoField.COVERED]) == 1
    assert int(rig.v[IoField.UNDERRUNS]) == 0
    # the next block is A's again once A has it
    rig.publish(0, 1)
    rig.publish(1, 1)
    np.testing.assert_array_equal(rig.run(), block_of(1, 0))
    assert int(rig.v[IoField.COVERED]) == 1
    # an active that is merely late (not yet published) is covered too
    rig.publish(1, 2)
    np.testing.assert_array_equal(rig.run(), block_of(2, 1))
    assert int(rig.v[IoField.COVERED]) == 2
    assert rig.wakes_posted() == [3, 3]
    np.testing.assert_array_equal(rig.tapped(0), block_of(0, 1))
    np.testing.assert_array_equal(rig.tapped(2), block_of(2, 1))


def test_seats_apart_in_a_commit_do_not_cover_for_each_other(rig: Rig) -> None:
    rig.publish(0, 0)
    rig.publish(1, 0)
    rig.run()
    rig.control.values[ControlField.APART] = 1  # B renders a staged change: another sound
    rig.publish(1, 1)  # A is late with block 1
    gap = rig.run()
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    assert int(rig.v[IoField.COVERED]) == 0
    assert not np.any(np.isclose(gap, block_of(1, 1))), "played the other sound"
    rig.publish(0, 1)
    rig.publish(0, 2)
    rig.publish(1, 2)
    np.testing.assert_array_equal(rig.run()[-1], block_of(2, 0)[-1])  # back, faded in
    # once the commit is over, the seats are copies again and cover as before
    rig.control.values[ControlField.APART] = 0
    rig.publish(1, 3)
    np.testing.assert_array_equal(rig.run(), block_of(3, 1))
    assert int(rig.v[IoField.COVERED]) == 1


def test_the_active_flag_chooses_the_preferred_ring(rig: Rig) -> None:
    for k in range(4):
        rig.publish(0, k)
        rig.publish(1, k)
    np.testing.assert_array_equal(rig.run(), block_of(0, 0))
    rig.control.values[ControlField.ACTIVE] = 1
    np.testing.assert_array_equal(rig.run(), block_of(1, 1))
    np.testing.assert_array_equal(rig.run(), block_of(2, 1))
    rig.control.values[ControlField.ACTIVE] = 0
    np.testing.assert_array_equal(rig.run(), block_of(3, 0))
    assert int(rig.v[IoField.COVERED]) == 0
    # with B active, A covers a block B lacks
    rig.control.values[ControlField.ACTIVE] = 1
    rig.publish(0, 4)
    np.testing.assert_array_equal(rig.run(), block_of(4, 0))
    assert int(rig.v[IoField.COVERED]) == 1


def test_neither_ring_has_the_block_fades_out_then_in(rig: Rig) -> None:
    rig.publish(0, 0)
    played = rig.run()
    last = played[-1].copy()
    assert np.all(last != 0)
    # block 1: nobody has it
    gap = rig.run()
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    assert int(rig.v[IoField.LAST_UNDERRUN_BLOCK]) == 1
    assert int(rig.v[IoField.COVERED]) == 0
    np.testing.assert_allclose(gap[0], last, rtol=1.5 / BLOCK)  # starts ≈ the last sample
    assert np.all(np.abs(gap[0]) <= np.abs(last))
    np.testing.assert_array_equal(gap[-1], np.zeros(CHANNELS, dtype=np.float32))
    steps = np.diff(np.abs(gap), axis=0)
    assert np.all(steps < 0)  # strictly falling to silence: a dip, not a click
    np.testing.assert_array_equal(rig.tapped(1), gap)
    # block 2 is back: faded in from nearly zero to the source's own value
    for seat in (0, 1):
        rig.rings[seat].restart_at(2)
    rig.publish(0, 2)
    back = rig.run()
    source = block_of(2, 0)
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    np.testing.assert_allclose(back[0], source[0] / BLOCK, rtol=1e-6)
    assert np.all(np.abs(back[0]) < np.abs(source[0]) / 2)
    np.testing.assert_array_equal(back[-1], source[-1])
    assert np.all(np.diff(np.abs(back), axis=0) > 0)
    # and the block after is played as it is
    rig.publish(0, 3)
    np.testing.assert_array_equal(rig.run(), block_of(3, 0))
    assert rig.wakes_posted() == [4, 4]


def test_an_underrun_after_silence_is_silent(rig: Rig) -> None:
    out = rig.run()  # nothing ever played: the fade starts from zero
    np.testing.assert_array_equal(out, np.zeros((BLOCK, CHANNELS), dtype=np.float32))
    out = rig.run()
    np.testing.assert_array_equal(out, np.zeros((BLOCK, CHANNELS), dtype=np.float32))
    assert int(rig.v[IoField.UNDERRUNS]) == 2
    assert int(rig.v[IoField.LAST_UNDERRUN_BLOCK]) == 1
    first, second = underrun_log(rig.v, BLOCK, RATE)
    assert (first["block"], second["block"]) == (0, 1)
    assert first["active"] == "A" and first["behind"] == {"A": 1, "B": 1}
    assert second["behind"] == {"A": 2, "B": 2}
    assert second["after_ms"] > 0
    assert second["cause"] == underrun_cause(second["after_ms"], 1000 * BLOCK / RATE)


def test_the_underrun_log_keeps_the_newest(rig: Rig) -> None:
    rig.publish(0, 0)
    rig.publish(1, 0)
    rig.publish(1, 1)
    rig.run()
    rig.control.values[ControlField.ACTIVE] = 1
    rig.run()  # B has block 1
    for _ in range(UNDERRUN_LOG_ENTRIES + 3):
        rig.run()
    log = underrun_log(rig.v, BLOCK, RATE)
    assert int(rig.v[IoField.UNDERRUNS]) == UNDERRUN_LOG_ENTRIES + 3
    assert [row["block"] for row in log] == list(range(5, 5 + UNDERRUN_LOG_ENTRIES))
    assert {row["active"] for row in log} == {"B"}
    assert log[0]["behind"] == {"A": 5 + 1 - 1, "B": 5 + 1 - 2}


def test_read_positions_of_both_rings_follow_the_clock(rig: Rig) -> None:
    for k in range(3):
        rig.publish(0, k)
        rig.run()
        assert rig.rings[0].read_pos == rig.rings[1].read_pos == k + 1
    assert rig.rings[1].write_pos == 0  # B rendered nothing, yet its read position moved
    rig.run()  # an underrun advances them too
    assert rig.rings[0].read_pos == rig.rings[1].read_pos == 4
    assert int(rig.v[IoField.CONSUMED]) == 4


def test_each_pump_posts_each_wake_once(rig: Rig) -> None:
    assert rig.wakes_posted() == [0, 0]
    rig.publish(0, 0)
    rig.run()
    assert rig.wakes_posted() == [1, 1]
    rig.run()  # underrun
    assert rig.wakes_posted() == [1, 1]
    for _ in range(5):
        rig.run()
    assert rig.wakes_posted() == [5, 5]


def test_restart_at_hides_older_blocks(rig: Rig) -> None:
    ring = rig.rings[0]
    for k in range(4):
        rig.publish(0, k)
    assert all(ring.has_block(k) for k in range(4))
    ring.restart_at(2)
    assert ring.write_pos == 2
    assert not any(ring.has_block(k) for k in range(4))
    rig.publish(0, 2)
    assert ring.has_block(2) and not ring.has_block(1) and not ring.has_block(3)
    # a block the old writer published before START is not played: block 0 → B or underrun
    rig.publish(1, 0)
    np.testing.assert_array_equal(rig.run(), block_of(0, 1))
    assert int(rig.v[IoField.COVERED]) == 1


def test_restart_hides_a_dead_writers_blocks_in_the_pump(rig: Rig) -> None:
    # A published 0..3, then died; its successor starts at block 3 and has not rendered yet
    for k in range(4):
        rig.publish(0, k)
    rig.rings[0].restart_at(3)
    for k in range(3):
        rig.publish(1, k)
    for k in range(3):
        np.testing.assert_array_equal(rig.run(), block_of(k, 1))
    assert int(rig.v[IoField.COVERED]) == 3
    rig.run()  # block 3: the stale copy in A's ring must not be played
    assert int(rig.v[IoField.UNDERRUNS]) == 1


def test_capacity_limits_what_has_block_keeps(rig: Rig) -> None:
    ring = rig.rings[0]
    for k in range(CAPACITY + 2):
        ring.header[AudioRing.READ] = k  # a reader that keeps up
        rig.publish(0, k)
    assert not ring.has_block(0) and not ring.has_block(1)
    assert ring.has_block(2) and ring.has_block(CAPACITY + 1)
    assert not ring.has_block(CAPACITY + 2)


def test_sounding_flags_count_and_time_onsets(rig: Rig) -> None:
    rig.publish(0, 0, sounding=False)
    rig.run()
    assert int(rig.v[IoField.SOUNDING_BLOCKS]) == 0
    assert int(rig.v[IoField.LAST_ONSET_NS]) == 0
    rig.publish(0, 1, sounding=True)
    rig.run()
    onset = int(rig.v[IoField.LAST_ONSET_NS])
    assert onset > 0
    rig.publish(0, 2, sounding=True)
    rig.run()
    assert int(rig.v[IoField.LAST_ONSET_NS]) == onset  # still sounding: no new onset
    assert int(rig.v[IoField.SOUNDING_BLOCKS]) == 2


def test_the_tap_gets_every_block_in_order(rig: Rig) -> None:
    outs = []
    for k in range(6):
        if k != 3:
            rig.publish(0, k)
        else:
            rig.skip(0, 3)
        outs.append(rig.run())
    assert rig.tap.write_pos == 6
    for k, out in enumerate(outs):
        np.testing.assert_array_equal(rig.tapped(k), out)


def test_device_callback_checks_the_size(rig: Rig) -> None:
    rig.publish(0, 0)
    wrong = np.ones((BLOCK // 2, CHANNELS), dtype=np.float32)
    rig.pump.device_callback(wrong, BLOCK // 2, None, None)
    np.testing.assert_array_equal(wrong, 0.0)
    assert int(rig.v[IoField.WRONG_SIZE]) == 1
    assert int(rig.v[IoField.CONSUMED]) == 0
    out = np.zeros((BLOCK, CHANNELS), dtype=np.float32)
    rig.pump.device_callback(out, BLOCK, None, "output underflow")
    np.testing.assert_array_equal(out, block_of(0, 0))
    assert int(rig.v[IoField.XRUNS]) == 1
    assert int(rig.v[IoField.CONSUMED]) == 1


@pytest.fixture
def stamps() -> Iterator[CpuStamps]:
    """CPU stamps with a stamper on CPU 0 whose stamp stays fresh however long a test takes."""
    block = CpuStamps(SharedCounters.create(unique_name("test-pump-cpus"), CpuStamps.size()))
    block.values[CpuField.STAMP] = time.monotonic_ns() + 10**9
    yield block
    block.close()


def _stamped_pump(rig: Rig, stamps: CpuStamps, period_ns: int) -> BlockPump:
    return BlockPump(rig.rings, rig.tap, rig.io, rig.control, rig.wakes, stamps, period_ns)


def test_an_xrun_right_after_a_host_stall_is_counted_as_the_hosts(
    rig: Rig, stamps: CpuStamps
) -> None:
    pump = _stamped_pump(rig, stamps, 1)
    stamps.values[CpuField.LAST_STALL_END_NS] = time.monotonic_ns() + 10**9  # just now
    pump.count_xrun()
    assert int(rig.v[IoField.XRUNS]) == 1
    assert int(rig.v[IoField.XRUNS_IN_HOST_STALLS]) == 1
    stamps.values[CpuField.LAST_STALL_END_NS] = 0
    time.sleep(3 * STALE_NS / 1e9)  # past the window (2 periods of 1 ns + STALE_NS)
    pump.count_xrun()
    assert int(rig.v[IoField.XRUNS]) == 2
    assert int(rig.v[IoField.XRUNS_IN_HOST_STALLS]) == 1


def test_an_xrun_soon_after_one_put_on_the_host_is_the_hosts_too(
    rig: Rig, stamps: CpuStamps
) -> None:
    pump = _stamped_pump(rig, stamps, 10**8)
    stamps.values[CpuField.LAST_STALL_END_NS] = time.monotonic_ns()
    pump.count_xrun()
    stamps.values[CpuField.LAST_STALL_END_NS] = 0  # as if that stall were long ago
    pump.count_xrun()  # within XRUN_AFTER_STALL_PERIODS periods (of 100 ms here)
    assert int(rig.v[IoField.XRUNS_IN_HOST_STALLS]) == 2


def test_a_callback_longer_than_a_period_is_counted_and_told_apart(
    rig: Rig, stamps: CpuStamps
) -> None:
    pump = _stamped_pump(rig, stamps, 1)
    rig.publish(0, 0)
    pump.pump(rig.out)  # longer than 1 ns, with no CPU stalled
    assert int(rig.v[IoField.LONG_CALLBACKS]) == 1
    assert int(rig.v[IoField.LONG_CALLBACKS_IN_HOST_STALLS]) == 0
    stamps.values[CpuField.STAMP] = 1  # CPU 0 held up right now
    rig.publish(0, 1)
    pump.pump(rig.out)
    assert int(rig.v[IoField.LONG_CALLBACKS]) == 2
    assert int(rig.v[IoField.LONG_CALLBACKS_IN_HOST_STALLS]) == 1


def _burst_pump(rig: Rig) -> BlockPump:
    """A pump whose period (1 s) makes any callback right after the last one a burst."""
    pump = BlockPump(rig.rings, rig.tap, rig.io, rig.control, rig.wakes, None, 10**9)
    rig.v[IoField.LAST_BLOCK_NS] = time.monotonic_ns()
    return pump


def test_in_a_burst_the_callback_waits_for_the_block_a_slot_is_finishing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio_io_module, "BURST_WAIT_NS", 10**9)  # however slow this host is
    pump = _burst_pump(rig)
    sleep = time.sleep

    def standby_finishes_meanwhile(seconds: float) -> None:
        # Published as the callback waits, not after a timer: a timer fired before the
        # callback began on a loaded host (the block on time: no wait, no save).
        rig.publish(1, 0)
        sleep(seconds)

    monkeypatch.setattr(audio_io_module.time, "sleep", standby_finishes_meanwhile)
    pump.pump(rig.out)
    monkeypatch.undo()
    np.testing.assert_array_equal(rig.out, block_of(0, 1))
    assert int(rig.v[IoField.UNDERRUNS]) == 0
    assert int(rig.v[IoField.COVERED]) == 1
    assert (int(rig.v[IoField.BURST_WAITS]), int(rig.v[IoField.BURST_SAVES])) == (1, 1)


def test_in_a_burst_the_wait_is_bounded_and_then_it_is_an_underrun(rig: Rig) -> None:
    pump = _burst_pump(rig)
    started = time.monotonic_ns()
    pump.pump(rig.out)
    assert time.monotonic_ns() - started >= BURST_WAIT_NS
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    assert (int(rig.v[IoField.BURST_WAITS]), int(rig.v[IoField.BURST_SAVES])) == (1, 0)


def test_a_callback_on_time_does_not_wait(rig: Rig) -> None:
    pump = BlockPump(rig.rings, rig.tap, rig.io, rig.control, rig.wakes, None, 10**6)
    rig.v[IoField.LAST_BLOCK_NS] = time.monotonic_ns() - 10**6  # a period ago
    pump.pump(rig.out)
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    assert int(rig.v[IoField.BURST_WAITS]) == 0


def test_in_a_burst_during_a_commit_only_the_active_counts(rig: Rig) -> None:
    rig.control.values[ControlField.APART] = 1
    pump = _burst_pump(rig)
    rig.publish(1, 0)  # the standby has it, but it renders another patch
    pump.pump(rig.out)
    assert int(rig.v[IoField.UNDERRUNS]) == 1
    assert (int(rig.v[IoField.BURST_WAITS]), int(rig.v[IoField.BURST_SAVES])) == (1, 0)


def test_without_stamps_no_xrun_is_put_on_the_host(rig: Rig) -> None:
    rig.pump.count_xrun()
    assert int(rig.v[IoField.XRUNS]) == 1
    assert int(rig.v[IoField.XRUNS_IN_HOST_STALLS]) == 0


def test_pump_allocates_nothing(rig: Rig) -> None:
    def feed(k: int) -> None:
        # every third block from B, every seventh from nobody: all three paths run
        if k % 7 == 6:
            for seat in (0, 1):
                rig.rings[seat].restart_at(k + 1)
            return
        if k % 3 != 2:
            rig.publish(0, k)
        else:
            rig.rings[0].restart_at(k + 1)
        rig.publish(1, k)

    for k in range(50):  # warm-up: caches, first fade
        feed(k)
        rig.pump.pump(rig.out)
    here = tracemalloc.Filter(True, audio_io_module.__file__)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces([here])
        for k in range(50, 1050):
            feed(k)
            rig.pump.pump(rig.out)
        after = tracemalloc.take_snapshot().filter_traces([here])
    finally:
        tracemalloc.stop()
    diff = after.compare_to(before, "filename")
    assert sum(d.size_diff for d in diff) == 0
    assert sum(d.count_diff for d in diff) == 0
    assert int(rig.v[IoField.CONSUMED]) == 1050
    assert int(rig.v[IoField.UNDERRUNS]) == 1050 // 7
    assert int(rig.v[IoField.COVERED]) > 250


def test_a_commit_crossfades_with_equal_power_and_allocates_nothing(rig: Rig) -> None:
    blocks = 3
    for k in range(40 + blocks + 2):
        rig.publish(0, k)
        rig.publish(1, k)
        if k < 40:
            rig.run()
    control = rig.control.values
    control[ControlField.XFADE_FROM] = 0
    control[ControlField.XFADE_START] = 41
    control[ControlField.XFADE_BLOCKS] = blocks
    control[ControlField.ACTIVE] = 1
    np.testing.assert_array_equal(rig.run(), block_of(40, 0))  # before the switch: the old
    total = blocks * BLOCK
    here = [tracemalloc.Filter(True, audio_io_module.__file__),
            tracemalloc.Filter(True, crossfade_module.__file__)]  # fmt: skip
    faded = [rig.run()]  # the first block warms numpy's casting caches
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(here)
        faded += [rig.run() for _ in range(blocks - 1)]
        after = tracemalloc.take_snapshot().filter_traces(here)
    finally:
        tracemalloc.stop()
    diff = after.compare_to(before, "filename")
    assert sum(d.size_diff for d in diff) == 0 and sum(d.count_diff for d in diff) == 0
    theta = (np.arange(total) + 0.5) * np.pi / (2 * total)
    old = np.concatenate([block_of(41 + j, 0) for j in range(blocks)]).astype(np.float64)
    new = np.concatenate([block_of(41 + j, 1) for j in range(blocks)]).astype(np.float64)
    expected = old * np.cos(theta)[:, None] + new * np.sin(theta)[:, None]
    np.testing.assert_allclose(np.concatenate(faded), expected, rtol=1e-6)
    assert np.cos(theta[0]) > 0.999 and np.sin(theta[-1]) > 0.999
    np.testing.assert_array_equal(rig.run(), block_of(41 + blocks, 1))  # after: the new
    assert int(rig.v[IoField.UNDERRUNS]) == 0 and int(rig.v[IoField.COVERED]) == 0


def _spliced(last: npt.NDArray[np.float32], block: npt.NDArray[np.float32]) -> Any:
    """`block` blended in from `last` (the sample played before it), linearly over the block."""
    ramp = ((np.arange(BLOCK) + 1) / BLOCK)[:, None]
    return last[None, :] + (block.astype(np.float64) - last[None, :]) * ramp


def test_a_crossfade_block_the_old_slot_has_not_published_is_the_new_ones_spliced(
    rig: Rig,
) -> None:
    # The old active late at the switch (a CI run's chaos test: one block of a commit
    # differed from the offline render; a CI run's snapshot load clicked, a step of 0.126
    # against 0.011 around it): the new slot's block alone, blended in from the last sample
    # played, and the next block of the fade blended in from where that one ended; counted.
    for k in range(2):
        rig.publish(0, k)
        rig.publish(1, k)
        played = rig.run()
    control = rig.control.values
    control[ControlField.XFADE_FROM] = 0
    control[ControlField.XFADE_START] = 2
    control[ControlField.XFADE_BLOCKS] = 3
    control[ControlField.ACTIVE] = 1
    rig.publish(1, 2)  # the old (seat 0) is late with block 2
    alone = rig.run()
    np.testing.assert_allclose(alone, _spliced(played[-1], block_of(2, 1)), rtol=1e-6)
    assert int(rig.v[IoField.ONE_SIDED_FADES]) == 1
    assert int(rig.v[IoField.UNDERRUNS]) == 0 and int(rig.v[IoField.COVERED]) == 0
    rig.publish(0, 2)
    rig.publish(0, 3)
    rig.publish(1, 3)
    spliced = rig.run()  # both have block 3: faded again, blended in from the block before
    rig.publish(0, 4)
    rig.publish(1, 4)
    faded = rig.run()  # the fade as it would have been
    assert int(rig.v[IoField.ONE_SIDED_FADES]) == 1
    assert not np.array_equal(faded, block_of(4, 1)) and not np.array_equal(faded, block_of(4, 0))
    theta = (np.arange(3 * BLOCK) + 0.5) * np.pi / (6 * BLOCK)
    mix = [
        block_of(k, 0) * np.cos(theta[j * BLOCK : (j + 1) * BLOCK, None])
        + block_of(k, 1) * np.sin(theta[j * BLOCK : (j + 1) * BLOCK, None])
        for j, k in ((1, 3), (2, 4))
    ]  # fmt: skip
    np.testing.assert_allclose(spliced, _spliced(alone[-1], mix[0]), rtol=1e-5)
    np.testing.assert_allclose(faded, mix[1], rtol=1e-5)
    # Unspliced, the seams were the whole gap between the two sources; now each is a step
    # no larger than a splice's share of it.
    heard = np.concatenate([played[-1:], alone, spliced, faded]).astype(np.float64)
    unspliced = np.concatenate([played[-1:], block_of(2, 1), mix[0], mix[1]])
    assert np.abs(np.diff(heard[:, 0])).max() < np.abs(np.diff(unspliced[:, 0])).max() / 4


def test_a_one_sided_crossfade_block_is_spliced_without_allocating(rig: Rig) -> None:
    for k in range(2):
        rig.publish(0, k)
        rig.publish(1, k)
        rig.run()
    control = rig.control.values
    control[ControlField.XFADE_FROM] = 0
    control[ControlField.XFADE_START] = 2
    control[ControlField.XFADE_BLOCKS] = 6
    control[ControlField.ACTIVE] = 1
    rig.publish(1, 2)
    rig.run()  # the first splice warms numpy's casting caches
    rig.publish(0, 2)
    here = [tracemalloc.Filter(True, audio_io_module.__file__),
            tracemalloc.Filter(True, crossfade_module.__file__)]  # fmt: skip
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(here)
        for k in (3, 4):
            rig.publish(1, k)  # the old late again: spliced, then the next spliced too
            rig.run()
            rig.publish(0, k)
        after = tracemalloc.take_snapshot().filter_traces(here)
    finally:
        tracemalloc.stop()
    assert int(rig.v[IoField.ONE_SIDED_FADES]) == 3
    diff = after.compare_to(before, "filename")
    assert sum(d.size_diff for d in diff) == 0 and sum(d.count_diff for d in diff) == 0


def test_the_allocation_check_can_fail(rig: Rig) -> None:
    """The filter above sees allocations made in audio_io.py (or it would prove nothing)."""
    here = tracemalloc.Filter(True, audio_io_module.__file__)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces([here])
        kept = BlockPump(rig.rings, rig.tap, rig.io, rig.control, rig.wakes)
        after = tracemalloc.take_snapshot().filter_traces([here])
    finally:
        tracemalloc.stop()
    assert sum(d.size_diff for d in after.compare_to(before, "filename")) > 0
    del kept


class _Watched(np.ndarray):
    """The I/O's counters, calling `seen` after each write the pump makes: every point at
    which another process (the supervisor's status) may read them."""

    seen: Callable[[], None]

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.seen()


@dataclass
class _Counters:
    values: npt.NDArray[np.int64]


def test_a_reading_between_callbacks_counts_only_the_blocks_the_clock_has_passed(
    rig: Rig,
) -> None:
    rig.publish(0, 0)
    rig.run()  # block 0 unwatched: from here on `HANDING` names a block a callback began
    plain = rig.v
    readings: list[tuple[tuple[int, int, int], npt.NDArray[np.int64] | None]] = []

    def seen() -> None:
        one_by_one = (
            int(plain[IoField.CONSUMED]),
            int(plain[IoField.SOUNDING_BLOCKS]),
            int(plain[IoField.UNDERRUNS]),
        )
        readings.append((one_by_one, io_between_callbacks(plain)))

    watched = plain.view(_Watched)
    watched.seen = seen
    pump = BlockPump(rig.rings, rig.tap, _Counters(watched), rig.control, rig.wakes)  # type: ignore[arg-type]
    sounding = {0: True}
    underruns: set[int] = set()
    for k, flag in [(1, True), (2, False), (3, True), (4, None), (5, True), (6, True)]:
        if flag is None:
            rig.skip(0, k)  # neither seat has it: an underrun
            underruns.add(k)
        else:
            rig.publish(0, k, flag)
            sounding[k] = flag
        pump.pump(rig.out)

    def counts(consumed: int) -> tuple[int, int, int]:
        return (
            consumed,
            sum(sounding.get(k, False) for k in range(consumed)),
            sum(k in underruns for k in range(consumed)),
        )

    whole = [copy for _, copy in readings if copy is not None]
    for copy in whole:
        taken = (
            int(copy[IoField.CONSUMED]),
            int(copy[IoField.SOUNDING_BLOCKS]),
            int(copy[IoField.UNDERRUNS]),
        )
        assert taken == counts(taken[0])
    assert {int(copy[IoField.CONSUMED]) for copy in whole} == set(range(2, 8))  # after each
    # Read one by one, the counters were a block ahead of the clock at some points: what
    # the status reported before (a sounding block too many at the start of a span).
    ahead = [read for read, _ in readings if read != counts(read[0])]
    assert any(read[1] > counts(read[0])[1] for read in ahead)
    assert any(read[2] > counts(read[0])[2] for read in ahead)
