"""Names that say whose shared memory it is, and the sweep of what dead engines left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chronus.engine.launcher import spawn_context
from chronus.engine.leftovers import (
    Owner,
    Watch,
    engine_tag,
    find_leftovers,
    owner_alive,
    owner_of,
    pid_namespace,
    process_start,
    segment_name,
    start_from_stat,
    summary,
    sweep,
)
from chronus.engine.rings import SharedCounters, unique_name


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _start_when_exited(pid: int) -> int | None:
    """`process_start` of child `pid` once it has exited, before anyone reaps it."""
    deadline = time.monotonic() + 30.0
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    return process_start(pid)


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("chronus-41-7730-p4026531836-io-1a2b3c", Owner(41, 7730, 4026531836)),
        ("sem.chronus-41-7730-p4026531836-sem-k2x9", Owner(41, 7730, 4026531836)),
        ("chronus-41-7730-plugin-1a2b3c", Owner(41, 7730)),  # a kind that starts with p
        ("chronus-41-7730-io-1a2b3c", Owner(41, 7730)),
        ("chronus-41-7730-handover-a-1a2b3c", Owner(41, 7730)),
        ("sem.chronus-41-7730-sem-k2x9aa1q", Owner(41, 7730)),
        ("chronus-41-0-cpus-1a2b3c", Owner(41, 0)),
        ("chronus-41-io-1a2b3c", Owner(41, None)),  # before the start time was in names
        ("sem.mp-k2x9aa1q", None),
        ("jack-0-0", None),
        ("SuperColliderServer_57391", None),
        ("chronus-io-1a2b3c", None),
        ("chronus-41-7730", None),
        ("chronus-41-7730-", None),
        ("xchronus-41-7730-io-1a2b3c", None),
        ("sem.chronus-x-7730-sem-a", None),
    ],
)
def test_a_name_says_its_owner_or_that_it_is_not_the_engines(
    name: str, owner: Owner | None
) -> None:
    assert owner_of(name) == owner


def test_the_start_time_is_read_after_the_last_parenthesis() -> None:
    fields = " ".join(str(n) for n in range(4, 53))  # field 4 onwards: 22 is the start time
    assert start_from_stat(f"123 (a) b (c)) S {fields}") == 22
    assert start_from_stat(f"123 (plain) R {fields}") == 22
    assert start_from_stat(f"123 (exited) Z {fields}") is None  # a zombie: gone
    assert start_from_stat("123 (cut short) S 1 2") is None
    assert start_from_stat("") is None


def test_this_process_names_what_it_makes_after_its_pid_and_start_time() -> None:
    tag = engine_tag()
    start = process_start(os.getpid())
    assert start is not None and start > 0
    assert tag == f"chronus-{os.getpid()}-{start}-p{pid_namespace()}"
    name = segment_name("io")
    assert name.startswith(f"{tag}-io-") and name != segment_name("io")
    assert owner_of(name) == Owner(os.getpid(), start, pid_namespace())


def test_a_live_owner_is_alive_and_a_reused_pid_or_a_gone_one_is_not() -> None:
    me = os.getpid()
    start = process_start(me)
    assert start is not None
    assert owner_alive(Owner(me, start))
    assert not owner_alive(Owner(me, start + 1))  # the same pid, started another time
    assert owner_alive(Owner(me, None))  # an old name: the pid alone decides
    gone = _dead_pid()
    assert process_start(gone) is None
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        zombie_start = _start_when_exited(zombie.pid)
        assert zombie_start is None and not owner_alive(Owner(zombie.pid, None))
    finally:
        zombie.wait()
    assert not owner_alive(Owner(gone, None))
    assert not owner_alive(Owner(gone, 1))
    here = pid_namespace()
    assert here is not None
    assert not owner_alive(Owner(gone, 1, here))
    assert owner_alive(Owner(gone, 1, here + 1))  # another namespace's pid means nothing here


def test_the_engines_semaphores_are_named_after_it_too() -> None:
    ctx = spawn_context()
    semaphore = ctx.Semaphore(0)
    name = semaphore._semlock.name  # type: ignore[attr-defined]
    assert name.startswith(f"/{engine_tag()}-sem-")
    assert Path(f"/dev/shm/sem.{name[1:]}").exists()
    assert owner_of(f"sem.{name[1:]}") == owner_of(engine_tag() + "-x")


def test_a_live_processs_segment_is_no_leftover() -> None:
    counters = SharedCounters.create(unique_name("test-leftover"), 4)
    try:
        assert Path(f"/dev/shm/{counters.name}").exists()
        assert all(item.path.name != counters.name for item in find_leftovers())
    finally:
        counters.close()
    assert not Path(f"/dev/shm/{counters.name}").exists()


def _touch(folder: Path, name: str, size: int = 4096) -> Path:
    path = folder / name
    path.write_bytes(b"\1" * size)
    return path


def test_a_sweep_removes_the_deads_only_and_not_what_a_live_process_maps(tmp_path: Path) -> None:
    dead = [
        _touch(tmp_path, "chronus-10-500-io-aaaaaa"),
        _touch(tmp_path, "chronus-10-500-tap-bbbbbb", 8192),
        _touch(tmp_path, "sem.chronus-10-500-sem-cccccccc"),
        _touch(tmp_path, "chronus-12-io-dddddd"),
    ]
    held = _touch(tmp_path, "chronus-10-500-cmd-a-eeeeee")  # a dying child still maps it
    live = [
        _touch(tmp_path, "chronus-11-600-io-ffffff"),
        _touch(tmp_path, "sem.chronus-11-600-sem-gggggggg"),
    ]
    foreign = [_touch(tmp_path, "sem.mp-hhhhhhhh"), _touch(tmp_path, "jack-0-0")]
    asked: list[Owner] = []

    def alive(owner: Owner) -> bool:
        asked.append(owner)
        return owner.pid == 11

    found = find_leftovers(tmp_path, alive)
    assert [item.path for item in found] == sorted([*dead, held], key=lambda p: p.name)
    assert sorted(asked) == [Owner(10, 500), Owner(11, 600), Owner(12, None)]  # once each
    counts = summary(found)
    assert counts["segments"] == 4 and counts["semaphores"] == 1 and counts["engines"] == 2
    assert counts["bytes"] >= 4096 * 4 + 8192

    done = sweep(tmp_path, alive, lambda folder: {held.name})
    assert sorted(item.path for item in done.removed) == sorted(dead)
    assert [item.path for item in done.kept] == [held]
    assert not any(path.exists() for path in dead)
    assert all(path.exists() for path in [held, *live, *foreign])
    line = done.line()
    assert "removed 3 shared-memory segments and 1 semaphores" in line
    assert "2 dead engine(s)" in line and "pids 10, 12" in line and "kept 1" in line


def test_a_sweep_with_nothing_to_do_says_nothing_and_reads_no_maps(tmp_path: Path) -> None:
    _touch(tmp_path, "chronus-11-600-io-ffffff")

    def no_maps(folder: Path) -> set[str]:
        raise AssertionError("no leftovers: no need to read every process's maps")

    done = sweep(tmp_path, lambda owner: True, no_maps)
    assert done.removed == [] and done.kept == [] and done.line() == ""


def test_a_leftover_gone_meanwhile_is_not_counted(tmp_path: Path) -> None:
    path = _touch(tmp_path, "chronus-10-500-io-aaaaaa")

    def quicker(folder: Path) -> set[str]:
        path.unlink()  # the dead engine's resource tracker got there first
        return set()

    done = sweep(tmp_path, lambda owner: False, quicker)
    assert done.removed == [] and done.kept == []


def test_the_watch_looks_again_only_after_its_interval(tmp_path: Path) -> None:
    watch = Watch(every_s=3600.0, folder=tmp_path)
    assert watch.summary()["segments"] == 0
    _touch(tmp_path, f"chronus-{_dead_pid()}-1-io-aaaaaa")
    assert watch.summary()["segments"] == 0  # not yet looked again
    assert Watch(every_s=0.0, folder=tmp_path).summary()["segments"] == 1


def test_without_proc_to_read_a_sweep_removes_nothing(tmp_path: Path) -> None:
    path = _touch(tmp_path, "chronus-10-500-io-aaaaaa")

    def unreadable(folder: Path) -> set[str]:
        raise PermissionError("/proc")

    done = sweep(tmp_path, lambda owner: False, unreadable)
    assert done.removed == [] and [item.path for item in done.kept] == [path]
    assert path.exists() and "kept 1" in done.line()


_INNER = """
import sys, time
from pathlib import Path
from chronus.engine.leftovers import engine_tag, find_leftovers
folder = Path(sys.argv[1])
(folder / f"{engine_tag()}-io-bbbbbb").write_bytes(b"1")
print(" ".join(sorted(item.path.name for item in find_leftovers(folder))), flush=True)
sys.stdin.readline()
"""


def test_engines_in_two_pid_namespaces_never_take_each_others_names_for_dead(
    tmp_path: Path,
) -> None:
    """An engine in a container (its own pid namespace, one /dev/shm shared) and one outside
    it: neither sees the other's pids, and neither may remove the other's live segments."""
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"no pid namespaces here: {probe.stderr.decode().strip()}")
    ours = tmp_path / f"{engine_tag()}-io-aaaaaa"
    ours.write_bytes(b"1")
    root = str(Path(__file__).resolve().parents[2])
    inner = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", _INNER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    try:
        assert inner.stdout is not None and inner.stdin is not None
        seen_inside = inner.stdout.readline().split()
        assert seen_inside == [], "the engine inside took the live outer engine's name for dead"
        theirs = [path for path in tmp_path.iterdir() if path != ours]
        assert len(theirs) == 1 and owner_of(theirs[0].name) is not None
        assert owner_of(theirs[0].name).ns != pid_namespace()  # type: ignore[union-attr]
        assert find_leftovers(tmp_path) == [], "the outer engine took the inner's name for dead"
        assert sweep(tmp_path).removed == [] and theirs[0].exists()
        inner.stdin.write("\n")
        inner.stdin.flush()
        assert inner.wait(timeout=30) == 0
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
