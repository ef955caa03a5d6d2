"""A slot worker that fails tells the supervisor why before it exits, and the keeper says so.

A spare or a joiner that raises exits with code 1, its traceback on a stderr nobody may read;
the engine's events must carry the reason.
"""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace
from typing import Any, cast

from chronus.engine import template
from chronus.engine.keeper import _exit_told, _read_last_words
from chronus.engine.launcher import spawn_context
from chronus.engine.seats import Worker
from chronus.engine.slot import WorkerConfig, worker_main
from chronus.engine.template import EXIT_NOT_ADOPTED

MISSING = "chronus-test-no-such-lifelines"


def test_a_worker_that_cannot_take_its_lifeline_tells_why_and_exits_1() -> None:
    ctx = spawn_context()
    ours, theirs = ctx.Pipe(duplex=True)
    config = WorkerConfig("io", "control", 48000, 128, 2, lifelines=MISSING)
    wakes = (ctx.Semaphore(0), ctx.Semaphore(0))
    process = ctx.Process(target=worker_main, args=(config, wakes, theirs, 0))
    process.start()
    theirs.close()
    process.join(60)
    try:
        assert process.exitcode == 1
        worker = Worker(cast(Any, process), ours, 0, pid=int(process.pid or 0))
        _read_last_words(worker)  # as the keeper does when the worker's sentinel fires
        assert worker.failure.startswith("FileNotFoundError"), worker.failure
        assert MISSING in worker.failure
        told = _exit_told(worker)
        assert told.startswith("code 1: FileNotFoundError") and MISSING in told
    finally:
        ours.close()


def test_a_worker_killed_from_outside_is_told_by_its_code_alone() -> None:
    ctx = spawn_context()
    ours, theirs = ctx.Pipe(duplex=True)
    process = ctx.Process(target=theirs.recv)
    process.start()
    process.kill()
    process.join(10)
    try:
        worker = Worker(cast(Any, process), ours, 0)
        _read_last_words(worker)  # the pipe is open, nothing was written: returns at once
        assert worker.failure == ""
        assert _exit_told(worker) == "code -9"
    finally:
        ours.close()
        theirs.close()


def test_a_fork_never_handed_to_the_engine_exits_with_its_own_code_and_is_told_so() -> None:
    """A template's fork that is not adopted by the process it waits for gives up: with a
    code of its own, not the 1 of a job that raised, and the event says what happened."""
    pid = os.fork()
    if pid == 0:  # its parent is this test, neither the "middle" nor the "supervisor" given
        template._run(socket.socket(), b"", [], supervisor=-2, middle=-3)
        os._exit(0)  # not reached: _run always exits
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == EXIT_NOT_ADOPTED != 1
    process = SimpleNamespace(exitcode=EXIT_NOT_ADOPTED)
    ours, theirs = spawn_context().Pipe(duplex=True)
    try:
        told = _exit_told(Worker(cast(Any, process), ours, 0))
        assert told.startswith(f"code {EXIT_NOT_ADOPTED}: it was never handed")
    finally:
        ours.close()
        theirs.close()
