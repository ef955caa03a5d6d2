"""A process that steps aside runs at nice 19, and steps back to nice 0 (where it may)."""

from __future__ import annotations

import os

import pytest

from chronus.engine.lifecycle import HUMBLE_NICE, step_aside, step_back


@pytest.mark.skipif(os.geteuid() != 0, reason="only root is sure to come back to nice 0")
def test_step_aside_and_back_in_a_child() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: this process's own priority stays as it is
        code = 1
        try:
            aside = step_aside()
            low = os.getpriority(os.PRIO_PROCESS, 0)
            step_back()
            back = os.getpriority(os.PRIO_PROCESS, 0)
            os.write(write, f"{int(aside)} {low} {back}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    try:
        report = os.read(read, 64).decode().split()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert report == ["1", str(HUMBLE_NICE), "0"]
