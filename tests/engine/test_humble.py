"""A process that steps aside runs at nice 19, and steps back to nice 0 (where it may)."""

from __future__ import annotations

import os
import time

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


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may lower another's nice value")
def test_a_spare_a_seat_waits_for_is_hurried_back_to_nice_0() -> None:
    from chronus.engine.keeper import _hurry

    pid = os.fork()
    if pid == 0:  # a humble spare, warming up
        os.setpriority(os.PRIO_PROCESS, 0, HUMBLE_NICE)
        time.sleep(10)
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while os.getpriority(os.PRIO_PROCESS, pid) != HUMBLE_NICE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        _hurry(pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == 0
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
