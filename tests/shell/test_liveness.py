"""Noticing an engine gone, back, or restarted (a fake engine whose clock the test sets)."""

from __future__ import annotations

import time
from collections.abc import Callable

from chronus.engine.client import EngineClient
from chronus.shell.liveness import Liveness, back_line, lost_line
from tests.shell.fake_engine import FakeEngine


def _until(test: Callable[[], bool], what: list[str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _watched(engine: FakeEngine) -> tuple[Liveness, list[str]]:
    """A watcher syncing every 50 ms, and what it said (`lost`, `back <restarted>`)."""
    said: list[str] = []
    watch = Liveness(
        engine.address, lambda: said.append("lost"), lambda r: said.append(f"back {r}"), 0.05
    )
    return watch.start(), said


def test_a_clock_going_back_is_a_restart_without_an_outage() -> None:
    engine = FakeEngine()
    engine.sample = 48_000
    watch, said = _watched(engine)
    try:
        _until(lambda: engine.addresses().count("/engine/sync") >= 3, said)
        engine.sample = 96_000
        _until(lambda: engine.addresses().count("/engine/sync") >= 6, said)
        assert said == []  # a clock going forward is the same engine
        engine.sample = 128
        _until(lambda: said == ["back True"], said)
    finally:
        watch.close()
        engine.close()


def test_an_engine_that_stops_answering_is_lost_once() -> None:
    engine = FakeEngine()
    watch, said = _watched(engine)
    try:
        _until(lambda: "/engine/sync" in engine.addresses(), said)
        engine.close()
        _until(lambda: said == ["lost"], said)
        time.sleep(0.3)
        assert said == ["lost"] and watch.lost
    finally:
        watch.close()


def test_the_lines_it_says() -> None:
    assert lost_line(("127.0.0.1", 57120)).startswith(
        "the engine at 127.0.0.1:57120 does not answer"
    )
    assert back_line(("h", 1), True, 0, True) == (
        "the engine at h:1 restarted: resynced (0 modules); `undo` puts back the patch you had"
    )
    assert (
        back_line(("h", 1), False, 1, False)
        == "the engine at h:1 answers again: resynced (1 module)"
    )


def test_a_hung_engine_that_answers_again_is_back_not_restarted() -> None:
    engine = FakeEngine()
    watch, said = _watched(engine)
    try:
        _until(lambda: "/engine/sync" in engine.addresses(), said)
        engine.silent = True
        _until(lambda: said == ["lost"], said)
        engine.silent = False
        _until(lambda: said == ["lost", "back False"], said)
        assert not watch.lost
    finally:
        watch.close()
        engine.close()


def test_the_shell_resyncs_when_the_engine_is_back() -> None:
    from chronus.lang.context import Context
    from chronus.lang.interpreter import Interpreter
    from chronus.shell.app import Shell

    engine = FakeEngine()
    written: list[str] = []
    try:
        shell = Shell(EngineClient(*engine.address), Interpreter(Context()), written.append)
        assert shell.handle("add a saw called bass")
        engine.dump = {"modules": {"lead": {"type": "sine", "params": {}}}, "tempo": 100.0}
        shell.engine_back(restarted=False)
        assert (
            written[-1]
            == f"the engine at 127.0.0.1:{engine.port} answers again: resynced (1 module)"
        )
        context = shell.interpreter.context
        assert list(context.modules) == ["lead"] and context.tempo == 100.0
        shell.engine_back(restarted=True)  # the same patch again: nothing to put back
        assert written[-1].endswith("resynced (1 module)")
        assert len(shell.interpreter.context.history) == 1  # the add of bass, no resync
        shell.client.close()
    finally:
        engine.close()
