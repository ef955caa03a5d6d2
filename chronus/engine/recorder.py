"""Recording what the engine plays: a tap in shared memory and the recorder that drains it.

The audio I/O (writer) copies every block it outputs into a `RecordTap`, a ring in shared
memory; the supervisor (reader) runs a `Recorder` that drains the ring into a WAV file. The
writer never waits: if the reader falls a whole ring behind, old blocks are overwritten, and
the recorder counts them as lost and writes silence in their place, so the file stays aligned
with the engine's sample clock. A recording given a length ends by itself on its exact frame:
the engine, not a client's timer, owns it.
"""

from __future__ import annotations

import os
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from chronus.engine.rings import HeaderRing, open_segment
from chronus.session.wav import Opener, WavWriter

__all__ = ["RecordTap", "Recorder"]

_HEADER_SLOTS: Final = 16
_HEADER_BYTES: Final = _HEADER_SLOTS * 8


class RecordTap(HeaderRing):
    """Blocks of float32 audio from the audio I/O (writer) to the recorder (reader), SPSC.

    Header (int64): write position (blocks put so far), read position (blocks drained),
    capacity in blocks, block size in frames, channels. Two int64 arrays follow, one entry per
    slot: `index`, the absolute block index the writer gave with the block, and `seq`, the
    write position the slot holds (−1 while the writer is filling it). `seq` is what lets the
    reader tell an intact block from one the writer lapped or is overwriting right now.
    Position *p* lives in slot ``p % capacity``.
    """

    CAPACITY: Final = 2
    BLOCK: Final = 3
    CHANNELS: Final = 4

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        super().__init__(shm, owner)
        self.capacity = int(self.header[self.CAPACITY])
        self.block = int(self.header[self.BLOCK])
        self.channels = int(self.header[self.CHANNELS])
        self.index: npt.NDArray[np.int64] = np.ndarray(
            (self.capacity,), dtype=np.int64, buffer=shm.buf, offset=_HEADER_BYTES
        )
        self.seq: npt.NDArray[np.int64] = np.ndarray(
            (self.capacity,),
            dtype=np.int64,
            buffer=shm.buf,
            offset=_HEADER_BYTES + 8 * self.capacity,
        )
        self.data: npt.NDArray[np.float32] = np.ndarray(
            (self.capacity, self.block, self.channels),
            dtype=np.float32,
            buffer=shm.buf,
            offset=_HEADER_BYTES + 16 * self.capacity,
        )
        self.blocks: list[npt.NDArray[np.float32]] = [self.data[i] for i in range(self.capacity)]

    @classmethod
    def create(cls, name: str, capacity: int, block: int, channels: int = 2) -> RecordTap:
        """Create and zero a tap (the supervisor does this; it also unlinks it)."""
        if capacity < 1 or block < 1 or channels < 1:
            raise ValueError("capacity, block and channels must be at least 1")
        size = _HEADER_BYTES + 16 * capacity + capacity * block * channels * 4
        shm = open_segment(name, size, create=True)
        header = np.ndarray((_HEADER_SLOTS,), dtype=np.int64, buffer=shm.buf)
        header[:] = 0
        header[cls.CAPACITY] = capacity
        header[cls.BLOCK] = block
        header[cls.CHANNELS] = channels
        tap = cls(shm, owner=True)
        tap.data.fill(0.0)  # touch every page now, not in the audio callback
        tap.index.fill(0)
        tap.seq.fill(-1)  # no slot holds a block yet
        return tap

    def fault_in(self) -> None:
        """Map every page of the tap into this process now (a read of one value a page), so
        that the audio callback takes no page fault the first time round the ring, and this
        process's memory does not seem to grow by the tap's size in its first seconds."""
        flat = self.data.reshape(-1)
        float(flat[:: max(1, 4096 // flat.itemsize)].sum())

    def put(self, k: int, out: npt.NDArray[np.float32]) -> None:
        """Copy one output block (block, channels) stamped with its absolute index *k*.

        For the audio callback: never blocks, allocates nothing, overwrites the oldest block
        when the reader is a whole ring behind. *k* must grow from call to call.
        """
        w = int(self.header[self.WRITE])
        i = w % self.capacity
        self.seq[i] = -1  # the reader must not trust this slot until it says `w`
        np.copyto(self.blocks[i], out)
        self.index[i] = k
        self.seq[i] = w
        self.header[self.WRITE] = w + 1

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        del self.blocks
        del self.data, self.header, self.index, self.seq
        self._release()


class Recorder:
    """The reader of a `RecordTap`: drains it into a WAV file while recording, else discards.

    The supervisor calls `drain()` regularly (often enough that the writer never laps it),
    `start()`/`stop()` on command, and `take_finished()` after each drain to learn that a
    recording with a length has ended. Not thread-safe: one owner calls every method.
    """

    def __init__(self, tap: RecordTap) -> None:
        self.tap = tap
        self._writer: WavWriter | None = None
        self._next_k: int | None = None
        self._first_block: int | None = None
        self._lost = 0
        self._limit: int | None = None
        self._finished: dict[str, Any] | None = None
        self._name = ""
        self._error: str | None = None
        self.last: dict[str, Any] | None = None
        """What `stop()` said of the last recording that ended (by a stop or its length)."""

    @property
    def recording(self) -> bool:
        """Whether a file is open."""
        return self._writer is not None

    @property
    def path(self) -> Path | None:
        """The file being recorded, or None."""
        return None if self._writer is None else self._writer.path

    def start(
        self,
        path: str | os.PathLike[str],
        rate: int,
        from_block: int | None = None,
        frames: int | None = None,
        opener: Opener | None = None,
        name: str | None = None,
    ) -> None:
        """Open `path` and record every block with absolute index ≥ `from_block`.

        With `from_block` None, recording begins with the next block the writer puts. A
        `from_block` in the past takes the blocks still in the ring; blocks older than those
        are counted lost and written as silence, so sample 0 of the file is block
        `from_block`. With `frames`, the recording ends by itself once the file holds exactly
        that many frames (see `take_finished`). Raises ValueError if already recording or
        `frames` is below 1, and OSError if `path` cannot be created. `opener` opens the
        file (see `WavWriter`); `name` is what replies and the status call it (default: the
        path).
        """
        if self._writer is not None:
            raise ValueError(f"already recording to {self._writer.path}; stop first")
        if from_block is not None and from_block < 0:
            raise ValueError(f"from_block must be ≥ 0, got {from_block}")
        if frames is not None and frames < 1:
            raise ValueError(f"a recording lasts at least 1 frame, got {frames}")
        writer = WavWriter(path, rate, self.tap.channels, opener=opener)
        self._name = str(path) if name is None else name
        self._error = None
        w = self.tap.write_pos
        if from_block is None:
            self.tap.header[RecordTap.READ] = w
        else:
            # The blocks already drained (and discarded) are still in their slots until lapped.
            self.tap.header[RecordTap.READ] = max(0, w - self.tap.capacity)
        self._writer = writer
        self._next_k = from_block
        self._first_block = from_block
        self._lost = 0
        self._limit = frames

    def resume(self, writer: WavWriter, first_block: int, frames: int | None, name: str) -> None:
        """Go on with a recording a supervisor before this one began (see `WavWriter.reopen`):
        frame 0 of `writer`'s file is block `first_block`, and it ends at `frames` if given.
        The blocks since its last write are taken from the tap (it holds 11 s); older ones
        are lost (silence, counted)."""
        if self._writer is not None:
            raise ValueError(f"already recording to {self._writer.path}; stop first")
        self.tap.header[RecordTap.READ] = max(0, self.tap.write_pos - self.tap.capacity)
        self._writer, self._name, self._error = writer, name, None
        self._first_block = first_block
        self._next_k = first_block + writer.frames // self.tap.block
        self._lost = 0
        self._limit = frames

    def resumable(self) -> tuple[str, str, int, int] | None:
        """The recording in progress as a new supervisor would go on with it: (name, file,
        first block, length in frames or 0); None when not recording."""
        if self._writer is None or self._first_block is None:
            return None
        return self._name, str(self._writer.path), self._first_block, self._limit or 0

    def drain(self) -> int:
        """Move every available block into the file; the number of blocks from the ring.

        One `WavWriter.write` per call. Lost blocks (lapped by the writer, or missing from the
        index sequence) are written as silence and counted, not included in the result. When
        not recording, the available blocks are discarded and 0 is returned. A recording
        that reaches its length is cut on its last frame and closed here.
        """
        tap = self.tap
        w = tap.write_pos
        r = tap.read_pos
        if self._writer is None or w <= r:
            tap.header[RecordTap.READ] = w
            return 0
        positions = np.arange(max(r, w - tap.capacity), w, dtype=np.int64)
        slots = positions % tap.capacity
        # A seqlock per slot: the copy is good only if the slot held this position before
        # and after it was read, so a block the writer lapped or is filling is never taken.
        before = tap.seq[slots]
        blocks = tap.data[slots]
        indices = tap.index[slots]
        after = tap.seq[slots]
        tap.header[RecordTap.READ] = w
        intact = (before == positions) & (after == positions)

        parts: list[npt.NDArray[np.float32]] = []
        taken = 0
        for j in np.flatnonzero(intact):
            k = int(indices[j])
            if self._next_k is None:
                self._next_k = self._first_block = k
            if k < self._next_k:
                continue  # before from_block (or a writer that went back in time)
            if k > self._next_k:
                gap = k - self._next_k
                self._lost += gap
                parts.append(np.zeros((gap * tap.block, tap.channels), dtype=np.float32))
            parts.append(blocks[j])
            taken += 1
            self._next_k = k + 1
        if parts:
            audio = np.concatenate(parts)
            if self._limit is not None:
                audio = audio[: self._limit - self._writer.frames]
            try:
                self._writer.write(audio)
            except OSError as exc:  # a full disk ends the recording, never the engine
                self._error = exc.strerror or str(exc)
                self._finished = self._close()
                return taken
            if self._limit is not None and self._writer.frames >= self._limit:
                self._finished = self._close()
        return taken

    def take_finished(self) -> dict[str, Any] | None:
        """What `stop()` would have said of a recording that reached its length since the
        last call, once; else None."""
        finished, self._finished = self._finished, None
        return finished

    def stop(self) -> dict[str, Any]:
        """Drain, close the file and describe it: path (as named), file (where it is),
        frames, seconds, first_block, lost_blocks and error (None, or why it ended early:
        a full disk).

        `first_block` is None if no block arrived. Raises ValueError if not recording (also
        when a recording with a length has just ended: `take_finished` describes it).
        """
        if self._writer is None:
            raise ValueError("not recording")
        self.drain()
        if self._writer is None:  # the drain took it to its length
            finished = self.take_finished()
            assert finished is not None
            return finished
        return self._close()

    def _close(self) -> dict[str, Any]:
        writer = self._writer
        assert writer is not None
        try:
            writer.close()
        except OSError as exc:
            self._error = self._error or exc.strerror or str(exc)
        self._writer = None
        self._limit = None
        self.last = {
            "path": self._name,
            "file": str(writer.path),
            "frames": writer.frames,
            "seconds": writer.frames / writer.rate,
            "first_block": self._first_block,
            "lost_blocks": self._lost,
            "error": self._error,
        }
        return dict(self.last)

    def status(self) -> dict[str, Any]:
        """recording, path, frames, length (frames; None: until stopped) and lost_blocks of
        the current recording (idle: None/0), and `last`, the one that ended last."""
        writer = self._writer
        return {
            "recording": writer is not None,
            "path": None if writer is None else self._name,
            "file": None if writer is None else str(writer.path),
            "frames": 0 if writer is None else writer.frames,
            "length": self._limit,
            "lost_blocks": self._lost if writer is not None else 0,
            "last": None if self.last is None else dict(self.last),
        }
