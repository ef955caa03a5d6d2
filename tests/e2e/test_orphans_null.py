"""No zombie is left under the engine when a slot dies while a forked child captures its
state (`engine/capture.py`): the child is adopted by the engine's subreaper, which must reap
it (the hour at the prompt collected nine such zombies under the supervisor)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.launcher import SWEEP_EVERY_S
from chronus.engine.reaped import ORPHAN_GRACE_S
from chronus.protocol import Message, validate
from tests.processes import descendants

pytestmark = [pytest.mark.slow]

CHAINS = 24
"""Enough chains that a checkpoint takes more than a millisecond in place: then a forked
child captures it."""
LINGER_S = ORPHAN_GRACE_S + SWEEP_EVERY_S
"""A zombie still there this long after it was seen is left behind: the supervisor reaps an
orphan within its grace and a sweep period, and a parent reaps the child it started at its
next look (a slot reaps its capture child within a period: such transient zombies come every
second or so while the slots checkpoint)."""


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


def _zombie_since(pid: int) -> int:
    """The start time of `pid` (clock ticks since boot) if it is a zombie, else 0: with the
    pid, it names one process (a pid alone may be reused)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[19]) if fields[0] == "Z" else 0


def _both_running(client: EngineClient) -> bool:
    return all(slot["seat"] == "running" for slot in client.status()["slots"])


def _zombies(root: int) -> set[int]:
    return {pid for pid in descendants(root) if _stat(pid)[0] == "Z"}


def _lingering(root: int, linger_s: float) -> dict[int, tuple[str, int, str]]:
    """The zombies under `root` now that are still zombies, the same processes, `linger_s`
    seconds later: (state, parent, name) of each."""
    zombies = {pid: since for pid in _zombies(root) if (since := _zombie_since(pid))}
    deadline = time.monotonic() + linger_s
    while zombies and time.monotonic() < deadline:
        time.sleep(0.05)
        zombies = {pid: since for pid, since in zombies.items() if _zombie_since(pid) == since}
    return {pid: _stat(pid) for pid in zombies}


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
            assert not (left := _lingering(root, LINGER_S)), left
            while time.monotonic() < deadline + 10.0 and not _both_running(client):
                time.sleep(0.1)
            assert _both_running(client), client.status()["slots"]
        assert engine.quit() == 0
    finally:
        engine.kill()


def test_a_zombie_that_stays_is_told_from_one_reaped_meanwhile() -> None:
    stays = os.fork()
    if stays == 0:
        os._exit(0)
    reaped = os.fork()
    if reaped == 0:
        os._exit(0)
    try:
        while not (_zombie_since(stays) and _zombie_since(reaped)):
            time.sleep(0.01)
        threading.Timer(0.1, os.waitpid, (reaped, 0)).start()
        left = _lingering(os.getpid(), 0.5)
        assert stays in left and reaped not in left, left
    finally:
        os.waitpid(stays, 0)
