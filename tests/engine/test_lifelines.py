"""Lifelines: a worker's death is told through a robust mutex, by real processes and signals."""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import signal
import time
from collections.abc import Iterator

import pytest

from chronus.engine.lifelines import DeathWatch, Lifelines
from chronus.engine.rings import unique_name

if Lifelines.create(unique_name("probe"), 1) is None:  # pragma: no cover - not Linux/glibc
    pytest.skip("no robust mutexes on this platform", allow_module_level=True)

CTX = mp.get_context("spawn")


def _holder(table: str, index: int, held: mp.synchronize.Event, how: str) -> None:
    lifelines = Lifelines.attach(table)
    lifelines.hold(index)
    held.set()
    if how == "return":
        time.sleep(0.2)
        lifelines.let_go(index)
        return
    if how == "raise":
        time.sleep(0.2)
        raise SystemExit(3)  # dies holding the line: the kernel releases it
    time.sleep(60)


@pytest.fixture
def watch() -> Iterator[DeathWatch[str]]:
    lifelines = Lifelines.create(unique_name("lifelines-test"), 4)
    assert lifelines is not None
    deaths: DeathWatch[str] = DeathWatch(lifelines)
    yield deaths
    deaths.close()


def _start(deaths: DeathWatch[str], how: str) -> tuple[mp.process.BaseProcess, int]:
    index = deaths.lease()
    assert index >= 0
    held = CTX.Event()
    process = CTX.Process(target=_holder, args=(deaths.lifelines.name, index, held, how))
    process.start()
    assert held.wait(20), "the holder never took its line"
    deaths.watch(index, how)
    return process, index


def _ended(deaths: DeathWatch[str], timeout: float = 10.0) -> list[tuple[str, int]]:
    readable, _, _ = select.select([deaths.fileno()], [], [], timeout)
    return deaths.take() if readable else []


def test_a_sigkilled_holder_is_told_and_the_line_comes_back(watch: DeathWatch[str]) -> None:
    process, index = _start(watch, "sleep")
    assert _ended(watch, 0.3) == [], "told of a death while the holder lives"
    killed = time.monotonic_ns()
    os.kill(process.pid or 0, signal.SIGKILL)
    ended = _ended(watch)
    assert [key for key, _ in ended] == ["sleep"]
    assert ended[0][1] >= killed
    process.join(10)
    assert process.exitcode == -signal.SIGKILL
    watch.release(index)
    assert watch.watching == 0
    assert watch.lease() == index, "a released line whose watcher is done is not reused"


@pytest.mark.parametrize("how", ["return", "raise"])
def test_a_holder_that_ends_by_itself_is_told(watch: DeathWatch[str], how: str) -> None:
    process, _ = _start(watch, how)
    assert [key for key, _ in _ended(watch)] == [how]
    process.join(10)
    assert process.exitcode == (0 if how == "return" else 3)


def test_a_line_released_while_watched_waits_for_its_watcher(watch: DeathWatch[str]) -> None:
    process, index = _start(watch, "sleep")
    watch.release(index)  # reaped early (as if): the watcher still waits on the mutex
    others = {watch.lease() for _ in range(3)}
    assert index not in others and -1 not in others
    assert watch.lease() == -1, "more lines leased than the table holds"
    os.kill(process.pid or 0, signal.SIGKILL)
    assert [key for key, _ in _ended(watch)] == ["sleep"]
    process.join(10)
    assert watch.lease() == index


def test_a_line_index_outside_the_table_is_refused(watch: DeathWatch[str]) -> None:
    with pytest.raises(IndexError):
        watch.lifelines.arm(4)
