"""Lifelines: word of a worker's death before the kernel has finished tearing it down.

Each slot worker holds a process-shared robust mutex (its lifeline) for as long as it lives.
When its thread dies, the kernel releases the robust futexes it held (`EOWNERDEAD` to a waiter)
before it unmaps the address space; a process sentinel (or a pidfd) only becomes readable after
that teardown, which takes 4-13 ms for a worker with numpy and numba mapped. The supervisor
waits on each worker's lifeline in a thread of its own and wakes its select loop through a pipe.

Robust mutexes are POSIX but not everywhere (macOS has none); where they are missing,
`Lifelines.create` returns None and process sentinels alone tell of deaths.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections import deque
from multiprocessing import shared_memory
from typing import Final, Generic, TypeVar

from chronus.engine import lifecycle
from chronus.engine.rings import Segment, open_segment

__all__ = ["DeathWatch", "Lifelines"]

_MUTEX_BYTES: Final = 64
"""Room for one pthread_mutex_t (40 bytes with glibc on x86-64 and aarch64), cache-line apart."""

_PTHREAD_PROCESS_SHARED: Final = 1
_PTHREAD_MUTEX_ROBUST: Final = 1
_EOWNERDEAD: Final = 130
_PROT_RW: Final = 0x3
_MAP_SHARED: Final = 0x1
_MAP_FAILED: Final = ctypes.c_void_p(-1).value


def _libc() -> ctypes.CDLL | None:
    """glibc, if this is Linux with glibc (robust process-shared mutexes); else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = lifecycle.libc()
    except OSError:
        return None
    if not hasattr(libc, "pthread_mutexattr_setrobust"):
        return None
    pointer = ctypes.c_void_p
    for name in ("lock", "unlock", "consistent"):
        getattr(libc, f"pthread_mutex_{name}").argtypes = [pointer]
    for name in ("init", "destroy"):
        getattr(libc, f"pthread_mutexattr_{name}").argtypes = [pointer]
    for name in ("setpshared", "setrobust"):
        getattr(libc, f"pthread_mutexattr_{name}").argtypes = [pointer, ctypes.c_int]
    libc.pthread_mutex_init.argtypes = [pointer, pointer]
    libc.mmap.restype = pointer
    libc.mmap.argtypes = [
        pointer,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    return libc


class Lifelines(Segment):
    """A table of robust mutexes in shared memory, one per worker that holds one."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool, libc: ctypes.CDLL) -> None:
        super().__init__(shm, owner)
        self._libc = libc
        buf = self._shm.buf
        assert buf is not None
        view = ctypes.c_char.from_buffer(buf)
        self._base = ctypes.addressof(view)
        del view  # the address stays valid while mapped; holding the export would block close
        self.capacity = self._shm.size // _MUTEX_BYTES
        self._held_base = 0

    @classmethod
    def create(cls, name: str, capacity: int) -> Lifelines | None:
        """A table of `capacity` lifelines, or None where the platform has no robust mutexes."""
        libc = _libc()
        if libc is None:
            return None
        return cls(open_segment(name, capacity * _MUTEX_BYTES, create=True), True, libc)

    @classmethod
    def attach(cls, name: str) -> Lifelines:
        """Attach to the table the supervisor made (a worker, to hold its line)."""
        libc = _libc()
        if libc is None:
            raise OSError("this C library has no robust mutexes")
        return cls(open_segment(name, 0, create=False), False, libc)

    def _address(self, index: int) -> int:
        if not 0 <= index < self.capacity:
            raise IndexError(f"lifeline {index} is outside the table of {self.capacity}")
        return self._base + index * _MUTEX_BYTES

    def arm(self, index: int) -> None:
        """Make lifeline `index` a fresh, unlocked robust mutex (before a worker takes it)."""
        attr = ctypes.create_string_buffer(16)
        libc = self._libc
        checks = (
            libc.pthread_mutexattr_init(attr),
            libc.pthread_mutexattr_setpshared(attr, _PTHREAD_PROCESS_SHARED),
            libc.pthread_mutexattr_setrobust(attr, _PTHREAD_MUTEX_ROBUST),
            libc.pthread_mutex_init(self._address(index), attr),
        )
        libc.pthread_mutexattr_destroy(attr)
        if any(checks):
            raise OSError(max(checks), f"cannot make lifeline {index}: {os.strerror(max(checks))}")

    def hold(self, index: int) -> None:
        """Take lifeline `index` for the rest of this thread's life (a worker, at birth).

        The kernel releases the mutex through the address it was locked at, as the thread
        dies; so it is locked through a second mapping of the table that nothing unmaps
        before the process ends (the interpreter's own is closed while it shuts down).
        """
        if self._held_base == 0:
            fd = os.open(f"/dev/shm/{self.name}", os.O_RDWR)
            try:
                size = self._shm.size
                base = self._libc.mmap(None, size, _PROT_RW, _MAP_SHARED, fd, 0)
            finally:
                os.close(fd)
            if base in (None, _MAP_FAILED):
                raise OSError(ctypes.get_errno(), "cannot map the lifelines a second time")
            self._held_base = int(base)
        address = self._held_base + (self._address(index) - self._base)
        result = self._libc.pthread_mutex_lock(address)
        if result:
            raise OSError(result, f"cannot hold lifeline {index}: {os.strerror(result)}")

    def let_go(self, index: int) -> None:
        """Release lifeline `index`, held by this thread (a worker that ends by returning)."""
        if self._held_base:
            self._libc.pthread_mutex_unlock(self._held_base + (self._address(index) - self._base))

    def wait(self, index: int) -> bool:
        """Block until the holder of lifeline `index` is gone; True if it died holding it.

        Leaves the mutex unlocked and consistent, ready to be armed again.
        """
        address = self._address(index)
        result = int(self._libc.pthread_mutex_lock(address))
        if result == _EOWNERDEAD:
            self._libc.pthread_mutex_consistent(address)
        if result in (0, _EOWNERDEAD):
            self._libc.pthread_mutex_unlock(address)
        return result == _EOWNERDEAD

    def close(self) -> None:
        """Detach; the creator also removes the segment."""
        self._release()

    def forget(self) -> None:
        """Remove the segment's name but keep it mapped (a thread may still wait in it)."""
        if self._owner:
            self._shm.unlink()


Key = TypeVar("Key")


class DeathWatch(Generic[Key]):
    """Threads that wait on lifelines, and a pipe that tells a select loop which ones ended.

    `lease` hands out a free lifeline for a new worker, `watch` starts waiting on it once the
    worker holds it, and `take` (when `fileno` is readable) returns the keys of the workers
    whose lifelines ended, with the CLOCK_MONOTONIC time each was seen. A lifeline goes back
    to the free list when both its watcher has finished and `release` was called.
    """

    def __init__(self, lifelines: Lifelines) -> None:
        self.lifelines = lifelines
        self._free = list(range(lifelines.capacity - 1, -1, -1))
        self._watching: set[int] = set()
        self._released: set[int] = set()
        self._ended: deque[tuple[Key, int]] = deque()
        self._lock = threading.Lock()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._closed = False

    def fileno(self) -> int:
        """Readable when a watched lifeline has ended."""
        return self._read

    def lease(self) -> int:
        """A free lifeline, armed; -1 if all are in use (the worker then goes unwatched)."""
        with self._lock:
            if not self._free:
                return -1
            index = self._free.pop()
        self.lifelines.arm(index)
        return index

    def claim(self, index: int) -> None:
        """Take lifeline `index` off the free list: a worker holds it already (one that a
        supervisor before this one started; `watch` it next)."""
        with self._lock:
            if index in self._free:
                self._free.remove(index)

    def watch(self, index: int, key: Key) -> None:
        """Wait for the holder of lifeline `index` (it holds it already) to die."""
        if index < 0:
            return
        with self._lock:
            self._watching.add(index)
        threading.Thread(
            target=self._wait, args=(index, key), name=f"lifeline-{index}", daemon=True
        ).start()

    def _wait(self, index: int, key: Key) -> None:
        self.lifelines.wait(index)
        seen = time.monotonic_ns()
        with self._lock:
            self._ended.append((key, seen))
            self._watching.discard(index)
            if index in self._released:
                self._released.discard(index)
                self._free.append(index)
            if not self._closed:
                try:
                    os.write(self._write, b"x")
                except BlockingIOError:
                    pass  # the pipe is full of wake-ups already

    def release(self, index: int) -> None:
        """The worker on lifeline `index` is reaped; reuse the line once its watcher is done."""
        if index < 0:
            return
        with self._lock:
            if index in self._watching:
                self._released.add(index)
            else:
                self._free.append(index)

    def take(self) -> list[tuple[Key, int]]:
        """The workers whose lifelines ended since the last call, and when each was seen."""
        try:
            while os.read(self._read, 64):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            ended = list(self._ended)
            self._ended.clear()
        return ended

    @property
    def watching(self) -> int:
        """Lifelines with a watcher still waiting."""
        with self._lock:
            return len(self._watching)

    def close(self) -> None:
        """Close the pipe, and the table once no watcher can still touch it.

        A watcher waiting on a worker that outlives this call keeps the mapping (the process
        ends soon after; unmapping under a waiting thread would crash it when it wakes).
        """
        with self._lock:
            self._closed = True
            os.close(self._read)
            os.close(self._write)
        if self.watching:
            self.lifelines.forget()
        else:
            self.lifelines.close()
