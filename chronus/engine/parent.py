"""The engine's minimal parent: it starts the supervisor, and another when that one dies.

`chronus engine` runs this in its own process and nothing else: it is the subreaper every
long-lived engine process hangs under (the slots, the audio I/O, the CPU stampers, forked
from the supervisor's template), so they do not die with a supervisor; each holds
`die_with_parent` towards this process, so they all die with it. It keeps one supervisor
warm in standby (imported, waiting), keeps the last `Manifest` the running one handed it
and the engine's listening sockets (`held_sockets`), and when the running one dies of a
signal, gives both to the standby, which re-attaches to the running engine (see
`Supervisor.reattach`). It reaps every child and tells the supervisor their exit codes
(`reaped.py`). A supervisor that exits by itself (quit, a failed start) ends the engine with
its code. See docs/SUPERVISION.md.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from multiprocessing import resource_tracker, util
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from types import FrameType
from typing import Any, Final

from chronus.engine.held_sockets import SOCKETS, close_all, hand_down, take
from chronus.engine.launcher import spawn_context
from chronus.engine.leftovers import TAG_ENV, engine_tag
from chronus.engine.lifecycle import become_subreaper, die_with_parent
from chronus.engine.manifest import Manifest
from chronus.engine.reaped import STANDBY, children, reap_all, tell
from chronus.engine.titles import set_title

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW_S", "SupervisorMain", "SupervisorRun", "run_parent"]

MAX_RESTARTS: Final = 5
"""Supervisors that may die within `RESTART_WINDOW_S` before the engine gives up."""
RESTART_WINDOW_S: Final = 30.0
STOP_WAIT_S: Final = 3.0
"""How long the children left at the end are given to exit after SIGTERM, before SIGKILL."""
_KEPT_CODES: Final = 64

SupervisorRun = Callable[["Manifest | None", int, list[int]], int]
"""Runs one prepared supervisor: the manifest of the engine to re-attach to (None: start
one), how many supervisors died before it, and the engine's listening sockets the parent
holds (descriptors; none for a new engine); its exit code."""
SupervisorMain = Callable[[dict[str, Any], Connection], SupervisorRun]
"""Prepares one supervisor (its settings, its link to the parent), before it is told to go:
a standby starts its process template then, so that it is warm when it takes over."""

log = logging.getLogger("chronus.engine")


class _Supervisor:
    """One supervisor process (running, or warm in standby) and the parent's link to it."""

    def __init__(self, ctx: SpawnContext, target: SupervisorMain, settings: dict[str, Any]):
        self.link, theirs = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_supervisor_main,
            args=(target, settings, theirs, os.getpid()),
            name="chronus-supervisor",
        )
        self.process.start()
        theirs.close()
        self.pid = int(self.process.pid or 0)
        self.code: int | None = None
        self.warm = False
        """Whether it has imported what it runs (a standby says so)."""
        self.handed = False
        """Whether it has handed the parent a manifest (it serves)."""

    def go(self, manifest: Manifest | None, restarts: int, sockets: list[int]) -> None:
        """Start serving: a new engine, or the running one of `manifest` on its `sockets`
        (descriptors held for it, `held_sockets`)."""
        try:
            self.link.send((manifest, restarts, len(sockets)))
            hand_down(self.link, sockets)
        except OSError:
            pass  # it died: the reaping says so


def _supervisor_main(
    target: SupervisorMain, settings: dict[str, Any], link: Connection, parent: int
) -> None:
    """A supervisor process: import what it runs, wait for the word to go, then run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; `target` sets its own
    die_with_parent()
    if os.getppid() != parent:
        return  # the parent died before this process could ask to die with it
    set_title("supervisor (standby)")
    import numpy.ma  # noqa: F401 (a first status's percentile imports it: 0.5 s under load)

    import chronus.engine.supervisor  # noqa: F401 (most of a restart's time, spent before it)

    run = target(settings, link)
    try:
        link.send(("warm",))
        manifest, restarts, count = link.recv()
        sockets = take(link, count)
    except (EOFError, OSError):
        return
    try:
        code = run(manifest, restarts, sockets)
    except KeyboardInterrupt:  # stopped while it started (it shut down what had started)
        code = 130
    # It shut down all it started; tearing the interpreter down (numba, LLVM) was measured
    # at seconds on a loaded machine, which the engine's exit would wait for.
    getattr(util, "_exit_function")()  # noqa: B009 (multiprocessing's finalizers: its semaphores)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def run_parent(settings: dict[str, Any], target: SupervisorMain, title: str) -> int | None:
    """Be the engine's parent until the engine ends; its exit code. None where this system
    cannot (no subreaper): then the caller runs the supervisor in its own process."""
    if not become_subreaper():
        return None
    os.environ[TAG_ENV] = engine_tag()  # the names of the engine's segments are this process's
    resource_tracker.ensure_running()  # one tracker for every supervisor: none unlinks early
    set_title(title)
    wake_read, wake_write = os.pipe()
    for fd in (wake_read, wake_write):
        os.set_blocking(fd, False)
    stopping = [False]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping[0] = True

    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    try:
        return _Parent(spawn_context(), settings, target).run(wake_read, stopping)
    finally:
        signal.set_wakeup_fd(-1)
        os.close(wake_read)
        os.close(wake_write)


class _Parent:
    def __init__(self, ctx: SpawnContext, settings: dict[str, Any], target: SupervisorMain):
        self._ctx = ctx
        self._settings = settings
        self._target = target
        self.manifest: Manifest | None = None
        self.sockets: list[int] = []
        """The engine's listening sockets, held across supervisors (`held_sockets`)."""
        self.restarts = 0
        self._deaths: deque[float] = deque()
        self._codes: deque[tuple[int, int]] = deque(maxlen=_KEPT_CODES)

    def _new(self) -> _Supervisor:
        return _Supervisor(self._ctx, self._target, self._settings)

    def run(self, wake: int, stopping: list[bool]) -> int:
        current, standby = self._new(), None
        current.go(None, 0, [])
        told = False
        try:
            while True:
                watched: list[Any] = [wake, current.link]
                if standby is not None and not standby.warm:
                    watched.append(standby.link)
                select.select(watched, [], [], 1.0)
                try:
                    while os.read(wake, 64):
                        pass
                except BlockingIOError:
                    pass
                if stopping[0] and not told and current.code is None:
                    told = True
                    os.kill(current.pid, signal.SIGTERM)
                self._read(current)
                if standby is not None and not standby.warm:
                    self._read(standby)
                    if standby.warm:
                        tell(current.link, [(STANDBY, standby.pid)])
                for pid, code in reap_all():
                    if pid == current.pid:
                        current.code = code
                    elif standby is not None and pid == standby.pid:
                        standby = None
                    else:
                        self._codes.append((pid, code))
                        tell(current.link, [(pid, code)])
                if current.code is None:
                    if standby is None and current.handed and not stopping[0]:
                        standby = self._new()  # once the engine runs: not to slow its start
                    continue
                code = current.code
                if code >= 0 or stopping[0] or self.manifest is None or not self._may_restart():
                    return code if code >= 0 else 1
                self.restarts += 1
                log.warning(
                    "the supervisor (pid %d) died (%s); supervisor %d takes over the engine",
                    current.pid, _death(code), self.restarts + 1,
                )  # fmt: skip
                current, standby = standby or self._new(), None
                current.go(self.manifest, self.restarts, self.sockets)
                tell(current.link, list(self._codes))  # those of its workers that died meanwhile
                told = False
        finally:
            close_all(self.sockets)  # the port is free at once for the next engine
            self._stop_all()

    def _read(self, current: _Supervisor) -> None:
        try:
            while current.link.poll():
                word = current.link.recv()
                if word[0] == "manifest":
                    self.manifest = word[1]
                    current.handed = True
                    set_title(f"engine :{self.manifest.port}")
                elif word[0] == SOCKETS:
                    close_all(self.sockets)
                    self.sockets = take(current.link, word[1])
                elif word[0] == "warm":
                    current.warm = True
        except (EOFError, OSError):
            pass  # it is dying: its exit code comes next

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and self._deaths[0] < now - RESTART_WINDOW_S:
            self._deaths.popleft()
        if len(self._deaths) > MAX_RESTARTS:
            log.error(
                "%d supervisors died within %.0f s: the engine stops",
                len(self._deaths), RESTART_WINDOW_S,
            )  # fmt: skip
            return False
        return True

    @staticmethod
    def _stop_all() -> None:
        """End every child but the resource tracker (which frees what they leave)."""
        tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
        left = children() - {tracker}
        for pid in left:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while left and time.monotonic() < deadline:
            time.sleep(0.01)
            reap_all()
            left &= children()
        for pid in left:
            _signal(pid, signal.SIGKILL)
        while left and time.monotonic() < deadline + STOP_WAIT_S:
            time.sleep(0.01)
            reap_all()
            left &= children()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _death(code: int) -> str:
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"code {code}"
