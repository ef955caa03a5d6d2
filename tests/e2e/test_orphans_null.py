"""No zombie is left under the engine when a slot dies while a forked child captures its
state (`engine/capture.py`): the child is adopted by the engine's subreaper, which must reap
it (the hour at the prompt collected nine such zombies under the supervisor)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate
from tests.processes import descendants

pytestmark = [pytest.mark.slow]

CHAINS = 24
"""Enough chains that a checkpoint takes more than a millisecond in place: then a forked
child captures it."""


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _stat(pid: int) -> tuple[str, int, str]:
    """(state, parent, name) of `pid`; ("", 0, "") if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", 0, ""
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), stat[stat.index("(") + 1 : stat.rindex(")")]


def _both_running(client: EngineClient) -> bool:
    return all(slot["seat"] == "running" for slot in client.status()["slots"])


def _zombies(root: int) -> set[int]:
    return {pid for pid in descendants(root) if _stat(pid)[0] == "Z"}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in task.read_text().split())
        except (OSError, ValueError):
            continue
    return found


def _capturing(root: int, timeout: float) -> tuple[int, int] | None:
    """(slot, its capture child) once a slot has a live child; None if none within
    `timeout` seconds. A capture lives milliseconds: the slots' children are polled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slots = [pid for pid in descendants(root) if _stat(pid)[2].startswith("chronus: slot")]
        looked_until = time.monotonic() + 1.0
        while time.monotonic() < looked_until:
            for slot in slots:
                for child in _children(slot):
                    if _stat(child)[0] not in ("", "Z"):
                        return slot, child
            time.sleep(0.0005)
    return None


@pytest.mark.parametrize("parent", ["1", "0"], ids=["under-the-parent", "supervisor-reaps"])
def test_a_slot_killed_while_its_child_captures_leaves_no_zombie(parent: str) -> None:
    engine = EngineProcess(port=0, backend="null", env={"CHRONUS_PARENT": parent}).boot()
    try:
        assert engine.process is not None
        root = engine.process.pid
        with engine.client() as client:
            patch: list[Message] = []
            for n in range(CHAINS):
                patch += [
                    _m("/patch/create", f"s{n}", "saw"), _m("/patch/create", f"f{n}", "acid"),
                    _m("/patch/connect", f"s{n}", f"f{n}"), _m("/patch/connect", f"f{n}", "master"),
                ]  # fmt: skip
            for first in range(0, len(patch), 40):
                client.send(patch[first : first + 40])
                client.sync()
            orphans: set[int] = set()
            for _ in range(2):
                found = _capturing(root, timeout=30.0)
                assert found is not None, "no slot captured its state in a forked child"
                slot, child = found
                os.kill(slot, signal.SIGKILL)
                orphans.add(child)
                time.sleep(1.0)  # the slot is replaced; its child dies with it
            deadline = time.monotonic() + 10.0
            while (_zombies(root) or orphans & descendants(root)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not orphans & descendants(root), [_stat(pid) for pid in orphans]
            assert not _zombies(root), [_stat(pid) for pid in _zombies(root)]
            while time.monotonic() < deadline + 10.0 and not _both_running(client):
                time.sleep(0.1)
            assert _both_running(client), client.status()["slots"]
        assert engine.quit() == 0
    finally:
        engine.kill()
