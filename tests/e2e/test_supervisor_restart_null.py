"""The supervisor is replaceable: SIGKILL it mid-play and the slots play on, a new one answers.

Real engine subprocesses on the null backend, real SIGKILLs, real OSC. The engine's pid is its
minimal parent (`parent.py`); the supervisor is the child `/engine/status` names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.leftovers import SHM
from chronus.engine.slot import SLOT_PRIORITY
from tests.foreign_realtime import ForeignRealtime, blocks_explained
from tests.processes import answered_after_takeover, descendants, gone, parent
from tests.sessions import bass_line, wait_status
from tests.stalls import StallMonitor, told_on_failure, what_happened

pytestmark = [pytest.mark.slow]

BLOCK_MS = 1000 * 128 / 48000


def _segments_of(pid: int) -> list[str]:
    return [name for name in os.listdir(SHM) if f"chronus-{pid}-" in name]


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        yield engine
    finally:
        if engine.process is not None and engine.process.poll() is None:
            below = descendants(engine.process.pid)
            engine.quit()
            if not gone(below, 2.0):
                for pid in below:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def _play(client: EngineClient) -> dict[str, Any]:
    """Play a bass line; the status once it sounds and the parent holds a standby warm."""
    client.send(bass_line())
    _, notes = client.sync(timeout=20.0)  # a loaded machine: the standby warms meanwhile
    assert notes == []
    return wait_status(
        client,
        lambda s: bool(s["io"]["sounding_blocks"] and s["engine"]["supervisor"]["standby"]),
        timeout=60.0,
    )


def test_a_killed_supervisor_is_replaced_and_the_slots_play_on(engine: EngineProcess) -> None:
    assert engine.process is not None
    client = engine.client()
    before = _play(client)
    old = before["engine"]["supervisor"]["pid"]
    assert parent(old) == engine.process.pid
    slots = {slot["pid"] for slot in before["slots"]}
    with StallMonitor() as stalls, ForeignRealtime(SLOT_PRIORITY) as others:
        killed = time.monotonic()
        os.kill(old, signal.SIGKILL)
        after = answered_after_takeover(
            client, lambda s: s["engine"]["supervisor"]["pid"] != old, timeout=30.0
        )
        time.sleep(1.0)
        later = client.status()
    new = after["engine"]["supervisor"]
    assert new["pid"] not in (old, 0) and new["restarts"] == 1
    assert after["engine"]["uptime_s"] > before["engine"]["uptime_s"]  # the same engine
    assert client.now()["boot"].startswith(f"{before['engine']['supervisor']['pid']}-")
    assert all(parent(pid) == engine.process.pid for pid in slots), "a slot died with it"
    io_before, io_later = before["io"], later["io"]
    assert io_later["blocks_played"] > io_before["blocks_played"] + 200  # the device went on
    assert io_later["sounding_blocks"] > io_before["sounding_blocks"] + 100  # and the pattern
    lost = io_later["underruns"] - io_before["underruns"]
    with told_on_failure(
        lambda: what_happened(later, stalls, killed, [(killed, "SIGKILL of the supervisor")])
    ):
        # None but what the host's stalls explain and the CPU time other processes'
        # realtime threads took from the slots (other tests' engines on this machine).
        bound = blocks_explained(stalls, others, BLOCK_MS)
        assert lost <= bound, f"{lost} blocks lost beyond host stalls and {others.by_process}"
    assert engine.quit() == 0
    assert gone(slots)
    assert _segments_of(engine.process.pid) == []


def test_the_engine_ends_when_its_parent_is_killed(engine: EngineProcess) -> None:
    assert engine.process is not None
    client = engine.client()
    _play(client)
    pid = engine.process.pid
    below = descendants(pid)
    assert len(below) >= 6  # supervisor, standby, template, slots A and B, the I/O
    os.kill(pid, signal.SIGKILL)
    engine.process.wait(5.0)
    assert gone(below, 10.0), "an engine process outlived its parent"
    deadline = time.monotonic() + 5.0
    while _segments_of(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _segments_of(pid) == []
