"""The plugin host processes stay bounded through kills and stops: every host replaced is
reaped (a stopped one too, once continued), and the spares are one per spare key (+1 blank
where hosts are spawned), spawned or forked warm from the template. Real processes, real
signals."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chronus.engine.host_keeper import HostFork
from chronus.engine.hosted import HostedModules
from chronus.engine.launcher import Launcher, spawn_context
from chronus.plugins.type_source import TypeSource
from tests.processes import parent

LOWPASS = TypeSource("builtin", "lowpass")
MODULES = ("a", "b")
"""Two modules of one type outside any maker: two groups (a host each), one typed spare."""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""  # gone: reaped


def _host_children() -> set[int]:
    """This process's children that are plugin hosts (or spawned ones still importing)."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or parent(int(entry.name)) != me:
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "plugin host" in args or "spawn_main" in args:
            found.add(int(entry.name))
    return found


def _tick_until(hosted: HostedModules, done: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {hosted.health()}"
        hosted.tick()
        time.sleep(0.02)


def _serving(hosted: HostedModules, but: dict[str, int] | None = None) -> dict[str, int]:
    """Each module's host pid once every one is running (and, with `but`, is not the pid
    given for it there); {} until then."""
    health = hosted.health()
    pids = {m: int(health[m]["host_pid"]) for m in MODULES if m in health}
    running = all(health[m]["host_state"] == "running" and pids[m] for m in pids)
    fresh = but is None or all(pids[m] != but[m] for m in MODULES)
    return pids if running and len(pids) == len(MODULES) and fresh else {}


def _replaced(hosted: HostedModules, pids: dict[str, int]) -> bool:
    return bool(_serving(hosted, but=pids))


@pytest.fixture(scope="module")
def template() -> Iterator[Launcher]:
    made = Launcher(spawn_context())
    if not made.warm_forks:
        made.close()
        pytest.skip("no template on this system (it needs Linux pidfds and a subreaper)")
    made.wait_ready(120)
    yield made
    made.close()


@pytest.fixture(params=["spawned", "forked"])
def fork(request: pytest.FixtureRequest) -> HostFork | None:
    if request.param == "spawned":
        return None
    launcher: Launcher = request.getfixturevalue("template")
    return launcher.start_warm


def test_hosts_killed_or_stopped_are_reaped_and_the_spares_stay_bounded(
    fork: HostFork | None,
) -> None:
    before = _host_children()
    hosted = HostedModules(f"chr_test_spares_{os.getpid()}", 48000, 64, fork)
    bound = len(MODULES) + 1 + (fork is None)  # a host each, the typed spare, the blank
    try:
        hosted.host("lowpass", LOWPASS, 7)
        for module in MODULES:
            hosted.created(module, "lowpass")
        _tick_until(hosted, lambda: bool(_serving(hosted)))
        if fork is not None:
            assert all(hosted.keeper(m).host.forked for m in MODULES)  # type: ignore[union-attr]
        replaced: list[int] = []
        for _ in range(2):
            pids = _serving(hosted)
            os.kill(pids["a"], signal.SIGKILL)
            os.kill(pids["b"], signal.SIGSTOP)  # found dead after 1.5 s of missed beats
            _tick_until(hosted, functools.partial(_replaced, hosted, pids))
            with contextlib.suppress(ProcessLookupError):  # killed and reaped already
                os.kill(pids["b"], signal.SIGCONT)
            replaced += pids.values()
        _tick_until(hosted, lambda: all(_state(pid) == "" for pid in replaced), 10.0)
        settle = time.monotonic() + 2.0
        while time.monotonic() < settle:  # the spares taken are replaced on a tick
            hosted.tick()
            time.sleep(0.02)
        hosts = _host_children() - before
        assert len(hosts) <= bound, f"{len(hosts)} host processes, at most {bound} expected"
        assert len(hosts) >= len(MODULES)
        assert all(_state(pid) not in ("Z", "") for pid in hosts), "every one alive, none a zombie"
        assert set(_serving(hosted).values()) <= hosts
    finally:
        hosted.close()
    deadline = time.monotonic() + 10.0
    while _host_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _host_children() - before, "every host and spare gone with the modules"
