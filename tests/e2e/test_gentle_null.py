"""A replacement is gentle on the active slot: a spare warms up and waits at nice 19, and the
worker that replaces a killed standby plays at the slots' real-time priority once it has
caught up, at nice 0 (a real engine on the null backend; priorities read from /proc)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.lifecycle import HUMBLE_NICE
from tests.e2e.test_titles_null import titles

pytestmark = [pytest.mark.slow]

SCHED_FIFO = 1


def nice_and_policy(pid: int) -> tuple[int, int]:
    """(nice, scheduling policy) of `pid`, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16]), int(fields[38])


def spare_pid(engine: EngineProcess, not_this: int = 0, timeout: float = 20.0) -> int:
    assert engine.process is not None
    deadline = time.monotonic() + timeout
    while True:
        found = [
            pid for pid, title in titles(engine.process.pid).items()
            if title == "chronus: spare" and pid != not_this
        ]  # fmt: skip
        if found:
            return found[0]
        assert time.monotonic() < deadline, "no spare worker appeared"
        time.sleep(0.05)


def seats(client: EngineClient) -> dict[str, dict[str, Any]]:
    return {slot["role"]: slot for slot in client.status()["slots"]}


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs the right to come back to nice 0")
def test_spares_wait_humbly_and_a_joiner_plays_at_the_slots_priority(
    engine: EngineProcess,
) -> None:
    with engine.client() as client:
        spare = spare_pid(engine)
        assert nice_and_policy(spare) == (HUMBLE_NICE, 0)
        before = seats(client)
        if not before["active"]["realtime"]:
            pytest.skip("the slots get no real-time priority here")
        standby = int(before["standby"]["pid"])
        assert nice_and_policy(standby) == (0, SCHED_FIFO)
        os.kill(standby, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            now = seats(client)
            joined = now.get("standby", {})
            if joined.get("pid") == spare and joined.get("seat") == "running":
                if joined["realtime"]:
                    break
            assert time.monotonic() < deadline, now
            time.sleep(0.05)
        assert nice_and_policy(spare) == (0, SCHED_FIFO)  # the spare took the seat
        assert nice_and_policy(spare_pid(engine, not_this=spare)) == (HUMBLE_NICE, 0)
