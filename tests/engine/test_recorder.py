"""The record tap and recorder: exact content, from_block, lapping, no allocation, crashes."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.engine import recorder as recorder_module
from chronus.engine.recorder import Recorder, RecordTap
from chronus.engine.rings import unique_name
from chronus.session.wav import WavWriter, read_wav

BLOCK = 8
CHANNELS = 2
RATE = 48000


def block_of(k: int) -> npt.NDArray[np.float32]:
    """A block whose every sample says which block and which frame it is."""
    frames = np.arange(BLOCK, dtype=np.float32)[:, None]
    channel = np.arange(CHANNELS, dtype=np.float32)[None, :]
    return (k * 1000.0 + frames * 10.0 + channel).astype(np.float32) / 1e6


def expected(ks: list[int | None]) -> npt.NDArray[np.float32]:
    """The blocks `ks` back to back, None for a block of silence."""
    silence = np.zeros((BLOCK, CHANNELS), dtype=np.float32)
    return np.concatenate([silence if k is None else block_of(k) for k in ks])


@pytest.fixture
def tap() -> Iterator[RecordTap]:
    """A tap created here (the reader side) and a second attachment as the writer."""
    owner = RecordTap.create(unique_name("test-rec"), capacity=4, block=BLOCK)
    yield owner
    owner.close()


@pytest.fixture
def writer(tap: RecordTap) -> Iterator[RecordTap]:
    other = RecordTap.attach(tap.name)
    yield other
    other.close()


def test_create_describes_the_ring_and_attach_shares_it(tap: RecordTap, writer: RecordTap) -> None:
    assert (writer.capacity, writer.block, writer.channels) == (4, BLOCK, CHANNELS)
    writer.put(7, block_of(7))
    assert tap.write_pos == 1 and int(tap.index[0]) == 7
    np.testing.assert_array_equal(tap.blocks[0], block_of(7))


def test_blocks_are_recorded_exactly(tap: RecordTap, writer: RecordTap, tmp_path: Path) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    assert rec.recording and rec.path == tmp_path / "take.wav"
    written = 0
    for k in range(100, 110):
        writer.put(k, block_of(k))
        if k % 3 == 0:
            written += rec.drain()
    info = rec.stop()
    assert not rec.recording and rec.path is None
    assert written == 9  # the last block is drained by stop()
    assert info == {
        "path": str(tmp_path / "take.wav"),
        "file": str(tmp_path / "take.wav"),
        "frames": 10 * BLOCK,
        "seconds": 10 * BLOCK / RATE,
        "first_block": 100,
        "lost_blocks": 0,
        "error": None,
    }
    assert rec.last == info and rec.take_finished() is None  # stopped, not ended by a length
    frames, rate = read_wav(tmp_path / "take.wav")
    assert rate == RATE
    np.testing.assert_array_equal(frames, expected(list(range(100, 110))))


def test_drain_writes_once_per_call(
    tap: RecordTap, writer: RecordTap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    calls: list[int] = []
    original = WavWriter.write

    def counting(self: WavWriter, frames: npt.NDArray[np.float32]) -> None:
        calls.append(len(frames))
        original(self, frames)

    monkeypatch.setattr(WavWriter, "write", counting)
    for k in range(3):
        writer.put(k, block_of(k))
    assert rec.drain() == 3
    assert rec.drain() == 0
    assert calls == [3 * BLOCK]
    rec.stop()


def test_before_start_blocks_are_discarded(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    for k in range(3):
        writer.put(k, block_of(k))
    assert rec.drain() == 0
    assert tap.read_pos == 3
    writer.put(3, block_of(3))
    rec.start(tmp_path / "take.wav", RATE)  # from the next block: block 3 is not taken
    writer.put(4, block_of(4))
    info = rec.stop()
    assert info["first_block"] == 4
    np.testing.assert_array_equal(read_wav(tmp_path / "take.wav")[0], expected([4]))


def test_from_block_in_the_future_skips_earlier_blocks(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE, from_block=12)
    for k in range(10, 15):
        writer.put(k, block_of(k))
        rec.drain()
    info = rec.stop()
    assert (info["first_block"], info["frames"], info["lost_blocks"]) == (12, 3 * BLOCK, 0)
    np.testing.assert_array_equal(read_wav(tmp_path / "take.wav")[0], expected([12, 13, 14]))


def test_from_block_in_the_past_takes_what_the_ring_still_holds(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    for k in range(20, 26):  # the ring (capacity 4) keeps 22..25
        writer.put(k, block_of(k))
    rec.drain()  # discarded, yet still in the slots
    rec.start(tmp_path / "take.wav", RATE, from_block=21)
    writer.put(26, block_of(26))  # overwrites block 22
    info = rec.stop()
    # blocks 21 and 22 are gone: silence in their place keeps sample 0 at block 21
    assert (info["first_block"], info["lost_blocks"]) == (21, 2)
    np.testing.assert_array_equal(
        read_wav(tmp_path / "take.wav")[0], expected([None, None, 23, 24, 25, 26])
    )


def test_lapping_is_counted_and_filled_with_silence(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    writer.put(0, block_of(0))
    writer.put(1, block_of(1))
    assert rec.drain() == 2
    for k in range(2, 9):  # 7 blocks into a ring of 4: blocks 2, 3 and 4 are lapped
        writer.put(k, block_of(k))
    assert rec.drain() == 4
    assert rec.status() == {
        "recording": True,
        "path": str(tmp_path / "take.wav"),
        "file": str(tmp_path / "take.wav"),
        "frames": 9 * BLOCK,
        "length": None,
        "lost_blocks": 3,
        "last": None,
    }
    info = rec.stop()
    assert info["lost_blocks"] == 3 and info["frames"] == 9 * BLOCK
    np.testing.assert_array_equal(
        read_wav(tmp_path / "take.wav")[0], expected([0, 1, None, None, None, 5, 6, 7, 8])
    )


def test_a_gap_in_the_block_indices_is_silence(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    for k in (5, 6, 9):  # the audio I/O skipped blocks 7 and 8
        writer.put(k, block_of(k))
    info = rec.stop()
    assert info["lost_blocks"] == 2
    np.testing.assert_array_equal(
        read_wav(tmp_path / "take.wav")[0], expected([5, 6, None, None, 9])
    )


def test_a_slot_being_overwritten_is_not_taken(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    for k in range(4):
        writer.put(k, block_of(k))
    # the writer is in the middle of put(4, ...): slot 0 is marked, half copied
    tap.seq[0] = -1
    tap.blocks[0][: BLOCK // 2] = 9.0
    assert rec.drain() == 3
    info = rec.stop()
    assert (info["first_block"], info["frames"]) == (1, 3 * BLOCK)
    np.testing.assert_array_equal(read_wav(tmp_path / "take.wav")[0], expected([1, 2, 3]))


def test_status_and_errors(tap: RecordTap, tmp_path: Path) -> None:
    rec = Recorder(tap)
    assert rec.status() == {
        "recording": False, "path": None, "file": None, "frames": 0, "length": None,
        "lost_blocks": 0, "last": None,
    }  # fmt: skip
    with pytest.raises(ValueError, match="not recording"):
        rec.stop()
    with pytest.raises(OSError):
        rec.start(tmp_path / "missing" / "take.wav", RATE)
    assert not rec.recording
    rec.start(tmp_path / "a.wav", RATE)
    with pytest.raises(ValueError, match="already recording"):
        rec.start(tmp_path / "b.wav", RATE)
    assert rec.stop()["frames"] == 0
    assert not (tmp_path / "b.wav").exists()


def test_a_length_ends_the_recording_on_its_exact_frame(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    length = 2 * BLOCK + 3  # mid-block: the third block is cut after 3 frames
    rec.start(tmp_path / "take.wav", RATE, from_block=5, frames=length)
    assert rec.status()["length"] == length
    writer.put(5, block_of(5))
    rec.drain()
    assert rec.recording and rec.take_finished() is None
    for k in range(6, 9):
        writer.put(k, block_of(k))
    rec.drain()
    assert not rec.recording
    done = rec.take_finished()
    assert done == {
        "path": str(tmp_path / "take.wav"),
        "file": str(tmp_path / "take.wav"),
        "frames": length,
        "seconds": length / RATE,
        "first_block": 5,
        "lost_blocks": 0,
        "error": None,
    }
    assert rec.take_finished() is None  # said once
    assert rec.status()["last"] == done and rec.status()["length"] is None
    np.testing.assert_array_equal(read_wav(tmp_path / "take.wav")[0], expected([5, 6, 7])[:length])
    writer.put(9, block_of(9))
    assert rec.drain() == 0  # after its end, blocks are discarded again
    with pytest.raises(ValueError, match="not recording"):
        rec.stop()


def test_a_length_of_whole_blocks_and_silence_for_lost_blocks_count(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE, from_block=0, frames=4 * BLOCK)
    for k in (0, 2, 3, 4):  # block 1 never comes: silence, and it counts toward the length
        writer.put(k, block_of(k))
    rec.drain()
    done = rec.take_finished()
    assert done is not None and (done["frames"], done["lost_blocks"]) == (4 * BLOCK, 1)
    frames, _ = read_wav(tmp_path / "take.wav")
    np.testing.assert_array_equal(frames, expected([0, None, 2, 3]))


def test_stop_before_the_length_keeps_what_was_recorded(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE, from_block=0, frames=100 * BLOCK)
    for k in range(3):
        writer.put(k, block_of(k))
    info = rec.stop()
    assert info["frames"] == 3 * BLOCK and rec.take_finished() is None
    np.testing.assert_array_equal(read_wav(tmp_path / "take.wav")[0], expected([0, 1, 2]))
    # A stop whose own drain reaches the length says what the length made.
    rec.start(tmp_path / "b.wav", RATE, frames=BLOCK + 1)
    for k in range(3, 6):
        writer.put(k, block_of(k))
    info = rec.stop()
    assert info["frames"] == BLOCK + 1 and rec.take_finished() is None
    assert not rec.recording


def test_a_length_below_one_frame_is_refused_and_creates_nothing(
    tap: RecordTap, tmp_path: Path
) -> None:
    rec = Recorder(tap)
    for frames in (0, -BLOCK):
        with pytest.raises(ValueError, match="at least 1 frame"):
            rec.start(tmp_path / "take.wav", RATE, frames=frames)
    assert not rec.recording and not (tmp_path / "take.wav").exists()


def test_put_allocates_nothing(tap: RecordTap, writer: RecordTap) -> None:
    out = block_of(1)
    writer.put(0, out)  # the first call may warm caches
    here = tracemalloc.Filter(True, recorder_module.__file__)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces([here])
        for k in range(1, 1001):
            writer.put(k, out)
        after = tracemalloc.take_snapshot().filter_traces([here])
    finally:
        tracemalloc.stop()
    diff = after.compare_to(before, "filename")
    assert sum(d.size_diff for d in diff) == 0
    assert sum(d.count_diff for d in diff) == 0
    assert writer.write_pos == 1001


def test_the_allocation_check_can_fail(tap: RecordTap, tmp_path: Path) -> None:
    """The filter above sees allocations made in recorder.py (or it would prove nothing)."""
    rec = Recorder(tap)
    here = tracemalloc.Filter(True, recorder_module.__file__)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces([here])
        rec.start(tmp_path / "take.wav", RATE)  # keeps a WavWriter made in recorder.py
        after = tracemalloc.take_snapshot().filter_traces([here])
    finally:
        tracemalloc.stop()
        rec.stop()
    assert sum(d.size_diff for d in after.compare_to(before, "filename")) > 0


CRASHING_RECORDER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from chronus.engine.recorder import Recorder, RecordTap
    from chronus.engine.rings import unique_name

    tap = RecordTap.create(unique_name("test-crash"), capacity=4, block=8)
    rec = Recorder(tap)
    rec.start(sys.argv[1], 48000)
    for k in range(6):
        tap.put(k, np.full((8, 2), k / 10, dtype=np.float32))
        rec.drain()
    tap.close()  # unlink now: SIGKILL leaves no one to do it
    print("recorded", flush=True)
    time.sleep(60)
    """
)


def test_a_killed_recorder_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RECORDER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "recorded\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    frames, rate = read_wav(path)
    assert rate == 48000
    want = np.repeat(np.arange(6, dtype=np.float32) / 10, 8)[:, None].repeat(2, axis=1)
    np.testing.assert_array_equal(frames, want)


def _write_blocks(name: str, count: int) -> None:
    tap = RecordTap.attach(name)
    try:
        for k in range(count):
            tap.put(k, block_of(k))
    finally:
        tap.close()


def test_a_racing_writer_process_never_yields_a_torn_block(tap: RecordTap, tmp_path: Path) -> None:
    """Under real concurrency every block is either intact and in place, or silence."""
    count = 20000
    rec = Recorder(tap)
    rec.start(tmp_path / "race.wav", RATE, from_block=0)
    child = mp.get_context("spawn").Process(target=_write_blocks, args=(tap.name, count))
    child.start()
    taken = 0
    while child.is_alive():
        taken += rec.drain()
    child.join()
    assert child.exitcode == 0
    taken += rec.drain()
    info = rec.stop()
    frames = read_wav(tmp_path / "race.wav")[0].reshape(-1, BLOCK, CHANNELS)
    assert len(frames) == count == info["frames"] // BLOCK
    assert taken > 0
    sounding = frames.any(axis=(1, 2))
    assert info["lost_blocks"] == count - int(sounding.sum()) == count - taken
    for k in np.flatnonzero(sounding):
        np.testing.assert_array_equal(frames[k], block_of(int(k)))


def _resident_shared_kb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("RssShmem"))


def test_fault_in_maps_the_whole_tap_into_the_process_that_writes_it() -> None:
    """The audio I/O maps the tap itself: without this, its callback took a page fault every
    few blocks the first time round the ring (4 MB, 11 s at 48 kHz / 128)."""
    owner = RecordTap.create(unique_name("test-fault"), capacity=1024, block=128)  # 1 MB
    writer = RecordTap.attach(owner.name)
    try:
        before = _resident_shared_kb()
        writer.fault_in()
        size_kb = owner.data.nbytes // 1024
        assert _resident_shared_kb() - before >= 0.9 * size_kb
    finally:
        writer.close()
        owner.close()


def test_a_recording_whose_writer_died_goes_on_from_where_its_file_ends(
    tap: RecordTap, writer: RecordTap, tmp_path: Path
) -> None:
    """A new supervisor reopens the file a dead one was writing and takes the blocks since
    its last write from the tap: the take is whole, and a torn write is cut off first."""
    path = tmp_path / "take.wav"
    first = Recorder(tap)
    first.start(path, RATE, from_block=100)
    for k in range(100, 103):
        writer.put(k, block_of(k))
    first.drain()
    assert first.resumable() == (str(path), str(path), 100, 0)
    with open(path, "ab") as torn:
        torn.write(b"\x01\x02\x03")  # a write the dead writer began
    writer.put(103, block_of(103))  # played while no supervisor drained
    second = Recorder(tap)
    reopened = WavWriter.reopen(path, RATE, CHANNELS)
    assert reopened.frames == 3 * BLOCK
    second.resume(reopened, 100, None, "take.wav")
    writer.put(104, block_of(104))
    info = second.stop()
    assert info["lost_blocks"] == 0 and info["path"] == "take.wav"
    frames, _ = read_wav(path)
    np.testing.assert_array_equal(frames, expected(list(range(100, 105))))


def test_a_file_that_is_not_a_recording_at_this_rate_is_not_reopened(tmp_path: Path) -> None:
    path = tmp_path / "take.wav"
    with WavWriter(path, RATE, CHANNELS) as wav:
        wav.write(np.zeros((BLOCK, CHANNELS), dtype=np.float32))
    with pytest.raises(ValueError, match="not a float32 WAV at 44100 Hz"):
        WavWriter.reopen(path, 44100, CHANNELS)
    (tmp_path / "text.wav").write_text("not a wav at all, but long enough to be read as one......")
    with pytest.raises(ValueError, match="not a float32 WAV"):
        WavWriter.reopen(tmp_path / "text.wav", RATE, CHANNELS)
    (tmp_path / "link.wav").symlink_to(path)
    with pytest.raises(OSError):
        WavWriter.reopen(tmp_path / "link.wav", RATE, CHANNELS)
