"""A warm sandbox worker: `python -m chronus.plugins.worker`, one per pool slot.

It imports numpy, numba and chronus.dsp once (and has numba compile something, so LLVM is
ready), with every thread pool set to one thread: it runs no thread but its main one, so a
fork of it is safe. It then answers requests, one JSON line on stdin each, with one JSON
line on stdout. Each validation runs in a fresh fork (`run_job`): the child confines
itself (`confine`), runs the checks and writes its result down a pipe as JSON; the worker
waits for it with a wall-clock deadline, SIGKILLs the child's process group past it, and
turns whatever else happened (a signal, an exit, a short read) into a result. The worker
survives whatever the module does.

Wire format. The worker's first line: `{"ready": pid, "vm_mb": …, "threads": …}`. A
request: `{"path", "name", "time_limit", "memory_mb", "settings": {CheckSettings fields}}`.
An answer: `{"result": {ValidationResult fields}}`.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["THREAD_ENV", "main", "result_from_dict", "run_job"]

THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""Set before numpy and numba load, so that the worker runs no thread of theirs."""

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


def _child(request: dict[str, Any], write_fd: int, baseline_mb: float | None) -> None:
    """In the forked child: confine, check, write the result, exit. Never returns."""
    code = 70
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        from chronus.engine.lifecycle import die_with_parent
        from chronus.plugins.confine import confine
        from chronus.plugins.validation import CheckSettings, run_checks

        die_with_parent()
        confine(float(request["memory_mb"]), float(request["time_limit"]) + 1.0, baseline_mb)
        settings = CheckSettings(**request.get("settings", {}))
        result = run_checks(request["path"], request["name"], settings)
        data = json.dumps(result.to_dict()).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
        os.close(write_fd)  # the answer is whole now, before the process is torn down
        code = 0
    finally:
        os._exit(code)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to `fd` until EOF; and whether EOF came before `deadline`."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], left)
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


def _ending(status: int, data: bytes, finished: bool, time_limit: float) -> dict[str, Any]:
    """The result of a child that gave no parseable answer, from how it ended."""
    if not finished:
        return _failed("timeout", f"validation went past its time limit of {time_limit:g} s "
                       "(an endless loop, or a very slow module)")  # fmt: skip
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _failed("timeout", "validation went past its CPU time limit")
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


def run_job(
    request: dict[str, Any],
    baseline_mb: float | None = None,
    answer: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """One validation in a fresh, confined fork of this process; the result as a dict.

    Call only in a process that runs no other thread (a fork copies just the caller).
    `baseline_mb` is this process's address space (see `confine`). If `answer` is given,
    it gets the result as soon as the child has written it whole, before the child is
    reaped."""
    time_limit = float(request["time_limit"])
    began = time.monotonic()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.setpgid(0, 0)
        _child(request, write_fd, baseline_mb)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first (or is gone already)
    os.close(write_fd)
    try:
        data, finished = _read_until(read_fd, began + time_limit)
    finally:
        os.close(read_fd)
    result = _parse(data) if finished else None
    whole = result is not None
    if result is None:
        if not finished:
            _kill_group(pid)
        _, status = os.waitpid(pid, 0)
        result = _ending(status, data, finished, time_limit)
    result["duration"] = time.monotonic() - began
    if answer is not None:
        answer(result)
    if whole:
        os.waitpid(pid, 0)  # it answered: it is on its way out
    _kill_group(pid)  # whatever it left behind
    return result


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "ok" in parsed else None


def _warm() -> None:
    """Import what every validation needs and have numba compile once."""
    import numba
    import numpy as np

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    from chronus.plugins.confine import prepare

    prepare()

    @numba.njit(cache=False)
    def _twice(x: Any) -> Any:
        return x * 2.0

    _twice(np.ones(4))


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def main() -> None:
    """Warm up, say ready, then answer requests until stdin closes."""
    os.environ.update(THREAD_ENV)
    from chronus.engine.lifecycle import die_with_parent
    from chronus.plugins.confine import vm_size_mb

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the shell's Ctrl-C is not for us
    out = sys.stdout.buffer

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    _warm()
    gc.freeze()  # what the gc would touch in each fork, and so copy, it now leaves alone
    baseline = vm_size_mb()
    say({"ready": os.getpid(), "vm_mb": baseline, "threads": _threads()})
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            run_job(request, baseline, lambda result: say({"result": result}))
        except Exception as exc:  # a malformed request: the pool's bug, reported as such
            say({"result": _failed("internal", f"sandbox worker: {type(exc).__name__}: {exc}")})


if __name__ == "__main__":
    main()
