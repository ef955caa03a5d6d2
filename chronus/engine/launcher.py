"""Starting the engine's processes: forked from the warm template, or spawned.

`Launcher.start(target, args, name)` is the one way the supervisor starts a slot worker, the
audio I/O or a CPU stamper. On Linux it asks the template (see `template.py`) for a fork,
which is warm at once and becomes the supervisor's own child; the template is started first
thing, so that it warms up while the supervisor loads. Where that cannot work (no pidfds, no
subreaper) every process is spawned, as a fresh interpreter that warms up by itself.

A template that dies takes no process with it; the launcher starts a new one (which imports
the code on disk as it is then) and, meanwhile, says it is not ready.

A supervisor that is its own subreaper (no engine parent above it) also adopts the children
of its processes when they die; the launcher reaps those (`reaped.Orphans`), and only those.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import select
import signal
import socket
import sys
import time
import weakref
from collections.abc import Callable
from multiprocessing import resource_tracker
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Final, Protocol

from chronus.engine.leftovers import name_semaphores
from chronus.engine.lifecycle import become_subreaper
from chronus.engine.reaped import Orphans, ReapedCodes
from chronus.engine.template import (
    PLUGIN_WORD,
    pickle_job,
    receive_message,
    send_message,
    template_main,
)

__all__ = ["ChildProcess", "ForkedChild", "LaunchError", "Launcher", "Template", "spawn_context"]

IMPORT_TIMEOUT_S: Final = 60.0
"""How long a fork waits for the template to finish importing a plugin (numba may compile)."""
FORK_TIMEOUT_S: Final = 10.0
"""How long a fork may take the template (about 2 ms when it is idle)."""
RESTART_AFTER_S: Final = 2.0
"""A template that died is started again no sooner than this after the last one started."""
SWEEP_EVERY_S: Final = 1.0
"""How often a subreaper supervisor looks for orphans to reap (it reads /proc)."""


class LaunchError(RuntimeError):
    """A process could not be started (the template failed or died)."""


class ChildProcess(Protocol):
    """What the engine uses of a child process (`multiprocessing.Process` has it too)."""

    @property
    def pid(self) -> int | None:
        """Its process id."""

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when it has exited."""

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit code, or minus the signal that ended it."""

    def is_alive(self) -> bool:
        """Whether it still runs."""

    def join(self, timeout: float | None = None) -> None:
        """Wait for it to exit, at most `timeout` seconds."""

    def kill(self) -> None:
        """SIGKILL it."""


def spawn_context() -> SpawnContext:
    """The multiprocessing context of the engine's pipes, semaphores and spawned processes.

    The semaphores it makes in this process are named after it (see `leftovers`).
    """
    name_semaphores()
    return mp.get_context("spawn")


class ForkedChild:
    """A process forked by the template and handed to this one: a child like a spawned one.

    Its sentinel is a pidfd; its exit status is read with `waitpid`, which also reaps it, or,
    when the engine's parent reaps it (`reaped`), is the code the parent reports.
    """

    def __init__(self, pid: int, name: str, reaped: ReapedCodes | None = None) -> None:
        self.pid = pid
        self.name = name
        self.sentinel = os.pidfd_open(pid)  # ours, or the parent's: not reaped while we look
        self._exitcode: int | None = None
        self._reaped = reaped
        weakref.finalize(self, os.close, self.sentinel)

    @property
    def exitcode(self) -> int | None:
        """None while it runs; its exit code, or minus the signal that ended it."""
        self._reap(os.WNOHANG)
        return self._exitcode

    def is_alive(self) -> bool:
        """Whether it still runs (reaps it if not)."""
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        """Wait for it to exit, at most `timeout` seconds."""
        if self._exitcode is None:
            select.select([self.sentinel], [], [], timeout)
            self._reap(os.WNOHANG)

    def kill(self) -> None:
        """SIGKILL it (never once it is reaped: its pid may be another's by then)."""
        if self.is_alive():
            signal.pidfd_send_signal(self.sentinel, signal.SIGKILL)

    def _reap(self, flags: int) -> None:
        if self._exitcode is not None:
            return
        if self._reaped is not None:
            if select.select([self.sentinel], [], [], 0)[0]:
                self._exitcode = self._reaped.code_of(self.pid)
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self._exitcode = 255  # reaped elsewhere: its status is lost
            return
        if pid:
            self._exitcode = os.waitstatus_to_exitcode(status)


class Template:
    """The supervisor's side of one template process: its start, its word, its forks."""

    def __init__(self, ctx: SpawnContext, rate: int, block: int, reaper: int) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process: BaseProcess = ctx.Process(
            target=template_main,
            args=(theirs, reaper, rate, block),
            name="chronus-template",
            daemon=True,
        )
        self.started = time.monotonic()
        self.process.start()
        theirs.close()
        self._sock = mine
        self.state = "starting"
        """`starting` (warming up), `warm`, `failed` (it said why in `error`) or `dead`."""
        self.error = ""
        self.compiled = 0
        """Kernels it compiled (0 when all came from numba's cache)."""
        self.warm_ms = 0.0
        self.warmed = False
        """Whether it ever got warm."""
        self.forks = 0
        self.plugins: set[tuple[str, str]] = set()
        """The plugin versions it imported: every later fork has them."""
        self.plugins_asked: set[tuple[str, str]] = set()
        """The one it is importing (at most one at a time)."""
        self.answers: list[tuple[Any, ...]] = []
        """Its replies to plugin imports, for the keeper to take."""

    def poll(self) -> bool:
        """Whether it is warm and free to fork; reads its word if it came."""
        if self.state == "starting" and select.select([self._sock], [], [], 0)[0]:
            self._read_word()
        elif self.plugins_asked and select.select([self._sock], [], [], 0)[0]:
            self._read_answer()
        return self.state == "warm" and not self.plugins_asked

    def import_plugin(self, name: str, version: str, path: str, warm: bool = True) -> None:
        """Have it import (and `warm`) a plugin version (it answers later: see `answers`)."""
        request = ("plugin", name, version, path, warm)
        try:
            send_message(self._sock, PLUGIN_WORD + pickle.dumps(request))
        except OSError:
            self.state = "dead"
            return
        self.plugins_asked.add((name, version))

    def _read_answer(self) -> None:
        try:
            data, _ = receive_message(self._sock)
        except OSError:
            data = b""
        if not data:  # what it was importing is to blame: `plugins_asked` says what
            self.state = "dead"
            self.error = f"it exited importing a plugin (code {self.process.exitcode})"
            return
        self.plugins_asked.clear()
        self.answers.append(pickle.loads(data))

    def wait_ready(self, timeout: float) -> None:
        """Wait until it is warm; `LaunchError` if it failed, died or took too long."""
        if self.state == "starting":
            deadline = time.monotonic() + timeout
            while not select.select([self._sock], [], [], 0.05)[0]:
                if not self.process.is_alive():
                    break
                if time.monotonic() > deadline:
                    raise LaunchError("the process template did not warm up in time")
            self._read_word()
        if self.state != "warm":
            raise LaunchError(f"the process template could not start: {self.error}")

    def _read_word(self) -> None:
        try:
            data, _ = receive_message(self._sock)
        except OSError as exc:
            data, self.error = b"", str(exc)
        if not data:
            self.state = "dead"
            self.error = self.error or f"it exited (code {self.process.exitcode})"
            return
        word = pickle.loads(data)
        if word[0] == "ready":
            self.state, self.warmed = "warm", True
            self.compiled, self.warm_ms = word[1:3]
        else:
            self.state, self.error = "failed", str(word[1])

    def fork(self, target: Callable[..., object], args: tuple[Any, ...]) -> int:
        """Have it fork a process that runs `target(*args)`; the new process's pid."""
        if self.plugins_asked:  # its answer comes first on the socket
            select.select([self._sock], [], [], IMPORT_TIMEOUT_S)
            self._read_answer()
            if self.state != "warm":
                raise LaunchError(f"the process template is gone: {self.error}")
        data, fds = pickle_job(target, args)
        try:
            send_message(self._sock, data, fds)
            if not select.select([self._sock], [], [], FORK_TIMEOUT_S)[0]:
                raise LaunchError("the process template did not answer")
            reply, _ = receive_message(self._sock)
        except OSError as exc:
            raise LaunchError(f"the process template is gone: {exc}") from exc
        if not reply:
            self.state = "dead"
            raise LaunchError("the process template is gone")
        kind, value = pickle.loads(reply)
        if kind != "forked":
            raise LaunchError(f"the process template could not fork: {value}")
        self.forks += 1
        return int(value)

    def close(self) -> None:
        """Let it go (it exits when its socket closes), and make sure it has."""
        self._sock.close()
        if self.state == "starting":
            self.process.kill()  # nothing of it is needed, and it would warm up first
        self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)


def _can_fork_warm(parent: bool) -> bool:
    """Whether this system lets the template's forks become this process's children (or,
    under the engine's `parent`, which is a subreaper already, the parent's)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return parent or become_subreaper()


class Launcher:
    """Starts the engine's processes: forks of a warm template where it can, else spawns.

    Under the engine's minimal parent (`reaped` given: the parent's word of exit codes) the
    forks become the parent's children, so that they outlive this process.
    """

    def __init__(
        self,
        ctx: SpawnContext,
        rate: int = 48000,
        block: int = 128,
        template: bool = True,
        reaped: ReapedCodes | None = None,
    ) -> None:
        self._ctx = ctx
        self._rate = rate
        self._block = block
        self._reaped = reaped
        self.reaped = reaped
        """The parent's word of exit codes (and of its standby), under the engine's parent."""
        self._reaper = os.getppid() if reaped is not None else os.getpid()
        """The process the forks become children of: this one, or the engine's parent."""
        warm = template and _can_fork_warm(reaped is not None)
        self.template = Template(ctx, rate, block, self._reaper) if warm else None
        """The current template; None when every process is spawned."""
        self.warm_forks = self.template is not None
        """Whether processes start warm (forks): then a spare costs nothing to make."""
        self.restarts = 0
        self._forked: weakref.WeakSet[ForkedChild] = weakref.WeakSet()
        self._orphans = Orphans() if warm and reaped is None else None
        """Reaps what this process adopts as a subreaper (under the parent: the parent)."""
        self._sweep_at = 0.0
        self._buried: Template | None = None
        self._buried_at = 0.0
        self._failures = 0
        """Templates in a row that died before they were warm."""

    def ready(self) -> bool:
        """Whether `start` would not wait for a template to warm up."""
        return self.template is None or self.template.poll()

    def wait_ready(self, timeout: float) -> None:
        """Wait until processes can be started; `LaunchError` if they cannot."""
        if self.template is not None:
            self.template.wait_ready(timeout)

    def start(
        self,
        target: Callable[..., object],
        args: tuple[Any, ...],
        name: str,
        daemon: bool = False,
    ) -> ChildProcess:
        """Start a process that runs `target(*args)`; waits for a warming template.

        `daemon`: a spawned process is killed when this one exits normally (a fork always
        dies with this process).
        """
        if self.template is None:
            process = self._ctx.Process(target=target, args=args, name=name, daemon=daemon)
            process.start()
            return process
        self.template.wait_ready(120.0)
        return self._forked_child(self.template.fork(target, args), name)

    def start_warm(
        self, target: Callable[..., object], args: tuple[Any, ...], name: str
    ) -> ChildProcess | None:
        """A fork of the template running `target(*args)` if the template is warm and free
        now; None if it is not (warming up, importing a plugin, dead): never waits for it."""
        template = self.template
        if template is None or not template.poll():
            return None
        try:
            return self._forked_child(template.fork(target, args), name)
        except LaunchError:
            return None

    def adopt(self, pid: int, name: str) -> ChildProcess:
        """A process a supervisor before this one started (the engine's parent reaps it)."""
        return self._forked_child(pid, name)

    def _forked_child(self, pid: int, name: str) -> ForkedChild:
        child = ForkedChild(pid, name, self._reaped)
        self._forked.add(child)
        return child

    def sweep(self, now: float) -> list[tuple[int, int]]:
        """Reap the orphans this process adopted, at most every `SWEEP_EVERY_S` (nothing to
        do under the engine's parent, which reaps them); (pid, exit code) of each."""
        if self._orphans is None or now < self._sweep_at:
            return []
        self._sweep_at = now + SWEEP_EVERY_S
        known = {child.pid for child in self._forked}
        known.update(process.pid or 0 for process in mp.active_children())
        known.add(getattr(resource_tracker._resource_tracker, "_pid", None) or 0)
        return self._orphans.sweep(known, now)

    def tick(self) -> str | None:
        """Start a new template if the last one died; what happened, if anything.

        A template that dies before it is warm (the code on disk is broken, say) is retried
        ever less often, up to once a minute.
        """
        template = self.template
        if template is None:
            return None
        self.sweep(time.monotonic())
        template.poll()
        if template.state in ("starting", "warm") and template.process.is_alive():
            if template.state == "warm":
                self._failures = 0
            return None
        now = time.monotonic()
        if template is not self._buried:
            self._buried, self._buried_at = template, now
            self._failures += not template.warmed
            template.state = "failed" if template.state == "failed" else "dead"
            why = f": {template.error}" if template.error else ""
            return f"the process template exited (code {template.process.exitcode}){why}"
        backoff = min(RESTART_AFTER_S * 2 ** (self._failures - 1), 60.0) if self._failures else 0
        if now < max(template.started + RESTART_AFTER_S, self._buried_at + backoff):
            return None
        template.close()
        self.template = Template(self._ctx, self._rate, self._block, self._reaper)
        self.restarts += 1
        return "a new process template is warming up"

    def status(self) -> dict[str, Any]:
        """The template's pid, state, forks and restarts (`spawn` without one)."""
        template = self.template
        if template is None:
            return {"state": "spawn", "pid": 0, "forks": 0, "restarts": 0}
        return {
            "state": template.state,
            "pid": template.process.pid or 0,
            "forks": template.forks,
            "restarts": self.restarts,
            "compiled": template.compiled,
            "warm_ms": round(template.warm_ms, 1),
            "plugins": sorted(f"{name} {version}" for name, version in template.plugins),
            "orphans_reaped": self._orphans.reaped if self._orphans is not None else 0,
        }

    def close(self) -> None:
        """Stop the template."""
        if self.template is not None:
            self.template.close()
