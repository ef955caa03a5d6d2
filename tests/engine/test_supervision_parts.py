"""The parts a replaceable supervisor is made of: exit codes from the parent, semaphores
re-opened by name, segments taken over, names that are the engine's, slots that outlive a
dead supervisor's pipe."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from chronus.engine import leftovers
from chronus.engine.launcher import spawn_context
from chronus.engine.manifest import reopen_semaphore, semaphore_name, unlink_semaphore
from chronus.engine.reaped import (
    KEPT_CODES,
    STANDBY,
    Orphans,
    ReapedCodes,
    children,
    reap_all,
    tell,
)
from chronus.engine.rings import SharedCounters, unique_name
from chronus.engine.slot import _snapshot_taken
from chronus.engine.stats import SlotField
from tests.processes import gone


def test_exit_codes_reach_the_supervisor_and_the_standby_is_named() -> None:
    parent_end, supervisor_end = mp.Pipe(duplex=True)
    codes = ReapedCodes(supervisor_end)
    assert codes.standby() == 0
    assert tell(parent_end, [(101, 0), (102, -9)])
    assert tell(parent_end, [(STANDBY, 4242)])
    assert codes.code_of(102) == -9
    assert codes.code_of(101) == 0
    assert codes.standby() == 4242


def test_threads_waiting_for_codes_at_once_each_get_theirs() -> None:
    """A group's hosts are stopped each in a thread at the engine's quit: two waits on the
    link must not both read it (one would block for a word that never comes)."""
    parent_end, supervisor_end = mp.Pipe(duplex=True)
    codes = ReapedCodes(supervisor_end)
    got: dict[int, int] = {}
    waiting = [
        threading.Thread(target=lambda pid=pid: got.update({pid: codes.code_of(pid, 5.0)}))
        for pid in (101, 102)
    ]
    for thread in waiting:
        thread.start()
    time.sleep(0.1)  # both waiting on the link
    assert tell(parent_end, [(101, 0), (102, -9)])
    for thread in waiting:
        thread.join(10.0)
    assert not any(thread.is_alive() for thread in waiting), "a wait hung on the link"
    assert got == {101: 0, 102: -9}


def test_codes_nobody_asks_for_are_not_kept_for_ever() -> None:
    parent_end, supervisor_end = mp.Pipe(duplex=True)
    codes = ReapedCodes(supervisor_end)
    orphans = [(1000 + n, -9) for n in range(KEPT_CODES + 10)]  # reported, never asked for
    assert tell(parent_end, orphans)
    assert tell(parent_end, [(77, 3)])
    assert codes.code_of(77) == 3
    assert codes.code_of(1000 + KEPT_CODES + 9, timeout=0.0) == -9  # the newest are kept
    assert codes.code_of(1000, timeout=0.05) == 255  # the oldest went


def test_an_exit_code_that_never_comes_is_unknown_after_the_wait() -> None:
    _, supervisor_end = mp.Pipe(duplex=True)
    began = time.monotonic()
    assert ReapedCodes(supervisor_end).code_of(7, timeout=0.05) == 255
    assert time.monotonic() - began < 1.0


def test_reap_all_reads_every_exited_child() -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"]) for code in (0, 3)
    ]
    pids = {child.pid: code for child, code in zip(children, (0, 3), strict=True)}
    seen: dict[int, int] = {}
    deadline = time.monotonic() + 30
    while set(pids) - set(seen) and time.monotonic() < deadline:
        seen.update(reap_all())
        time.sleep(0.01)
    assert {pid: seen[pid] for pid in pids} == pids
    for child in children:
        child.returncode = 0  # reaped here: Popen must not wait for them again


def test_orphans_are_reaped_after_the_grace_and_known_children_are_left_to_their_owners() -> None:
    ours, adopted = (
        subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"]) for code in (4, 5)
    )
    assert gone({ours.pid, adopted.pid}, timeout=30)  # both zombies now
    known = children() - {adopted.pid}  # any other child of pytest's is someone's too
    assert ours.pid in known
    orphans = Orphans(grace_s=10.0)
    assert orphans.sweep(known, now=100.0) == []  # a zombie, but not for long yet
    assert orphans.sweep(known, now=105.0) == []
    assert orphans.sweep(known, now=110.0) == [(adopted.pid, 5)]
    assert orphans.reaped == 1
    assert orphans.sweep(known, now=200.0) == []
    assert ours.wait(5) == 4  # its owner still reads its own code
    adopted.returncode = 5  # reaped by the sweep: Popen must not wait for it again


def test_a_semaphore_reopened_by_name_is_the_same_semaphore() -> None:
    made = spawn_context().Semaphore(0)
    name = semaphore_name(made)
    again = reopen_semaphore(name)
    again.release()
    assert made.acquire(timeout=1.0)
    made.release()
    assert again.acquire(timeout=1.0)
    unlink_semaphore("/chronus-0-0-sem-none")  # one already gone: nothing to say


def test_a_semaphore_gone_cannot_be_reopened() -> None:
    with pytest.raises(OSError):
        reopen_semaphore("/chronus-0-0-sem-none")


def test_an_adopted_segment_is_unlinked_by_its_new_owner() -> None:
    made = SharedCounters.create(unique_name("test-adopt"), 4)
    taken = SharedCounters.attach(made.name, 4)
    taken.values[0] = 7
    assert made.values[0] == 7
    taken.adopt()
    name = made.name
    taken.close()
    assert not os.path.exists(f"/dev/shm/{name}")
    del made.values
    made._shm.close()


def test_names_are_the_engine_parents_when_it_gives_its_tag() -> None:
    code = (
        "from chronus.engine.leftovers import segment_name, owner_of;"
        "print(owner_of(segment_name('io')))"
    )
    env = {**os.environ, leftovers.TAG_ENV: "chronus-1-2345-p77"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "Owner(pid=1, start=2345, ns=77)"
    env[leftovers.TAG_ENV] = "chronus-1-2345"  # an older parent's tag, without the namespace
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "Owner(pid=1, start=2345, ns=None)"
    env[leftovers.TAG_ENV] = "not a tag"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "pid=1," not in out.stdout and out.stdout.startswith("Owner(pid=")


def test_a_slot_outlives_the_pipe_of_a_supervisor_that_died() -> None:
    mine, theirs = mp.Pipe(duplex=True)
    theirs.close()
    counters = np.zeros(SlotField.SIZE, dtype=np.int64)
    _snapshot_taken(mine, counters)  # raises nothing: the successor reads SNAPSHOT_DONE
