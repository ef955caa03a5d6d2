"""Shared-memory rings between the engine's processes.

Both rings have one writer and one reader (SPSC). Positions are 64-bit counters that only grow,
stored in an aligned int64 header; on x86-64 and arm64 an aligned 8-byte store is atomic, and the
writer stores the payload before it bumps its position, so the reader never sees a half-written
record. Nothing here allocates after construction: the audio path uses preallocated views.
"""

from __future__ import annotations

from multiprocessing import shared_memory
from typing import Final, Self

import numpy as np
import numpy.typing as npt

from chronus.engine.leftovers import segment_name

__all__ = [
    "AudioRing",
    "CommandRing",
    "HeaderRing",
    "Segment",
    "SharedCounters",
    "open_segment",
    "unique_name",
]

_HEADER_SLOTS: Final = 16
_HEADER_BYTES: Final = _HEADER_SLOTS * 8


def unique_name(kind: str) -> str:
    """A shared-memory name that no other engine on this machine will pick, and that says whose
    it is (see `leftovers`)."""
    return segment_name(kind)


def open_segment(name: str, size: int, create: bool) -> shared_memory.SharedMemory:
    """Create a named segment of `size` bytes, or attach to one (`create` False, size unused)."""
    # The engine's children are spawned by the creator and share its resource tracker, so an
    # attach registers nothing new, and only the creator unlinks (bpo-39959 for strangers).
    return shared_memory.SharedMemory(name=name, create=create, size=size if create else 0)


class Segment:
    """A named shared-memory segment: its creator unlinks it at the end; others attach."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self._shm = shm
        self._owner = owner

    @property
    def name(self) -> str:
        """The shared-memory name to attach with."""
        return self._shm.name

    def adopt(self) -> None:
        """Take the segment over from its creator, which died: unlink it at the end (a new
        supervisor re-attaching to a running engine's segments)."""
        self._owner = True

    def _release(self) -> None:
        self._shm.close()
        if self._owner:
            self._shm.unlink()


class HeaderRing(Segment):
    """A segment that starts with an int64 header whose first two slots are the positions.

    Slot 0 is the writer's position (records written, only ever growing), slot 1 the reader's.
    """

    WRITE: Final = 0
    READ: Final = 1

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        super().__init__(shm, owner)
        self.header: npt.NDArray[np.int64] = np.ndarray(
            (_HEADER_SLOTS,), dtype=np.int64, buffer=shm.buf
        )

    @classmethod
    def attach(cls, name: str) -> Self:
        """Attach to a segment created by another process."""
        return cls(open_segment(name, 0, create=False), owner=False)

    @property
    def write_pos(self) -> int:
        """How far the writer has got; the next record it writes has this index."""
        return int(self.header[self.WRITE])

    @property
    def read_pos(self) -> int:
        """How far the reader has got; the next record it wants has this index."""
        return int(self.header[self.READ])


class AudioRing(HeaderRing):
    """Blocks of float32 audio from one slot (writer) to the audio I/O (reader).

    Header (int64): write position (blocks published), read position (blocks consumed),
    drop count, active flag, block size in frames, sample rate, capacity in blocks, channels,
    and the first valid block (a worker that joins mid-play starts its ring there, so the
    blocks of its dead predecessor are never taken for its own). Block *k* lives at index
    ``k % capacity``. A per-block flag says whether the block is
    non-silent, so the I/O can time onsets without looking at samples.
    """

    DROPS: Final = 2
    ACTIVE: Final = 3
    BLOCK: Final = 4
    RATE: Final = 5
    CAPACITY: Final = 6
    CHANNELS: Final = 7
    START: Final = 8

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        super().__init__(shm, owner)
        self.capacity = int(self.header[self.CAPACITY])
        self.block = int(self.header[self.BLOCK])
        self.channels = int(self.header[self.CHANNELS])
        self.rate = int(self.header[self.RATE])
        self.sounding: npt.NDArray[np.int64] = np.ndarray(
            (self.capacity,), dtype=np.int64, buffer=shm.buf, offset=_HEADER_BYTES
        )
        data_offset = _HEADER_BYTES + 8 * self.capacity
        self.data: npt.NDArray[np.float32] = np.ndarray(
            (self.capacity, self.block, self.channels),
            dtype=np.float32,
            buffer=shm.buf,
            offset=data_offset,
        )
        self.blocks: list[npt.NDArray[np.float32]] = [self.data[i] for i in range(self.capacity)]

    @classmethod
    def create(
        cls, name: str, capacity: int, block: int, rate: int, channels: int = 2
    ) -> AudioRing:
        """Create and zero a ring (the supervisor does this; it also unlinks it)."""
        size = _HEADER_BYTES + 8 * capacity + capacity * block * channels * 4
        shm = open_segment(name, size, create=True)
        header = np.ndarray((_HEADER_SLOTS,), dtype=np.int64, buffer=shm.buf)
        header[:] = 0
        header[cls.BLOCK] = block
        header[cls.RATE] = rate
        header[cls.CAPACITY] = capacity
        header[cls.CHANNELS] = channels
        ring = cls(shm, owner=True)
        ring.data.fill(0.0)  # touch every page now, not in the audio callback
        ring.sounding.fill(0)
        return ring

    def space(self) -> int:
        """How many blocks the writer may publish before the ring is full."""
        return self.capacity - (int(self.header[self.WRITE]) - int(self.header[self.READ]))

    def next_block(self) -> npt.NDArray[np.float32]:
        """The (block, channels) view the writer fills next. Check `space()` first."""
        return self.blocks[int(self.header[self.WRITE]) % self.capacity]

    def publish(self, sounding: bool) -> None:
        """Make the block from `next_block()` visible to the reader."""
        k = int(self.header[self.WRITE])
        self.sounding[k % self.capacity] = 1 if sounding else 0
        self.header[self.WRITE] = k + 1

    def has_block(self, k: int) -> bool:
        """Whether block *k* is published and not yet overwritten."""
        w = int(self.header[self.WRITE])
        return w - self.capacity <= k < w and k >= self.header[self.START]

    def settled(self, k: int) -> bool:
        """Whether block *k* is published and stays whole while another process reads it:
        the writer's next block goes elsewhere. A writer only waits for a reader that has
        not taken a block yet; one that compares blocks the reader has passed (the lockstep
        check, on a slot that fell behind) must see the place of *k* not reused meanwhile."""
        w = int(self.header[self.WRITE])
        return w - self.capacity < k < w and k >= self.header[self.START]

    def restart_at(self, k: int) -> None:
        """Make the writer's next block *k* and hide every block before it (a new writer)."""
        self.header[self.START] = k
        self.header[self.WRITE] = k

    def block_at(self, k: int) -> npt.NDArray[np.float32]:
        """The stored view of block *k* (valid while `has_block(k)`)."""
        return self.blocks[k % self.capacity]

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        del self.blocks
        del self.data, self.header, self.sounding
        self._release()


_SOLO: Final = 1 << 32


class CommandRing(HeaderRing):
    """Stamped commands from the supervisor (writer) to one slot (reader).

    Each record is a sample stamp (int64), a payload length (int64), the command's sequence
    number in the engine (int64) and the payload: the canonical OSC bytes of one message.
    Records have a fixed size, so a push is one copy. The reader keeps the sequence number of
    the last record it popped in the header, so a snapshot of the reader's state says which
    commands it already holds.
    """

    _CAPACITY: Final = 2
    _RECORD: Final = 3
    _DROPS: Final = 4
    _LAST_SEQ: Final = 5
    _PAYLOAD: Final = 24

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        super().__init__(shm, owner)
        self.capacity = int(self.header[self._CAPACITY])
        self.record = int(self.header[self._RECORD])
        self.last_solo = False
        self.records: npt.NDArray[np.uint8] = np.ndarray(
            (self.capacity, self.record), dtype=np.uint8, buffer=shm.buf, offset=_HEADER_BYTES
        )
        self.meta: npt.NDArray[np.int64] = np.ndarray(
            (self.capacity, self.record // 8),
            dtype=np.int64,
            buffer=shm.buf,
            offset=_HEADER_BYTES,
        )

    @classmethod
    def create(cls, name: str, capacity: int = 4096, record: int = 1024) -> CommandRing:
        """Create an empty ring of `capacity` records of `record` bytes each."""
        if record % 8:
            raise ValueError("record size must be a multiple of 8")
        shm = open_segment(name, _HEADER_BYTES + capacity * record, create=True)
        header = np.ndarray((_HEADER_SLOTS,), dtype=np.int64, buffer=shm.buf)
        header[:] = 0
        header[cls._CAPACITY] = capacity
        header[cls._RECORD] = record
        header[cls._LAST_SEQ] = -1
        ring = cls(shm, owner=True)
        ring.records.fill(0)  # every page now, not in the first burst that reaches it
        return ring

    @property
    def max_payload(self) -> int:
        """The largest payload a record holds."""
        return self.record - self._PAYLOAD

    @property
    def drops(self) -> int:
        """Pushes refused because the ring was full."""
        return int(self.header[self._DROPS])

    def __len__(self) -> int:
        return int(self.header[self.WRITE]) - int(self.header[self.READ])

    @property
    def last_seq(self) -> int:
        """The sequence number of the last record popped (-1 before any)."""
        return int(self.header[self._LAST_SEQ])

    def reset(self, next_seq: int) -> None:
        """Empty the ring for a new reader that already holds every command before `next_seq`.

        Only while no reader is attached: the engine does it for a worker that has not started.
        """
        self.header[self.READ] = self.header[self.WRITE]
        self.header[self._LAST_SEQ] = next_seq - 1

    def push(self, stamp: int, payload: bytes, seq: int = -1, solo: bool = False) -> bool:
        """Append a record; False (and a counted drop) if the ring is full.

        `solo` marks a command sent to this ring only (a commit being built in the standby):
        no peer applies it, so the reader decides its sample alone.
        """
        if len(payload) > self.max_payload:
            raise ValueError(f"command of {len(payload)} bytes exceeds {self.max_payload}")
        w = int(self.header[self.WRITE])
        if w - int(self.header[self.READ]) >= self.capacity:
            self.header[self._DROPS] += 1
            return False
        i = w % self.capacity
        self.meta[i, 0] = stamp
        self.meta[i, 1] = len(payload) | (_SOLO if solo else 0)
        self.meta[i, 2] = seq
        end = self._PAYLOAD + len(payload)
        self.records[i, self._PAYLOAD : end] = np.frombuffer(payload, dtype=np.uint8)
        self.header[self.WRITE] = w + 1
        return True

    def pop(self, below: int | None = None) -> tuple[int, bytes] | None:
        """The oldest record as (stamp, payload), or None if the ring is empty or, when
        `below` is given, the record's sequence number is not below it (not published yet).

        Its sequence number is `last_seq` after the pop, and whether it is solo `last_solo`.
        """
        r = int(self.header[self.READ])
        if r >= int(self.header[self.WRITE]):
            return None
        i = r % self.capacity
        if below is not None and self.meta[i, 2] >= below:
            return None
        stamp = int(self.meta[i, 0])
        length = int(self.meta[i, 1])
        self.last_solo = bool(length & _SOLO)
        length &= _SOLO - 1
        payload = self.records[i, self._PAYLOAD : self._PAYLOAD + length].tobytes()
        self.header[self._LAST_SEQ] = self.meta[i, 2]
        self.header[self.READ] = r + 1
        return stamp, payload

    def record_at(self, k: int) -> tuple[int, bytes, int, bool]:
        """Record `k` as it is stored: (stamp, payload, seq, solo), popped or not; valid for
        the last `capacity` records written (a new supervisor reads what was sent)."""
        i = k % self.capacity
        length = int(self.meta[i, 1])
        size = length & (_SOLO - 1)
        payload = self.records[i, self._PAYLOAD : self._PAYLOAD + size].tobytes()
        return int(self.meta[i, 0]), payload, int(self.meta[i, 2]), bool(length & _SOLO)

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        del self.records, self.meta, self.header
        self._release()


class SharedCounters(Segment):
    """A named block of int64 counters, written by one process and read by others.

    Used for health: each process owns its own block and is its only writer.
    """

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool, size: int) -> None:
        super().__init__(shm, owner)
        self.values: npt.NDArray[np.int64] = np.ndarray((size,), dtype=np.int64, buffer=shm.buf)

    @classmethod
    def create(cls, name: str, size: int) -> SharedCounters:
        """Create a zeroed block of `size` counters."""
        shm = open_segment(name, size * 8, create=True)
        counters = cls(shm, owner=True, size=size)
        counters.values[:] = 0
        return counters

    @classmethod
    def attach(cls, name: str, size: int) -> SharedCounters:
        """Attach to a block created by another process."""
        return cls(open_segment(name, 0, create=False), owner=False, size=size)

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        del self.values
        self._release()
