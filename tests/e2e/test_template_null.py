"""The process template under a running engine: every process it forks is the engine parent's.

The slots, the spare, the audio I/O and the CPU stampers are forks of one warm template, handed
to the engine's minimal parent as its own children: they die with it (not with the
supervisor, which is replaceable), and a template that dies takes none of them along. A new
template is started and the next spare comes from it. An engine stopped while its template
compiles the kernels (a first run) stops at once. With CHRONUS_TEMPLATE=0 every process is
spawned instead, as where there can be no template.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.slot import SLOT_PRIORITY
from tests.foreign_realtime import ForeignRealtime
from tests.processes import descendants as _descendants
from tests.processes import gone as _gone
from tests.processes import parent as _parent
from tests.sessions import bass_line, spare_made, wait_status
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]

BLOCK_MS = 128 / 48
ROOT = Path(__file__).resolve().parents[2]


def test_every_engine_process_is_the_engine_parents_child_and_dies_with_it() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    assert engine.process is not None
    parent = engine.process.pid
    try:
        with engine.client() as client:
            status = wait_status(client, spare_made)
        template = status["engine"]["template"]
        supervisor = status["engine"]["supervisor"]["pid"]
        assert template["state"] == "warm"
        forked = [int(slot["pid"]) for slot in status["slots"]] + [int(status["io"]["pid"])]
        # forked twice, each is a child of the engine's parent (it outlives the supervisor)
        assert all(_parent(pid) == parent for pid in forked)
        assert _parent(template["pid"]) == supervisor and _parent(supervisor) == parent
        everyone = _descendants(parent)
        assert set(forked) | {template["pid"], supervisor} <= everyone
        assert not {pid for pid in everyone if _parent(pid) == template["pid"]}
    except BaseException:
        engine.kill()
        raise
    os.kill(parent, signal.SIGKILL)
    engine.process.wait(5)
    assert _gone(everyone, 10.0), "a process outlived the SIGKILLed engine parent"


def test_a_killed_template_stops_no_sound_and_leaves_nothing_behind() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    assert engine.process is not None
    seen: set[int] = set()
    try:
        with engine.client() as client:
            client.send(bass_line())
            client.sync()
            before = wait_status(client, spare_made)
            seen |= _descendants(engine.process.pid)
            first = before["engine"]["template"]["pid"]
            with StallMonitor() as host, ForeignRealtime(SLOT_PRIORITY) as others:
                os.kill(first, signal.SIGKILL)
                status = wait_status(
                    client,
                    lambda s: (
                        s["engine"]["template"]["restarts"] == 1
                        and s["engine"]["template"]["state"] == "warm"
                    ),
                    timeout=30.0,
                )
            assert any("template exited (code -9)" in e for e in status["engine"]["events"])
            assert status["engine"]["template"]["pid"] != first
            seen |= _descendants(engine.process.pid)
            # nothing it forked went with it: the same slots play on, nobody respawned
            assert [s["pid"] for s in status["slots"]] == [s["pid"] for s in before["slots"]]
            assert status["engine"]["respawns"] == 0 and status["engine"]["failovers"] == 0
            played = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
            assert played > 0
            # None but what the host's stalls explain and the CPU time other processes'
            # realtime threads took from the slots (other tests' engines on this machine).
            underruns = status["io"]["underruns"] - before["io"]["underruns"]
            bound = host.blocks_bound(BLOCK_MS) + others.blocks_bound(BLOCK_MS)
            assert underruns <= bound, (underruns, host.stalls_ms, others.by_process)
            # a slot killed now is replaced, and the next spare comes from the new template
            active = next(s for s in status["slots"] if s["role"] == "active")
            os.kill(int(active["pid"]), signal.SIGKILL)
            status = wait_status(
                client,
                lambda s: (
                    any("rejoined in lockstep" in e for e in s["engine"]["events"])
                    and s["engine"]["template"]["forks"] >= 1
                ),
            )
            seen |= _descendants(engine.process.pid)
    finally:
        code = engine.quit()
    assert code == 0
    assert _gone(seen), "a process outlived the engine"


def test_without_the_template_every_process_is_spawned_and_replaced_the_same() -> None:
    engine = EngineProcess(port=0, backend="null", env={"CHRONUS_TEMPLATE": "0"}).boot()
    try:
        with engine.client() as client:
            client.send(bass_line())
            client.sync()
            status = client.status()
            assert status["engine"]["template"]["state"] == "spawn"
            assert all(slot["seat"] == "running" for slot in status["slots"])
            active = next(s for s in status["slots"] if s["role"] == "active")
            os.kill(int(active["pid"]), signal.SIGKILL)
            status = wait_status(
                client,
                lambda s: any("rejoined in lockstep" in e for e in s["engine"]["events"]),
                timeout=30.0,
            )
            assert status["engine"]["failovers"] == 1
    finally:
        code = engine.quit()
    assert code == 0


def test_an_engine_stopped_while_its_kernels_compile_stops_at_once(tmp_path: Path) -> None:
    # a copy of the code without any cache: a first run, its kernels compiling
    shutil.copytree(
        ROOT / "chronus", tmp_path / "chronus", ignore=shutil.ignore_patterns("__pycache__")
    )
    engine = subprocess.Popen(
        [sys.executable, "-m", "chronus", "engine", "--backend", "null", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path,
    )  # fmt: skip
    assert engine.stderr is not None
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "compiling DSP kernels (first run)" not in line:
            assert time.monotonic() < deadline and engine.poll() is None, "no kernel compiled"
            ready = select.select([engine.stderr], [], [], 0.5)[0]
            line = engine.stderr.readline() if ready else ""
        everyone = _descendants(engine.pid)
        assert everyone, "no template"
        engine.terminate()
        assert engine.wait(10) == 130
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(10)
    assert _gone(everyone), "a process outlived the engine"
