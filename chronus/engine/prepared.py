"""Patterns parsed by the supervisor, handed to the slots through shared memory.

Parsing a busy pattern takes milliseconds: too long for the block it arrives in, in a slot
that has a 5 ms lead. The supervisor parses every pattern anyway (the patch checks it), so it
writes the parsed tables (`Pattern.to_bytes`) here before it sends the command; a slot that
takes the command from its ring copies them out and remembers the pattern
(`notation.remember`) before the block that applies it, so that the block does not parse.
A pattern that is not found (written over, or too big for the arena) is parsed in the block
as before and counted: the result is the same pattern either way, so both slots, a hand-over
and an offline render of the session log still play the same samples.

One writer (the supervisor), any number of readers. An index of `ENTRIES` rows
(generation, key, offset, length) over an arena of bytes written round robin. A row is valid
while its generation is nonzero; the writer zeroes the generation of every row whose bytes it
is about to overwrite, writes, then gives the row a new generation (each one higher than any
before). A reader reads the generation, copies the bytes, and keeps the copy only if the
generation has not changed meanwhile: a torn read is a miss, never a wrong pattern.

>>> from chronus.engine.rings import unique_name
>>> from chronus.seq.notation import parse
>>> store = PreparedPatterns.create(unique_name("doctest"), arena=1 << 16)
>>> store.put(parse("c3 <e3 g3>")), store.take("c3 <e3 g3>") == parse("c3 <e3 g3>")
(True, True)
>>> store.take("c3"), store.close()
(None, None)
"""

from __future__ import annotations

import hashlib
from multiprocessing import shared_memory
from typing import Final

import numpy as np
import numpy.typing as npt

from chronus.engine.rings import Segment, open_segment
from chronus.protocol import Message
from chronus.seq import notation
from chronus.seq.pattern import Pattern

__all__ = ["ARENA_BYTES", "ENTRIES", "PreparedPatterns", "load_prepared", "pattern_text"]

ARENA_BYTES: Final = 8 << 20
"""Room for a few hundred busy patterns (24 KB typical, about 180 KB at the notation's limits)."""
ENTRIES: Final = 512
_GENERATION: Final = 0  # header: the last generation given
_WRITTEN: Final = 1  # bytes written, ever (the arena position is this modulo its size)
_ROWS: Final = 2  # rows used, ever
_ARENA: Final = 3
_HEADER: Final = 8
_GEN, _KEY, _OFFSET, _LENGTH = range(4)


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), signed=True)


class PreparedPatterns(Segment):
    """The supervisor's parsed patterns, by text, for the slots to load instead of parsing."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        super().__init__(shm, owner)
        buf = shm.buf
        self.header: npt.NDArray[np.int64] = np.ndarray((_HEADER,), dtype=np.int64, buffer=buf)
        self.rows: npt.NDArray[np.int64] = np.ndarray(
            (ENTRIES, 4), dtype=np.int64, buffer=buf, offset=_HEADER * 8
        )
        size = int(self.header[_ARENA])
        self.arena: npt.NDArray[np.uint8] = np.ndarray(
            (size,), dtype=np.uint8, buffer=buf, offset=(_HEADER + 4 * ENTRIES) * 8
        )

    @classmethod
    def create(cls, name: str, arena: int = ARENA_BYTES) -> PreparedPatterns:
        """Create an empty store with an arena of `arena` bytes."""
        shm = open_segment(name, (_HEADER + 4 * ENTRIES) * 8 + arena, create=True)
        header = np.ndarray((_HEADER,), dtype=np.int64, buffer=shm.buf)
        header[:] = 0
        header[_ARENA] = arena
        rows = np.ndarray((ENTRIES, 4), dtype=np.int64, buffer=shm.buf, offset=_HEADER * 8)
        rows[:] = 0
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> PreparedPatterns:
        """Attach to the store another process created."""
        return cls(open_segment(name, 0, create=False), owner=False)

    def put(self, pattern: Pattern) -> bool:
        """Offer a parsed pattern to the slots (the writer only); False if it is too big."""
        key = _key(pattern.text)
        rows, header = self.rows, self.header
        if np.any((rows[:, _KEY] == key) & (rows[:, _GEN] != 0)):
            return True  # there already (a rare other text with this key is just a miss)
        data = pattern.to_bytes()
        size = len(self.arena)
        if len(data) > size // 4:
            return False
        written = int(header[_WRITTEN])
        start = written % size
        if start + len(data) > size:
            written += size - start
            start = 0
        end = start + len(data)
        starts, lengths = rows[:, _OFFSET], rows[:, _LENGTH]
        rows[(starts < end) & (starts + lengths > start), _GEN] = 0
        row = rows[int(header[_ROWS]) % ENTRIES]
        row[_GEN] = 0
        self.arena[start:end] = np.frombuffer(data, dtype=np.uint8)
        row[_KEY], row[_OFFSET], row[_LENGTH] = key, start, len(data)
        header[_GENERATION] += 1
        row[_GEN] = header[_GENERATION]  # last: a reader that sees it sees the bytes
        header[_WRITTEN] = written + len(data)
        header[_ROWS] += 1
        return True

    def take(self, text: str) -> Pattern | None:
        """The pattern of `text` if the supervisor prepared it and it is intact, else None."""
        rows = self.rows
        for index in np.flatnonzero(rows[:, _KEY] == _key(text)):
            row = rows[index]
            generation = int(row[_GEN])
            if generation == 0:
                continue
            start, length = int(row[_OFFSET]), int(row[_LENGTH])
            data = self.arena[start : start + length].tobytes()
            if int(row[_GEN]) != generation:
                continue  # written over while we copied
            try:
                pattern = Pattern.from_bytes(data)
            except ValueError:
                continue
            if pattern.text == text:
                return pattern
        return None

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        del self.header, self.rows, self.arena
        self._release()


def pattern_text(message: Message) -> str | None:
    """The pattern a `/seq/<id>/pattern` message sets; None for any other message."""
    address = message.address
    if address.startswith("/seq/") and address.endswith("/pattern") and message.args:
        return str(message.args[0])
    return None


def load_prepared(store: PreparedPatterns | None, message: Message) -> bool:
    """Make the pattern `message` sets ready for the block that applies it: remembered
    already, or loaded from `store`. False if the block will have to parse it."""
    text = pattern_text(message)
    if text is None or notation.cached(text) is not None:
        return True
    pattern = store.take(text) if store is not None else None
    if pattern is None:
        return False
    notation.remember(pattern)
    return True
