"""A slot worker that fails tells the supervisor why before it exits, and the keeper says so.

A spare or a joiner that raises exits with code 1, its traceback on a stderr nobody may read;
the engine's events must carry the reason.
"""

from __future__ import annotations

from typing import Any, cast

from chronus.engine.keeper import _exit_told, _read_last_words
from chronus.engine.launcher import spawn_context
from chronus.engine.seats import Worker
from chronus.engine.slot import WorkerConfig, worker_main

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
