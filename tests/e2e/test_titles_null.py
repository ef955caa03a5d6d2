"""Every engine process names itself: what `ps` shows, read from `/proc/<pid>/cmdline`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineProcess


def cmdline(pid: int) -> str:
    """What `ps -o args` shows for `pid` ("" if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def titles(pid: int) -> dict[int, str]:
    return {child: cmdline(child) for child in descendants(pid)}


def wait_titles(client: EngineClient, want: dict[str, str], timeout: float = 10.0) -> None:
    """Wait until the slots' and the audio I/O's pids carry the titles in `want` (by role)."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.status()
        seen = {slot["role"]: cmdline(slot.get("pid", 0)) for slot in status["slots"]}
        seen["io"] = cmdline(status["io"]["pid"])
        if all(seen.get(role) == title for role, title in want.items()):
            return
        assert time.monotonic() < deadline, (seen, want)
        time.sleep(0.1)


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()


def test_ps_shows_what_each_engine_process_is(engine: EngineProcess) -> None:
    assert engine.process is not None
    parent = engine.process.pid
    with engine.client() as client:
        supervisor = client.status()["engine"]["supervisor"]["pid"]
        assert cmdline(supervisor) == f"chronus: supervisor :{engine.port}"
        deadline = time.monotonic() + 5  # named once the supervisor tells it the port
        while cmdline(parent) != f"chronus: engine :{engine.port}":
            assert time.monotonic() < deadline, cmdline(parent)
            time.sleep(0.05)
        wait_titles(client, {
            "active": "chronus: slot A (active)",
            "standby": "chronus: slot B (standby)",
            "io": "chronus: audio I/O",
        })  # fmt: skip
    wanted = {
        "chronus: template", "chronus: spare", "chronus: sandbox", "chronus: sandbox job",
        "chronus: supervisor (standby)",
    }  # fmt: skip
    deadline = time.monotonic() + 30  # the sandbox workers warm up, then fork their job
    while True:
        named = titles(parent)
        # multiprocessing's resource tracker is started by the library itself, unnamed
        unnamed = {
            pid: text for pid, text in named.items()
            if text and not text.startswith("chronus: ") and "resource_tracker" not in text
        }  # fmt: skip
        if wanted <= set(named.values()) and not unnamed:
            break
        assert time.monotonic() < deadline, named
        time.sleep(0.2)


def test_a_failover_renames_the_slots_roles(engine: EngineProcess) -> None:
    with engine.client() as client:
        wait_titles(client, {"active": "chronus: slot A (active)"})
        active = next(s for s in client.status()["slots"] if s["role"] == "active")
        os.kill(active["pid"], signal.SIGKILL)
        wait_titles(client, {
            "active": "chronus: slot B (active)",
            "standby": "chronus: slot A (standby)",
        }, timeout=20)  # fmt: skip
