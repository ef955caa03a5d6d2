"""Heap the sandbox's spare child faults in while it waits, so that a validation's own
allocations find pages already there (glibc's malloc; elsewhere nothing is done).

A long-running process reuses the heap its earlier work freed. A fresh fork has only the
pages its parent touched and its rehearsal left, and glibc gives back ("trims") a free top
of the heap above 128 KB: a spare grew its heap by ~1 MB during its first validation, ~250
minor page faults (about 0.5 ms on this project's VMs) on the validation's clock. `keep_freed`
stops the trimming in the child; `make_room` then allocates and touches some heap in steps
while the child waits, and frees it into the top of the heap, where the validation's
mallocs find it. Used only in a spare, which runs one validation and exits.
"""

from __future__ import annotations

import ctypes
from collections.abc import Generator

from chronus.engine.lifecycle import libc

__all__ = ["ROOM_MB", "keep_freed", "make_room"]

ROOM_MB = 4
"""Heap faulted in ahead: a typical module's validation grew a spare's heap by ~1 MB."""
_CHUNK = 64 * 1024
"""Allocated and touched per step: below glibc's least mmap threshold (128 KB), so from the
heap."""
_M_TRIM_THRESHOLD = -1
_NEVER_TRIM = 1 << 30


def keep_freed() -> bool:
    """Make this process's malloc keep the heap it frees (no trim; its mmap threshold stays
    where its parent's work raised it). Whether it could (glibc)."""
    try:
        return bool(libc().mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    except (OSError, AttributeError):
        return False


def make_room(megabytes: int = ROOM_MB) -> Generator[None, None, None]:
    """Allocate and touch `megabytes` of heap, one `_CHUNK` a step (yields between two), then
    free it all (also when closed early): the heap keeps it, its pages faulted in."""
    try:
        c = libc()
        malloc, free = c.malloc, c.free
    except (OSError, AttributeError):
        return
    malloc.restype = ctypes.c_void_p
    free.argtypes = [ctypes.c_void_p]
    held: list[int] = []
    try:
        for _ in range(megabytes * (1 << 20) // _CHUNK):
            address = malloc(_CHUNK)
            if not address:
                return
            held.append(address)
            ctypes.memset(address, 0, _CHUNK)
            yield
    finally:
        for address in reversed(held):
            free(address)
