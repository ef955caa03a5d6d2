"""The sandbox pool: pre-warmed worker processes that validate user modules, never raising.

Each worker is a fresh `python -m chronus.plugins.worker` (started with fork + exec, so it
inherits none of the caller's threads), warm once it says ready. A validation runs in a
fresh fork of a worker (see `chronus.plugins.worker`), confined by OS limits (see
`chronus.plugins.confine`) and a wall-clock deadline. The worker hands the pool the pipes of
the children it forked for the next job; the pool writes their requests and reads their
answers itself, and asks the worker only how a child ended that did not answer
(`chronus.plugins.answer`). `validate` does so in the caller's own thread when a warm worker
is idle (no hop to a pool thread and back); `submit`, and `validate` when every worker is
busy or not yet warm, in a pool thread. A worker that dies or stops answering is killed and
replaced (always from a pool thread: a worker dies with the thread that started it);
whatever happens becomes a `ValidationResult`. `status()` tells the pool's state as plain
data.

    pool = SandboxPool(workers=1).start()
    result = pool.validate("fold.py", "fold")         # blocking
    pool.submit("fold.py", "fold", on_result)         # on_result(result), from a pool thread
    pool.close()
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quoted
from pathlib import Path
from typing import Any

from chronus.plugins.answer import Deadline, judge, wall_limit
from chronus.plugins.result import ValidationResult
from chronus.plugins.validation import CheckSettings
from chronus.plugins.worker import (
    POOL_ENV,
    SOCKET_ENV,
    THREAD_ENV,
    result_from_dict,
    settings_fields,
    write_all,
)

__all__ = ["SandboxPool", "validate_file"]

log = logging.getLogger(__name__)

WORKER_ARGS = ("-m", "chronus.plugins.worker")
"""How the interpreter is told to run a worker."""
START_TIMEOUT = 60.0
"""Seconds a new worker may take to import and warm up (numba's first load can be slow)."""
ANSWER_GRACE = 5.0
"""Seconds past a job's time limit before the pool gives up on its worker."""
MOST_CPU_WAIT_FACTOR = 10.0
"""How far waits for a CPU, the host's steal and numba's compiling may move a validation's
deadline on the clock, in multiples of its `wall_limit` (beyond, it fails as a timeout):
60 s by default. None of them is the module's doing beyond its CPU limit (its own threads'
CPU counts against that), so the cap only ends a validation on a machine too busy to run
it; 18 s (3 ×) was passed in a CI run where a validation got 2.09 s of CPU in 22 s."""
_SPARES_MESSAGE = 4096
"""Room for the worker's message that hands over a job's children."""
PREFETCH_WAIT = 1.0
"""Seconds a pool thread waits for a worker's next children after a job (they come in
milliseconds; a worker that takes longer is found by the next job's own wait)."""

Done = Callable[[ValidationResult], None]
_Job = tuple[str | Path, str, Done]


@dataclass(frozen=True)
class _Finish:
    """A pool thread's errand: tell `worker` that a caller's job `job` is over (unless it was
    told already), once the caller has its result."""

    worker: _Worker
    job: int


@dataclass(frozen=True)
class _Replace:
    """A pool thread's errand: replace worker `index` if it is still `old` (a worker lost
    in a caller's thread, which may not start one), then set `done`."""

    index: int
    old: _Worker
    done: threading.Event


def _internal(message: str, duration: float = 0.0) -> ValidationResult:
    return ValidationResult(ok=False, error_type="internal", error_message=message,
                            duration=duration)  # fmt: skip


def _bug(exc: Exception) -> ValidationResult:
    """The result of a job that failed on a bug in the pool (or no process to be had)."""
    log.exception("sandbox pool")
    return _internal(f"sandbox pool: {type(exc).__name__}: {exc}")


class _WorkerLost(Exception):
    """The worker died or stopped answering during a job."""


class _WorkerGone(_WorkerLost):
    """The worker was lost in a way the job cannot have caused: before its request was sent,
    or while its children were sealed (no module in them can signal the worker). The job
    is to run on another worker."""


@dataclass
class _Children:
    """The pool's ends of one job's two children's pipes (the spare's, the twin's)."""

    requests: list[int]
    results: list[int]
    sealed: bool
    pids: tuple[int, ...] = ()
    """The spare's and the twin's process ids, as the worker names them (for `Deadline`)."""
    """Whether their seccomp filters took: then no module in them can kill the worker."""

    def send(self, index: int, line: bytes) -> None:
        """Write child `index` its request (one line); a child that died meanwhile is found
        by its ending. The pipe stays open till `close` (the worker's `finish`, off the
        caller's clock): the child reads one line and no more."""
        fd = self.requests[index]
        try:
            written = os.write(fd, line)
            if written < len(line):  # a path longer than the pipe takes at once
                write_all(fd, line[written:])
        except OSError:
            pass

    def close(self) -> None:
        """Close what is still open; once."""
        for fd in (*self.requests, *self.results):
            if fd >= 0:
                os.close(fd)
        self.requests = self.results = []


@dataclass
class _Over:
    """A job whose end the worker is yet to be told (`_Worker.finish`), and its children's
    pipes, closed then (closing the twin's request pipe would wake it on the caller's clock)."""

    told: dict[str, Any]
    children: _Children | None = None


class _Worker:
    """One warm worker process, its pipes and its socket; used by one thread at a time.
    `carried` is what every request of its pool carries (limits, settings, `_carried`): the
    worker is told it once (`POOL_ENV`), and a request leaves out what is the same."""

    def __init__(self, carried: dict[str, Any]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.carried = carried
        env = {**os.environ, **THREAD_ENV, SOCKET_ENV: str(theirs.fileno()),
               POOL_ENV: json.dumps(self.carried)}  # fmt: skip
        try:
            self.process = subprocess.Popen(
                [sys.executable, *WORKER_ARGS],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, start_new_session=True, close_fds=True, pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.socket = ours
        self._jobs = itertools.count(1)
        self._over: _Over | None = None
        """The job whose end the worker is yet to be told (`finish`)."""
        self._over_lock = threading.Lock()  # `finish` may come from another thread
        self._writing = threading.Lock()
        self.last_job = 0
        """The id of the job `run` last began."""
        self._buffer = b""
        self._reading = threading.Lock()  # a caller's wait_ready and the pool thread's
        self._next: _Children | str | None = None
        """The next job's children, received ahead (`prefetch`)."""
        self._receiving = threading.Lock()  # `prefetch` (a pool thread) and `children`
        self._woken, self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        """A byte down `_wake` says `prefetch` took the children: a caller waiting in
        `children` on the socket, whose message is gone, wakes on `_woken` instead. Closed
        when the worker is collected, never under a thread that may still use it."""
        weakref.finalize(self, _close_all, self._woken, self._wake)
        self._wake_sent = False
        """Whether a byte waits in `_woken` (at most one: `_receiving` guards both)."""
        self._caller_waits = False
        """Whether a caller may be waiting in `children` (only then is a byte sent)."""
        self.ready: dict[str, Any] | None = None
        self.failure = ""
        """Why it did not start, if it did not."""

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def reaped(self) -> bool:
        """Whether the process was found gone already (no system call: `alive` asks)."""
        return self.process.returncode is not None

    def _line(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON line from the worker, or None (dead, silent past `deadline`,
        garbled)."""
        stdout = self.process.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> bool:
        """Wait for the worker's ready line; whether it came."""
        with self._reading:
            if self.ready is None:
                try:
                    message = self._line(time.monotonic() + timeout)
                except (OSError, ValueError):  # its pipe closed under us: it was replaced
                    message = None
                if message is None or "ready" not in message:
                    why = None if message is None else message.get("error")
                    self.failure = str(why) if why else "it did not say it was ready"
                    return False
                self.ready = message
            return True

    def children(self, deadline: float) -> _Children | str:
        """The next job's children, handed over by the worker (it forks them after each job),
        or why there are none; received ahead by `prefetch` or now. Raises `_WorkerGone` if
        none came by `deadline`."""
        fd = self.socket.fileno()
        while True:
            with self._receiving:
                self._caller_waits = False
                if self._wake_sent:  # a byte written after this is seen by the wait below
                    self._wake_sent = not os.read(self._woken, 1)
                if self._next is not None:
                    got, self._next = self._next, None
                    return got
                if select.select([fd], [], [], 0)[0]:
                    return self._receive()
                self._caller_waits = True
            left = deadline - time.monotonic()
            if left <= 0:
                raise _WorkerGone
            select.select([fd, self._woken], [], [], left)

    def prefetch(self, deadline: float) -> None:
        """Receive the next job's children ahead, once the worker hands them over (by
        `deadline`), so that the next validation finds them at once. From a pool thread."""
        fd = self.socket.fileno()
        with contextlib.suppress(OSError, ValueError):  # closed under us: the worker is gone
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return
            with self._receiving:
                if self._next is None and select.select([fd], [], [], 0)[0]:
                    with contextlib.suppress(_WorkerLost):  # the next job finds it so itself
                        self._next = self._receive()
                    if self._caller_waits and not self._wake_sent:
                        self._wake_sent = os.write(self._wake, b"!") == 1

    def _receive(self) -> _Children | str:
        """The children the worker handed over (its message is waiting), or why there are
        none; `_WorkerGone` if the worker is gone. With `_receiving` held."""
        try:
            data, fds, _, _ = socket.recv_fds(self.socket, _SPARES_MESSAGE, 4,
                                              socket.MSG_CMSG_CLOEXEC)  # fmt: skip
        except OSError as exc:
            raise _WorkerGone from exc
        try:
            message = json.loads(data) if data else {}
        except ValueError:
            message = {}
        if not isinstance(message, dict):
            message = {}
        if len(fds) == 4:
            pids = message.get("spares")
            return _Children(requests=[fds[0], fds[2]], results=[fds[1], fds[3]],
                             sealed=message.get("sealed") is True,
                             pids=tuple(pid for pid in pids if isinstance(pid, int))
                             if isinstance(pids, list) else ())  # fmt: skip
        for extra in fds:
            os.close(extra)
        if not data:
            raise _WorkerGone
        return str(message.get("error") or "the sandbox worker handed over no children")

    def drop_prefetched(self) -> None:
        """Close the children received ahead, if any (the worker is being killed)."""
        with self._receiving:
            got, self._next = self._next, None
        if isinstance(got, _Children):
            got.close()

    def _tell(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            with self._writing:
                stdin.write(json.dumps(message).encode() + b"\n")
                stdin.flush()
        except (OSError, ValueError):
            raise _WorkerLost from None

    def ending(self, job: int, deadline: Deadline) -> Callable[[str, bool], int]:
        """How to ask the worker the wait status of one of job `job`'s children (an
        `answer.Ending`), waiting for its reply until `ANSWER_GRACE` past `deadline` (as it
        stands when asked: waits for a CPU move it on)."""

        def ask(which: str, finished: bool) -> int:
            until = deadline.at + ANSWER_GRACE
            status = self._statuses(job, [which], not finished, until).get(which)
            if not isinstance(status, int):
                raise _WorkerLost
            return status

        return ask

    def run(
        self, path: str, name: str, carried: dict[str, Any], rehearse_next: bool
    ) -> dict[str, Any]:
        """One job in the children the worker handed over: validate file `path` as plugin
        `name` under `carried` (a pool's `_carried`); the result as a dict. Raises
        `_WorkerLost` if the worker died or stopped answering. The worker is told the job is
        over by `finish` (the caller has its result first), or at the next `run`."""
        if self._over is not None:  # told already by a pool thread, as a rule
            self.finish()
        time_limit = float(carried["time_limit"])
        asked = time.monotonic()
        children = self.children(asked + wall_limit(time_limit) + ANSWER_GRACE)
        began = time.monotonic()
        job = self.last_job = next(self._jobs)
        told = {"job": job, "done": True, "rehearse_next": rehearse_next}
        with self._over_lock:
            self._over = _Over(told, children if isinstance(children, _Children) else None)
        if isinstance(children, str):
            return _internal(children).to_dict()
        try:
            if not children.sealed and not self.alive():  # else its job finds it dead itself
                raise _WorkerGone
            cross = bool(carried["settings"].get("cross_process", True))
            line = self._wire(path, name, carried)
            children.send(0, line)
            if cross:  # else the twin waits till the job is done: its exit would take a core
                children.send(1, line[:-2] + b', "crc_only": true}\n')
            wall = wall_limit(time_limit)
            deadline = Deadline(
                began + wall, children.pids, MOST_CPU_WAIT_FACTOR * wall, time_limit
            )
            twin = children.results[1] if cross else None
            ending = self.ending(job, deadline)
            result = judge(children.results[0], twin, deadline, time_limit, path, ending)
            if not children.sealed:
                self._answers_now(job, deadline.at + ANSWER_GRACE)
            result.setdefault("figures", {})["children_ms"] = 1000 * (began - asked)
        except BaseException as exc:
            children.close()
            if isinstance(exc, _WorkerLost) and children.sealed:  # killed or stopped from
                raise _WorkerGone from None  # outside (its children die with it)
            raise
        return result  # its children's pipes are closed by `finish`, off the caller's clock

    def _wire(self, path: str, name: str, carried: dict[str, Any]) -> bytes:
        """The request as written down a child's pipe: one JSON line, `path`, `name`, what of
        `carried` the worker was not told at its start, and the time it is sent (`sent_at`).
        Carried as the worker was told (the same object, as a rule), it is spliced into a
        template, as `json.dumps` would write it: no dict, no encoder on the caller's clock."""
        if carried is self.carried:
            return (f'{{"path": {_quoted(path)}, "name": {_quoted(name)}, '
                    f'"sent_at": {time.monotonic()!r}}}\n').encode()  # fmt: skip
        sent: dict[str, Any] = {"path": path, "name": name}
        sent.update((key, value) for key, value in carried.items()
                    if self.carried.get(key) != value)  # fmt: skip
        sent["sent_at"] = time.monotonic()
        return json.dumps(sent).encode() + b"\n"

    def _answers_now(self, job: int, deadline: float) -> None:
        """Raise `_WorkerLost` unless the worker answers an empty question now. The children
        answer the pool themselves, so a module that killed the worker still gets its answer
        through; a worker killed before this question is asked never answers it. Asked only
        of children not sealed: a sealed one cannot signal the worker."""
        self._statuses(job, [], False, deadline)

    def _statuses(
        self, job: int, children: list[str], kill: bool, deadline: float
    ) -> dict[str, Any]:
        """The wait statuses of job `job`'s `children` (killed first if `kill`), as the worker
        answers by `deadline`; `_WorkerLost` if it does not."""
        self._tell({"job": job, "status": children, "kill": kill})
        while True:
            message = self._line(deadline)
            if message is None:
                raise _WorkerLost
            if message.get("job") == job:
                return dict(message.get("status") or {})

    def finish(self, job: int | None = None) -> None:
        """Tell the worker the last job (or job `job`, if it is the last) is over, if it was
        not told yet: it kills that job's children and forks the next two. A worker that
        cannot be told is dead, and replaced before the next job. From any thread."""
        over = self._take_over(job)
        if over is not None:
            with contextlib.suppress(_WorkerLost):
                self._tell(over.told)
            if over.children is not None:
                over.children.close()

    def _take_over(self, job: int | None = None) -> _Over | None:
        """The last job (or job `job`, if it is the last) if the worker is yet to be told it
        is over; it is no longer the worker's to tell."""
        with self._over_lock:
            over = self._over
            if over is None or (job is not None and over.told["job"] != job):
                return None
            self._over = None
        return over

    def stop(self) -> None:
        """SIGKILL the worker's process group; its pipes stay open (a thread may be
        reading them: it reads their end)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """Stop the worker and whatever it started, reap it, close its pipes. Only from
        the thread that uses it, or once that thread is done."""
        self.stop()
        self.drop_prefetched()
        over = self._take_over()
        if over is not None and over.children is not None:
            over.children.close()
        self.socket.close()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _close_all(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


_ABSOLUTE: dict[str | Path, str] = {}
"""Absolute paths validated, as `os.path.abspath` writes them (at most `_ABSOLUTE_KEPT`)."""
_ABSOLUTE_KEPT = 256


def _absolute(path: str | Path) -> str:
    """`path` made absolute (`os.path.abspath`, 20 µs on a validation's clock); an absolute
    one is remembered: its form depends on nothing but itself (not the working directory)."""
    known = _ABSOLUTE.get(path)
    if known is None:
        known = os.path.abspath(path)
        if os.path.isabs(path):
            if len(_ABSOLUTE) >= _ABSOLUTE_KEPT:
                _ABSOLUTE.clear()
            _ABSOLUTE[path] = known
    return known


def _carried(time_limit: float, memory_mb: float, settings: dict[str, Any]) -> dict[str, Any]:
    """What a request carries besides the file's path and the plugin's name."""
    return {"memory_mb": memory_mb, "time_limit": time_limit, "settings": settings}


def _run(
    worker: _Worker,
    path: str | Path,
    name: str,
    carried: dict[str, Any],
    rehearse_next: bool = True,
) -> tuple[ValidationResult | None, bool]:
    """One job on a ready worker: file `path` as plugin `name` under `carried`. The result
    (None if the worker was lost in a way the job cannot have caused, `_WorkerGone`: the job
    is to run on another), and whether the worker is still usable."""
    began = time.monotonic()
    try:
        answer = worker.run(_absolute(path), name, carried, rehearse_next)
    except _WorkerGone:
        return None, False
    except _WorkerLost:
        answer = None
    took = time.monotonic() - began
    if answer is None:
        try:
            worker.process.wait(timeout=0.5)  # its pipe may close just before it is reaped
        except subprocess.TimeoutExpired:
            return _internal("the sandbox worker stopped answering", took), False
        return ValidationResult(ok=False, error_type="crash", duration=took,
                                error_message="the sandbox worker died while validating "
                                "(the module killed it?)"), False  # fmt: skip
    try:
        return result_from_dict(answer, duration=took), True
    except (TypeError, ValueError) as exc:
        return _internal(f"the sandbox answered nonsense: {exc}", took), True


class SandboxPool:
    """Pre-warmed workers validating module files; `validate` and `submit` never raise.

    `time_limit` (seconds of CPU; `wall_limit` of it on the clock) and `memory_mb` (address
    space the module may add to the warm worker's) bound each validation; `settings` sets
    the checks (CPU budget…).
    """

    def __init__(
        self,
        workers: int = 1,
        time_limit: float = 2.0,
        memory_mb: float = 512,
        settings: CheckSettings | None = None,
    ) -> None:
        self.workers = max(1, int(workers))
        self.time_limit = float(time_limit)
        self.memory_mb = float(memory_mb)
        self.settings = settings or CheckSettings()
        self._made: tuple[CheckSettings, float, float, dict[str, Any]] | None = None
        """`settings`, `time_limit`, `memory_mb` and what a request carries of them
        (`_carried`, made again only when one of them changes)."""
        self._jobs: queue.SimpleQueue[_Job | _Finish | _Replace | None] = queue.SimpleQueue()
        self._queued = 0
        """How many validations wait in `_jobs` for a pool thread (under `_lock`)."""
        self._lock = threading.Lock()
        self._busy = [threading.Lock() for _ in range(self.workers)]
        """Held by whichever thread runs a job on that worker (a pool thread or a caller)."""
        self._threads: list[threading.Thread] = []
        self._procs: dict[int, _Worker | None] = {}
        self._closed = False
        self.replaced = 0
        """How many workers were replaced (died, hung, or failed to start)."""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SandboxPool:
        """Start the pool's threads; each starts its worker at once (they warm up in the
        background). Returns the pool.

        The workers are started from the pool's own threads, which live until `close`:
        a worker dies with the thread that started it (`PR_SET_PDEATHSIG`), so never with
        a short-lived caller's."""
        with self._lock:
            if self._threads or self._closed:
                return self
            for index in range(self.workers):
                thread = threading.Thread(target=self._serve, args=(index,), daemon=True,
                                          name=f"sandbox-{index}")  # fmt: skip
                self._threads.append(thread)
                thread.start()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> bool:
        """Block until every worker is warm; whether they all are."""
        deadline = time.monotonic() + timeout
        while len(self.worker_list()) < self.workers:
            if self._closed or not self._threads or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return all(
            worker.wait_ready(max(0.0, deadline - time.monotonic()))
            for worker in self.worker_list()
        )

    def worker_list(self) -> list[_Worker]:
        """The current workers (for health and tests)."""
        with self._lock:
            return [worker for worker in self._procs.values() if worker is not None]

    def worker_pids(self) -> list[int]:
        """The current workers' process ids."""
        return [worker.pid for worker in self.worker_list()]

    def status(self) -> dict[str, Any]:
        """The pool as plain JSON-ready data, for health replies: its workers (pid, warm or
        not, address space), how many were replaced, jobs waiting, and its limits."""
        return {
            "workers": [
                {"pid": w.pid, "ready": w.ready is not None and w.alive(),
                 "vm_mb": round(float((w.ready or {}).get("vm_mb", 0.0)), 1)}
                for w in self.worker_list()
            ],
            "replaced": self.replaced,
            "queued": self._waiting(),
            "time_limit": self.time_limit,
            "memory_mb": self.memory_mb,
            "cpu_budget_us": round(self.settings.budget_us, 1),
            "closed": self._closed,
        }  # fmt: skip

    def close(self) -> None:
        """Stop every worker; jobs not yet run get an `internal` result. Never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for worker in self.worker_list():
            worker.stop()  # a validation under way ends now, as `internal`
        patience = wall_limit(self.time_limit) + ANSWER_GRACE + 1
        for thread in threads:
            thread.join(timeout=patience)
        held = [busy.acquire(timeout=patience) for busy in self._busy]  # callers' jobs end
        try:
            for worker in self.worker_list():
                worker.kill()
        finally:
            for busy, got in zip(self._busy, held, strict=True):
                if got:
                    busy.release()
        self._drain()

    def __enter__(self) -> SandboxPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs ------------------------------------------------------------------------------

    def submit(self, path: str | Path, name: str, done: Done) -> None:
        """Validate in the background; `done(result)` is called from a pool thread."""
        if self._closed:
            _call(done, _internal("the sandbox pool is closed"))
            return
        self.start()
        self._count_queued(1)
        self._jobs.put((path, name, done))
        if self._closed:  # closed meanwhile: nobody may take it
            self._drain()

    def validate(self, path: str | Path, name: str) -> ValidationResult:
        """Validate the module file at `path` as plugin `name`; blocks until done.

        Not from a `submit` callback (a pool thread would wait for itself): that gets an
        `internal` result at once."""
        if threading.current_thread() in self._threads:
            return _internal("validate() called from a pool thread (a submit callback): "
                             "it would wait for itself; submit instead")  # fmt: skip
        here = self._in_caller(path, name)
        if here is not None:
            return here
        got: list[ValidationResult] = []
        finished = threading.Event()

        def done(result: ValidationResult) -> None:
            got.append(result)
            finished.set()

        self.submit(path, name, done)
        finished.wait()
        return got[0]

    def _carried(self) -> dict[str, Any]:
        """What every request carries now (limits, settings): one object while they stay
        the same, which a worker started with them is told once (see `_Worker._wire`)."""
        made = self._made
        if (made is None or made[0] is not self.settings or made[1] != self.time_limit
                or made[2] != self.memory_mb):  # fmt: skip
            fields = settings_fields(self.settings)
            made = self._made = (self.settings, self.time_limit, self.memory_mb,
                                 _carried(self.time_limit, self.memory_mb, fields))  # fmt: skip
        return made[3]

    def _new_worker(self) -> _Worker:
        return _Worker(self._carried())

    def _waiting(self) -> int:
        """How many validations wait for a pool thread (errands not counted)."""
        return self._queued

    def _count_queued(self, change: int) -> None:
        with self._lock:
            self._queued += change

    def _in_caller(self, path: str | Path, name: str) -> ValidationResult | None:
        """The validation run in this (the caller's) thread on an idle warm worker; None if
        none is idle (the job goes through a pool thread then)."""
        for index, busy in enumerate(self._busy):
            if not busy.acquire(blocking=False):
                continue
            lost: _Worker | None = None
            try:
                with self._lock:
                    worker = self._procs.get(index)
                if self._closed or worker is None or worker.ready is None or worker.reaped():
                    continue  # not warm, or to be replaced: a pool thread's business
                # (a worker dead and not yet reaped is found by the job: `_WorkerGone`)
                result: ValidationResult | None
                try:
                    result, usable = _run(worker, path, name, self._carried(), self._queued == 0)
                except Exception as exc:  # as in a pool thread: a bug here, not the module's
                    result, usable = _bug(exc), False
                if usable:  # its kills and forks, off this clock
                    self._jobs.put(_Finish(worker, worker.last_job))
                else:
                    worker.stop()
                    lost = worker
            finally:
                busy.release()
            if lost is not None and not self._closed:
                errand = _Replace(index, lost, threading.Event())
                self._jobs.put(errand)
                errand.done.wait(START_TIMEOUT)
            if self._closed:
                return _internal("the sandbox pool was closed during the validation")
            return result  # None if the worker was lost not by the job's doing: a pool thread's
        return None

    def _drain(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Replace):
                job.done.set()
            elif isinstance(job, tuple):
                self._count_queued(-1)
                _call(job[2], _internal("the sandbox pool is closed"))

    def _serve(self, index: int) -> None:
        try:
            worker = self._new_worker()
            with self._lock:
                self._procs[index] = worker
        except OSError:
            log.exception("sandbox pool: cannot start a worker")  # the next job tries again
        while True:
            job = self._jobs.get()
            if isinstance(job, _Finish):
                job.worker.finish(job.job)
                job.worker.prefetch(time.monotonic() + PREFETCH_WAIT)
                continue
            if isinstance(job, _Replace):
                if not self._closed:
                    with self._busy[job.index]:
                        if self._procs.get(job.index) is job.old:
                            self._replace(job.index)
                job.done.set()
                continue
            if job is not None:
                self._count_queued(-1)
            if job is None or self._closed:
                if job is not None:
                    _call(job[2], _internal("the sandbox pool is closed"))
                return
            path, name, done = job
            used, ran = None, 0
            try:
                with self._busy[index]:
                    result = self._one(index, path, name)
                    with self._lock:
                        used = self._procs.get(index)
                    ran = used.last_job if used is not None else 0
            except Exception as exc:  # a bug here, or no process to be had: not the module's
                result = _bug(exc)
            _call(done, result)
            if used is not None:
                used.finish(ran)  # after the result: the worker's forks would delay it
                used.prefetch(time.monotonic() + PREFETCH_WAIT)

    def _one(self, index: int, path: str | Path, name: str) -> ValidationResult:
        worker = self._fresh(index)
        if not worker.wait_ready():
            self._replace(index)
            return _internal(f"a sandbox worker did not start: {worker.failure}")
        carried = self._carried()
        result, usable = _run(worker, path, name, carried, self._queued == 0)  # a job
        # waiting would wait for the next children's rehearsal
        if result is None and not self._closed:  # lost not by the job's doing: on a new one
            worker = self._replace(index)
            if not worker.wait_ready():
                self._replace(index)
                return _internal(f"a sandbox worker did not start: {worker.failure}")
            result, usable = _run(worker, path, name, carried, self._queued == 0)
        if self._closed:
            return _internal("the sandbox pool was closed during the validation")
        if not usable:
            self._replace(index)
        if result is None:
            return _internal("the sandbox worker was lost twice, not by the module's doing")
        return result

    def _fresh(self, index: int) -> _Worker:
        """Worker `index`, (re)started first if it is gone."""
        with self._lock:
            worker = self._procs.get(index)
        if worker is not None and worker.alive():
            return worker
        return self._replace(index)

    def _replace(self, index: int) -> _Worker:
        with self._lock:
            old = self._procs.get(index)
        if old is not None:
            old.kill()
        new = self._new_worker()
        with self._lock:
            self._procs[index] = new
            if old is not None:
                self.replaced += 1
        if self._closed:  # close() may have passed this worker by: stop it here
            new.kill()
        return new


def _call(done: Done, result: ValidationResult) -> None:
    try:
        done(result)
    except Exception:  # the caller's callback: its bug must not stop the pool
        log.exception("sandbox pool: a result callback raised")


def validate_file(
    path: str | Path,
    name: str,
    time_limit: float = 2.0,
    memory_mb: float = 512,
    settings: CheckSettings | None = None,
) -> ValidationResult:
    """One validation in a fresh sandboxed worker, without a pool (it starts cold: numpy
    and numba load first, which the result's duration leaves out). Never raises."""
    worker: _Worker | None = None
    try:
        carried = _carried(time_limit, memory_mb, settings_fields(settings or CheckSettings()))
        worker = _Worker(carried)
        if not worker.wait_ready():
            return _internal(f"the sandbox worker did not start: {worker.failure}")
        result = _run(worker, path, name, carried)[0]
        return result or _internal("the sandbox worker was lost, not by the module's doing")
    except Exception as exc:
        return _internal(f"sandbox: {type(exc).__name__}: {exc}")
    finally:
        if worker is not None:
            worker.kill()
