"""The launcher: processes forked from the warm template are this process's own children."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Semaphore
from pathlib import Path

import pytest

from chronus.engine.launcher import ForkedChild, Launcher, spawn_context
from chronus.session.offline import render_script
from chronus.session.script import load_script_file

EVERY_MODULE = Path(__file__).resolve().parents[2] / "examples" / "every_module.chr"


def report(conn: Connection, wake: Semaphore) -> None:
    """A job: say who it is, wait to be woken, and say goodbye."""
    conn.send((os.getpid(), os.getppid()))
    wake.acquire()
    conn.send("woken")


def fail() -> None:
    """A job that raises."""
    raise ValueError("on purpose")


def sleep_forever() -> None:
    """A job that never ends by itself."""
    while True:
        time.sleep(1)


def render(conn: Connection) -> None:
    """A job: render the every-module example (2 s) and send a digest of its samples."""
    audio = render_script(load_script_file(EVERY_MODULE), seconds=2.0, tail=0.0)
    conn.send((audio.shape, hashlib.blake2b(audio.tobytes()).hexdigest()))


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    made = Launcher(spawn_context())
    if not made.warm_forks:
        made.close()
        pytest.skip("no template on this system (it needs Linux pidfds and a subreaper)")
    made.wait_ready(120)
    yield made
    made.close()


def test_a_fork_is_a_child_of_this_process_and_gets_its_pipe_and_semaphore(
    launcher: Launcher,
) -> None:
    ctx = spawn_context()
    mine, theirs = ctx.Pipe()
    wake = ctx.Semaphore(0)
    child = launcher.start(report, (theirs, wake), "reporter")
    theirs.close()
    assert isinstance(child, ForkedChild)
    assert mine.poll(10)
    pid, parent = mine.recv()
    assert pid == child.pid and parent == os.getpid()
    assert child.is_alive() and child.exitcode is None
    wake.release()
    assert mine.recv() == "woken"
    child.join(10)
    assert child.exitcode == 0 and not child.is_alive()


def test_exit_codes_are_told_as_for_a_spawned_process(launcher: Launcher) -> None:
    raised = launcher.start(fail, (), "failing")
    raised.join(10)
    assert raised.exitcode == 1
    endless = launcher.start(sleep_forever, (), "endless")
    assert endless.is_alive()
    endless.kill()
    endless.join(10)
    assert endless.exitcode == -signal.SIGKILL
    endless.kill()  # reaped: its pid may be another's now, so nothing is sent


def test_a_fork_renders_bit_for_bit_what_a_spawned_process_renders(launcher: Launcher) -> None:
    ctx = spawn_context()
    results = []
    for source in (launcher, Launcher(ctx, template=False)):
        mine, theirs = ctx.Pipe()
        child = source.start(render, (theirs,), "renderer")
        theirs.close()
        assert mine.poll(120)
        results.append(mine.recv())
        child.join(10)
        assert child.exitcode == 0
    forked, spawned = results
    assert forked[0] == (96000, 2)
    assert forked == spawned


def test_a_dead_template_takes_no_fork_with_it_and_is_started_again() -> None:
    ctx = spawn_context()
    launcher = Launcher(ctx)
    if not launcher.warm_forks:
        pytest.skip("no template on this system")
    try:
        launcher.wait_ready(120)
        assert launcher.tick() is None
        survivor = launcher.start(sleep_forever, (), "survivor")
        assert launcher.template is not None
        first = launcher.template
        os.kill(first.process.pid or 0, signal.SIGKILL)
        first.process.join(10)
        told = launcher.tick()
        assert told is not None and "exited (code -9)" in told
        assert not launcher.ready()
        assert survivor.is_alive()  # its parent is this process, not the template
        deadline = time.monotonic() + 10
        while (news := launcher.tick()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "warming up" in news and launcher.template is not first
        assert launcher.status()["restarts"] == 1
        launcher.wait_ready(120)
        assert launcher.ready()
        second = launcher.start(sleep_forever, (), "second")
        assert second.is_alive()
        for child in (survivor, second):
            child.kill()
            child.join(10)
            assert child.exitcode == -signal.SIGKILL
    finally:
        launcher.close()
    assert first.process.exitcode is not None
    assert launcher.template is not None and launcher.template.process.exitcode is not None
