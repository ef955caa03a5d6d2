"""`heap_room`: heap faulted in ahead in a fresh fork is what its next mallocs get."""

from __future__ import annotations

import ctypes
import os
import resource

from chronus.engine.lifecycle import libc
from chronus.plugins.heap_room import ROOM_MB, keep_freed, make_room

CHUNK = 64 * 1024


def _faults_of_mallocs(prepare: bool, megabytes: int = 2) -> int:
    """In a fresh fork (after `make_room` if `prepare`): the minor page faults that writing
    `megabytes` of new mallocs costs."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            c = libc()
            c.malloc.restype = ctypes.c_void_p
            c.free.argtypes = [ctypes.c_void_p]
            if prepare:
                assert keep_freed()
                for _ in make_room():
                    pass
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            held = [c.malloc(CHUNK) for _ in range(megabytes * 16)]
            for address in held:
                ctypes.memset(address, 1, CHUNK)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            os.write(write_fd, str(faults).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    data = os.read(read_fd, 64)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return int(data)


def test_mallocs_after_make_room_find_their_pages_there() -> None:
    without = min(_faults_of_mallocs(False) for _ in range(3))
    within = min(_faults_of_mallocs(True) for _ in range(3))
    assert without >= 2 * 256 // 2, without  # 2 MB of new heap: ~512 pages, some reused
    assert within < without / 4, (within, without)


def test_make_room_yields_between_chunks_so_a_request_waits_at_most_one() -> None:
    steps = make_room(1)
    next(steps)
    steps.close()  # a request came: it stops, and frees what it held
    assert len(list(make_room(1))) == 1024 * 1024 // CHUNK
    assert list(make_room(0)) == []
    assert ROOM_MB >= 1
