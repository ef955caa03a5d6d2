"""A warm sandbox worker: `python -m chronus.plugins.worker`, one per pool slot.

It imports numpy, numba and chronus.dsp once and rehearses the checks (on a built-in module
and on a plugin file shipped for it, `chronus.plugins.rehearsal`, whose kernel it compiles
and caches on a first start), so numba's kernels and the checks' own paths are loaded, with
every thread pool set to one thread: it runs no thread but its main one, so a fork of it
is safe. It then answers requests, one JSON line on stdin each, with one JSON line on
stdout.

Each validation runs in a fresh fork, a `Spare` forked while the worker was idle, which
has sealed itself (`confine.seal`: no core file, no new process) and rehearsed the checks and
waits for its request: it sets the job's limits (`confine.limit`: the time limit is CPU
time, `RLIMIT_CPU`), runs the checks and writes its result down a pipe as JSON.
The worker waits for that with a wall-clock deadline (`wall_limit`), SIGKILLs the child's
process group past it, and turns whatever else happened (a signal, an exit, a short read)
into a result (`run_job`). A second spare, the twin, gets the same request at the same
time and renders the first test blocks once more, to be compared (`cross_process`). Each
child does one validation and is gone: the worker survives whatever the module does.

Wire format. The worker's first line: `{"ready": pid, "vm_mb": …, "threads": …}`, or
`{"error": why}` if it cannot warm up. A request: `{"path", "name", "time_limit",
"memory_mb", "settings": {CheckSettings fields}}`, and optionally `"rehearse_next": false`
when another request follows at once: a rehearsal costs more than it saves when the next
request would wait for it, so the next children are forked without one. An answer, exactly
one per request: `{"result": {ValidationResult fields}}`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import math
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from chronus.plugins.ladspa.reference import split_reference

__all__ = ["THREAD_ENV", "Spare", "main", "result_from_dict", "run_job"]

THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""Set before numpy and numba load, so that the worker runs no thread of theirs."""

READY = b"R"
"""What a spare writes down its result pipe once it waits for its request."""
WALL_FACTOR = 3.0
"""A validation's clock limit, in multiples of its CPU limit (`wall_limit`)."""
SPARE_TIMEOUT = 2.0
"""Seconds a spare may take to say it is ready (it does at once, and rehearses while it
waits); past them a plain spare takes its place. Twice this stays within the pool's grace."""

WARM_IMPORTS = ("chronus.dsp.catalog", "chronus.plugins.confine", "chronus.plugins.validation")
"""What every validation uses, the built-in modules' kernels among it."""

_SIGNAL_NAMES: dict[int, str] = {
    signal.SIGSEGV: "a segmentation fault",
    signal.SIGBUS: "a bus error",
    signal.SIGABRT: "an abort",
    signal.SIGILL: "an illegal instruction",
    signal.SIGFPE: "a floating-point exception",
}


def result_from_dict(data: dict[str, Any]) -> Any:
    """A `ValidationResult` from its `to_dict()`."""
    from chronus.plugins.result import ValidationResult

    fields = {**data, "params": tuple(data.get("params", ()))}
    fields["figures"] = {k: float(v) for k, v in fields.get("figures", {}).items()}
    return ValidationResult(**fields)


def _failed(error_type: str, message: str, **figures: float) -> dict[str, Any]:
    return {"ok": False, "error_type": error_type, "error_message": message,
            "figures": dict(figures)}  # fmt: skip


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _spare_child(request_fd: int, write_fd: int, rehearse: bool, twin: bool) -> None:
    """In a spare: say ready, seal, rehearse until the request comes, set the job's limits,
    check, answer, exit. Never returns."""
    code = 70
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        from chronus.engine.lifecycle import die_with_parent
        from chronus.engine.titles import set_title
        from chronus.plugins import validation
        from chronus.plugins.confine import limit, seal, vm_size_mb

        set_title("sandbox job")
        die_with_parent()
        _write_all(write_fd, READY)
        seal()
        if rehearse:
            _rehearse_until(request_fd, validation.rehearsal(whole=not twin))
        baseline = vm_size_mb()
        request = json.loads(_read_until(request_fd, math.inf)[0])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        spent = usage.ru_utime + usage.ru_stime
        limit(float(request["memory_mb"]), spent + float(request["time_limit"]), baseline)
        settings = validation.CheckSettings(**request.get("settings", {}))
        if request.get("crc_only"):
            answer = _crc_only(request["path"], request["name"], settings)
        else:
            answer = validation.run_checks(request["path"], request["name"], settings).to_dict()
            answer["figures"].update(_spent_since(usage))
        _write_all(write_fd, json.dumps(answer).encode())
        os.close(write_fd)  # the answer is whole now, before the process is torn down
        code = 0
    finally:
        os._exit(code)


def _rehearse_until(request_fd: int, steps: Generator[None, None, None]) -> None:
    """Run the rehearsal's `steps` until they are done or the request comes, whichever is
    first: a request never waits for more than one step. One that fails only stops it (a
    rehearsal makes a validation faster, never different)."""
    with contextlib.closing(steps):
        try:
            for _ in steps:
                if select.select([request_fd], [], [], 0)[0]:
                    return
        except Exception:
            return


def _spent_since(usage: resource.struct_rusage) -> dict[str, float]:
    """This process's CPU ms and minor page faults (pages copied on write, or new) since
    `usage`: what the checks cost in the child, whatever else runs on the machine."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    cpu = now.ru_utime + now.ru_stime - usage.ru_utime - usage.ru_stime
    return {
        "child_cpu_ms": 1000 * cpu,
        "child_minor_faults": float(now.ru_minflt - usage.ru_minflt),
    }


def _crc_only(path: str, name: str, settings: Any) -> dict[str, Any]:
    """In a second process: the first test render's CRC-32, or what went wrong."""
    from chronus.plugins import validation

    try:
        return {"render_crc32": validation.render_crc32(path, name, settings)}
    except BaseException as exc:
        return {"crc_error": validation.describe(exc, path)}


_WORKER_ENDS: set[int] = set()
"""The worker's ends of its spares' pipes. A new spare closes its copies: else a spare's
request pipe would stay open after the worker closed it (the other spare holding it), and
that spare would wait for the rest of its request forever."""


def _close_end(fd: int) -> None:
    _WORKER_ENDS.discard(fd)
    os.close(fd)


@dataclass
class Spare:
    """A forked child of the worker waiting for its one validation, in its own process
    group. It writes `READY` down its result pipe, then rehearses the checks
    (`validation.rehearsal`: on a built-in module and on a plugin file) until they are
    done or its request comes, so that the pages a validation writes are copied (fork is
    copy-on-write) while the worker is idle, not while the validation runs."""

    pid: int
    request_fd: int
    result_fd: int
    reaped: bool = False
    """Whether its ending was read already (`wait`): its pid may be another process's now."""

    @classmethod
    def fork(cls, rehearse: bool = True, twin: bool = False) -> Spare:
        """Fork a spare (only from a process that runs no other thread); a `twin` rehearses
        only what a second render does."""
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (request_write, result_read, *_WORKER_ENDS):
                os.close(fd)
            os.setpgid(0, 0)
            _spare_child(request_read, result_write, rehearse, twin)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child did it first (or is gone already)
        os.close(request_read)
        os.close(result_write)
        _WORKER_ENDS.update((request_write, result_read))
        return cls(pid, request_write, result_read)

    def wait_ready(self, timeout: float) -> bool:
        """Whether it said ready within `timeout` seconds."""
        ready, _, _ = select.select([self.result_fd], [], [], timeout)
        return bool(ready) and os.read(self.result_fd, len(READY)) == READY

    def send(self, request: dict[str, Any]) -> None:
        """Hand it its request (a child that died meanwhile is found by its ending)."""
        try:
            _write_all(self.request_fd, json.dumps(request).encode())
        except OSError:
            pass
        _close_end(self.request_fd)
        self.request_fd = -1

    def wait(self) -> int:
        """Reap it (blocking) and return its wait status; once."""
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        return status

    def close(self, reap: bool = True) -> None:
        """Kill its process group, close the pipes (the worker's ends) and reap it, or leave
        it to `reap_ended` (its exit takes ms: the worker forks meanwhile); once."""
        if self.request_fd < 0 and self.result_fd < 0:
            return
        _kill_group(self.pid)
        for fd in (self.request_fd, self.result_fd):
            if fd >= 0:
                _close_end(fd)
        self.request_fd = self.result_fd = -1
        if not self.reaped:
            _ENDED.append(self.pid)
            self.reaped = True  # by `reap_ended`: a zombie's pid is no one else's till then
        if reap:
            reap_ended()


_ENDED: list[int] = []
"""Spares killed and not yet reaped."""


def reap_ended() -> None:
    """Reap every spare `close` left (waiting for each to be gone)."""
    while _ENDED:
        try:
            os.waitpid(_ENDED.pop(), 0)
        except ChildProcessError:
            pass  # reaped elsewhere already


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to `fd` until EOF; and whether EOF came before `deadline`."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], None if math.isinf(left) else left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wall_limit(time_limit: float) -> float:
    """How long a validation may take on the clock: `WALL_FACTOR` times its CPU limit, so
    that a busy machine (the module's process gets a share of a core) does not fail an
    honest module, while a module that waits instead of computing is still stopped."""
    return WALL_FACTOR * time_limit


def _ending(status: int, data: bytes, finished: bool, time_limit: float) -> dict[str, Any]:
    """The result of a child that gave no parseable answer, from how it ended."""
    if not finished:
        return _failed("timeout", f"validation went past its time limit of {time_limit:g} s "
                       f"of CPU or {wall_limit(time_limit):g} s on the clock (an endless "
                       "loop, a wait, or a very slow module)")  # fmt: skip
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _failed("timeout", f"validation went past its time limit of {time_limit:g} "
                           "s of CPU (an endless loop, or a very slow module)")  # fmt: skip
        if sig == signal.SIGKILL:
            return _failed("crash", "the validating process was killed (SIGKILL): the system "
                           "ran out of memory?")  # fmt: skip
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        what = _SIGNAL_NAMES.get(sig, "a signal")
        return _failed("crash", f"the module crashed the process with {what} ({name})")
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code == 0 and data:
        return _failed("internal", f"the sandbox got a short answer ({len(data)} bytes)")
    return _failed("exit", f"the module ended the process (exit status {code}) before "
                   "validation finished (os._exit?)")  # fmt: skip


def _ready_spare(spare: Spare) -> Spare | None:
    """`spare` once ready; else (it died rehearsing) a plain one; None if none starts."""
    if spare.wait_ready(SPARE_TIMEOUT):
        return spare
    spare.close()
    plain = Spare.fork(rehearse=False)
    if plain.wait_ready(SPARE_TIMEOUT):
        return plain
    plain.close()
    return None


def _start(request: dict[str, Any], spare: Spare) -> Spare | None:
    """`request` sent to `spare`, or to a plain spare if it did not get ready; the child
    that has it, or None if none started."""
    ready = _ready_spare(spare)
    if ready is not None:
        ready.send(request)
    return ready


def _collect(child: Spare | None, deadline: float, time_limit: float, path: str) -> dict[str, Any]:
    """What `child` answered about the module at `path`, or what its ending means, under
    the key `ended`."""
    if child is None:
        return {"ended": _failed("internal", "the sandbox worker could not start a child")}
    data, finished = _read_until(child.result_fd, deadline)
    answer = _parse(data) if finished else None
    if answer is not None:
        return answer
    if not finished:
        _kill_group(child.pid)
    status = child.wait()
    ended = _ending(status, data, finished, time_limit)
    native = split_reference(path)
    if native is not None and ended["error_type"] == "crash":
        ended["error_message"] += f": the native plugin {native[1]} of {native[0]}"
    return {"ended": ended}


def _compare(result: dict[str, Any], answer: dict[str, Any]) -> None:
    """Fail `result` if the second process's `answer` differs from it."""
    ended = answer.get("ended")
    if ended is not None:
        result.update(ended, error_message="in a second process: " + ended["error_message"])
        return
    why = answer.get("crc_error")
    if why is None and answer.get("render_crc32") == result["figures"].get("render_crc32"):
        return
    detail = (
        f"the module failed where it passed in the first: {why}"
        if why is not None
        else "the first test render came out different (state taken at import from the "
        "clock, the process id or os.urandom?)"
    )
    result.update(ok=False, error_type="non_deterministic",
                  error_message=f"in a second process {detail}")  # fmt: skip


def run_job(
    request: dict[str, Any],
    spare: Spare,
    answer: Callable[[dict[str, Any]], None] | None = None,
    twin: Spare | None = None,
    reap: bool = True,
) -> dict[str, Any]:
    """One validation in `spare`, and, if `settings.cross_process` is on, a second render
    in another child (`twin`, which renders at the same time, on another core if there is
    one; else a plain spare forked once the first passed) compared with the first; the
    result as a dict. `spare` and `twin` are used up: killed afterwards, and reaped unless
    `reap` is false (then `reap_ended` does).

    If `answer` is given, it gets the result as soon as it is known, before the children
    are killed."""
    began = time.monotonic()
    time_limit = float(request["time_limit"])
    deadline = began + wall_limit(time_limit)
    cross = request.get("settings", {}).get("cross_process", True)
    crc_request = {**request, "crc_only": True}
    children: list[Spare] = [spare] if twin is None else [spare, twin]
    try:
        first = _start(request, spare)
        second = _start(crc_request, twin) if cross and twin is not None else None
        children += [child for child in (first, second) if child is not None]
        got = _collect(first, deadline, time_limit, str(request["path"]))
        result: dict[str, Any] = got["ended"] if "ended" in got else got
        if result.get("ok") and cross:
            if second is None:
                second = _start(crc_request, Spare.fork(rehearse=False))
                children += [] if second is None else [second]
            _compare(result, _collect(second, deadline, time_limit, str(request["path"])))
        result["duration"] = time.monotonic() - began
        if answer is not None:
            answer(result)
        return result
    finally:
        for child in children:
            child.close(reap)  # kills what it left behind


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _warm() -> None:
    """Import what every validation needs, rehearse the checks (`validation.rehearse`),
    and have numba compile once."""
    import numba
    import numpy as np

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    from chronus.plugins.confine import prepare
    from chronus.plugins.validation import rehearse

    prepare()
    rehearse()

    @numba.njit(cache=False)
    def _twice(x: Any) -> Any:
        return x * 2.0

    _twice(np.ones(4))


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _serve_one(
    request: dict[str, Any], spare: Spare, twin: Spare, say: Callable[[dict[str, Any]], None]
) -> None:
    """Run one request in `spare` (and `twin`) and say exactly one answer (a second one
    would be read as the answer to the next request). The children are killed, not reaped:
    the caller forks the next ones while they go, then reaps them (`reap_ended`)."""
    answered = False

    def answer(result: dict[str, Any]) -> None:
        nonlocal answered
        answered = True
        say({"result": result})

    try:
        run_job(request, spare, answer, twin, reap=False)
    except Exception as exc:
        if not answered:
            answer(_failed("internal", f"sandbox worker: {type(exc).__name__}: {exc}"))


def main() -> None:
    """Warm up, say ready, then answer requests until stdin closes."""
    os.environ.update(THREAD_ENV)
    from chronus.engine.lifecycle import die_with_parent
    from chronus.engine.titles import set_title
    from chronus.plugins.confine import vm_size_mb

    set_title("sandbox")
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the shell's Ctrl-C is not for us
    out = sys.stdout.buffer

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    try:
        _warm()
    except Exception as exc:  # a broken install: said to the pool, which reports it
        say({"error": f"{type(exc).__name__}: {exc}"})
        return
    gc.freeze()  # what the gc would touch in each fork, and so copy, it now leaves alone
    spare, twin = Spare.fork(), Spare.fork(twin=True)
    say({"ready": os.getpid(), "vm_mb": vm_size_mb(), "threads": _threads()})
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError as exc:  # the pool's bug, reported as such
            say({"result": _failed("internal", f"sandbox worker: a bad request: {exc}")})
            continue
        _serve_one(request, spare, twin, say)
        rehearse = bool(request.get("rehearse_next", True))
        spare, twin = Spare.fork(rehearse), Spare.fork(rehearse, twin=True)
        reap_ended()
    spare.close()
    twin.close()


if __name__ == "__main__":
    main()
