"""What a killed engine leaves in /dev/shm, and the next engine's start that removes it.

A SIGKILL gives no process a chance to unlink anything: the whole engine killed at once leaves
its segments and semaphores behind, every one named after its supervisor (pid and start time).
The next `chronus engine` removes them at start and says so; a live engine's are never touched;
`/engine/status` reports what dead engines left; a clean stop leaves nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.leftovers import SHM, engine_tag, pid_namespace, process_start
from tests.processes import descendants, gone
from tests.sessions import spare_made, wait_status

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # any engine's start removes a dead one's

KINDS = ("io", "control", "tap", "patterns", "cpus", "lifelines", "audio-a", "cmd-b", "handover-a")
"""Some of the segments every engine makes (one of each kind at least)."""


def _tag(engine: EngineProcess) -> str:
    assert engine.process is not None
    pid = engine.process.pid
    return f"chronus-{pid}-{process_start(pid)}-p{pid_namespace(pid)}-"


def _files(tag: str) -> set[str]:
    """The engine's files in /dev/shm: its segments and its semaphores (`sem.` + name)."""
    return {name for name in os.listdir(SHM) if name.startswith((tag, f"sem.{tag}"))}


def _check_made(files: set[str], tag: str) -> None:
    for kind in KINDS:
        assert any(name.startswith(f"{tag}{kind}-") for name in files), (kind, sorted(files))
    semaphores = {name for name in files if name.startswith("sem.")}
    assert len(semaphores) >= 3, sorted(files)  # the I/O's halt and the two slots' wakes


def _booted(own_group: bool = False) -> EngineProcess:
    engine = EngineProcess(port=0, backend="null", own_group=own_group).boot()
    with engine.client() as client:
        wait_status(client, spare_made, timeout=30.0)  # every process and segment made
    return engine


def test_a_killed_engines_leftovers_go_at_the_next_start_and_a_live_engine_keeps_its_own() -> None:
    live = _booted()
    doomed = _booted(own_group=True)
    fresh: EngineProcess | None = None
    fresh_tag = "(none)"
    try:
        assert doomed.process is not None
        live_tag, doomed_tag = _tag(live), _tag(doomed)
        everyone = descendants(doomed.process.pid)
        left = _files(doomed_tag)
        _check_made(left, doomed_tag)
        live_files = _files(live_tag)
        _check_made(live_files, live_tag)

        os.killpg(doomed.process.pid, signal.SIGKILL)
        doomed.process.wait(5)
        assert gone(everyone), "a process of the killed engine lives on"
        assert _files(doomed_tag) == left  # nobody had a chance to unlink anything

        with live.client() as client:  # the live engine reports them (it looks every 5 s)
            status = wait_status(
                client, lambda s: s["engine"]["leftovers"]["engines"] >= 1, timeout=15.0
            )
        reported = status["engine"]["leftovers"]
        assert reported["segments"] >= len(left) - 3 and reported["semaphores"] >= 3
        assert reported["bytes"] > 0

        fresh = EngineProcess(port=0, backend="null").boot()
        fresh_tag = _tag(fresh)
        assert _files(doomed_tag) == set()
        assert _files(live_tag) == live_files  # a live engine's are never removed
        lines = [line for line in fresh.notices if "dead engine" in line]
        assert len(lines) == 1 and str(doomed.process.pid) in lines[0], fresh.notices
        with live.client() as client:
            assert client.status()["engine"]["rate"] == 48000  # and it plays on
    finally:
        doomed.kill()
        codes = [live.quit()] + ([fresh.quit()] if fresh else [])
    assert codes == [0] * len(codes)
    # a clean stop leaves nothing
    assert _files(live_tag) == set()
    assert _files(fresh_tag) == set()


def test_the_supervisor_killed_alone_takes_its_children_and_the_next_start_cleans_up() -> None:
    doomed = _booted()
    assert doomed.process is not None
    try:
        tag = _tag(doomed)
        everyone = descendants(doomed.process.pid)
        _check_made(_files(tag), tag)
    except BaseException:
        doomed.kill()  # a failed check must not leave a playing engine behind
        raise
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(5)
    assert gone(everyone), "a process outlived the SIGKILLed supervisor"
    fresh = EngineProcess(port=0, backend="null").boot()
    try:
        assert _files(tag) == set()
    finally:
        assert fresh.quit() == 0


def test_doctor_lists_and_removes_what_dead_engines_left_and_nothing_of_a_live_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = [
        SHM / f"chronus-{child.pid}-1-test-doctor-aaaaaa",
        SHM / f"sem.chronus-{child.pid}-1-sem-b",
    ]
    live = SHM / f"{engine_tag()}-test-doctor-cccccc"
    for path in [*dead, live]:
        path.write_bytes(b"\1" * 4096)
    try:
        doctor = [sys.executable, "-m", "chronus", "doctor"]
        looked = subprocess.run([*doctor, "--dry-run"], capture_output=True, text=True, timeout=60)
        assert looked.returncode == 0, looked.stderr
        assert all(str(path) in looked.stdout for path in dead), looked.stdout
        assert str(live) not in looked.stdout
        assert all(path.exists() for path in [*dead, live])

        done = subprocess.run(doctor, capture_output=True, text=True, timeout=60)
        assert done.returncode == (1 if "kept" in done.stdout else 0), done.stdout + done.stderr
        assert "removed" in done.stdout and str(child.pid) in done.stdout
        assert not any(path.exists() for path in dead)
        assert live.exists()
    finally:
        for path in [*dead, live]:
            path.unlink(missing_ok=True)
