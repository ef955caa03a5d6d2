"""A full disk ends a recording, never the engine: the WAV stays valid for what was written,
and the recorder says why it ended. Unit tests inject the OSError at the write; the
end-to-end test (tests/e2e/test_hardening_null.py) fills a real tmpfs."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.engine.recorder import Recorder, RecordTap
from chronus.engine.rings import unique_name
from chronus.session import wav as wav_module
from chronus.session.wav import WavWriter, read_wav
from tests.engine.test_recorder import BLOCK, RATE, block_of, expected


@pytest.fixture
def tap() -> Iterator[RecordTap]:
    owner = RecordTap.create(unique_name("test-full"), capacity=8, block=BLOCK)
    yield owner
    owner.close()


def _fill_after(monkeypatch: pytest.MonkeyPatch, good_writes: int, partial: int = 0) -> None:
    """Make `WavWriter` data writes fail with ENOSPC after `good_writes` of them, the failing
    one having written `partial` bytes first (headers always go through: they overwrite)."""
    original = WavWriter._write_all
    count = [0]

    def failing(self: WavWriter, data: bytes | memoryview) -> None:
        if self._file.tell() == 0:  # a header
            original(self, data)
            return
        count[0] += 1
        if count[0] > good_writes:
            original(self, memoryview(data).cast("B")[:partial])
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, data)

    monkeypatch.setattr(WavWriter, "_write_all", failing)


def test_a_failed_write_leaves_a_valid_wav_of_what_came_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_after(monkeypatch, good_writes=2, partial=13)
    data: npt.NDArray[np.float32] = np.full((100, 2), 0.5, dtype=np.float32)
    writer = WavWriter(tmp_path / "take.wav", RATE)
    writer.write(data)
    writer.write(data)
    with pytest.raises(OSError, match="No space left"):
        writer.write(data)
    writer.close()
    assert writer.frames == 200
    frames, rate = read_wav(tmp_path / "take.wav")
    assert frames.shape == (200, 2) and rate == RATE
    assert (tmp_path / "take.wav").stat().st_size == 200 * 8 + writer._data_start


def test_a_full_disk_ends_the_recording_with_its_reason(
    tap: RecordTap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_after(monkeypatch, good_writes=1, partial=5)
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE, name="take.wav")
    for k in range(3):
        tap.put(k, block_of(k))
    assert rec.drain() == 3
    for k in range(3, 5):
        tap.put(k, block_of(k))
    rec.drain()  # the disk is full: the recording ends here, nothing raises
    assert not rec.recording
    done = rec.take_finished()
    assert done is not None
    assert done["error"] == "No space left on device"
    assert (done["path"], done["frames"]) == ("take.wav", 3 * BLOCK)
    assert rec.status()["last"] == done
    frames, _ = read_wav(tmp_path / "take.wav")
    np.testing.assert_array_equal(frames, expected([0, 1, 2]))
    for k in range(5, 7):  # the recorder goes on draining (and discarding) the tap
        tap.put(k, block_of(k))
    assert rec.drain() == 0 and tap.read_pos == tap.write_pos


def test_stop_on_a_full_disk_reports_instead_of_raising(
    tap: RecordTap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_after(monkeypatch, good_writes=0)
    rec = Recorder(tap)
    rec.start(tmp_path / "take.wav", RATE)
    tap.put(0, block_of(0))
    done = rec.stop()  # as the supervisor's shutdown does
    assert done["error"] == "No space left on device" and done["frames"] == 0
    assert read_wav(tmp_path / "take.wav")[0].shape == (0, 2)


def test_a_recording_ends_where_a_wav_can_hold_no_more(
    tap: RecordTap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wav_module, "max_frames", lambda channels, fmt: 4 * BLOCK)
    rec = Recorder(tap)
    rec.start(tmp_path / "long.wav", RATE)
    for k in range(3):
        tap.put(k, block_of(k))
    rec.drain()
    for k in range(3, 6):
        tap.put(k, block_of(k))
    rec.drain()  # 6 blocks do not fit in 4: the recording ends, the first 3 kept
    done = rec.take_finished()
    assert done is not None and done["frames"] == 3 * BLOCK
    assert "a WAV holds at most" in str(done["error"])
    np.testing.assert_array_equal(read_wav(tmp_path / "long.wav")[0], expected([0, 1, 2]))
