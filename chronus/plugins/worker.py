"""A warm sandbox worker: `python -m chronus.plugins.worker`, one per pool slot.

It imports numpy, numba and chronus.dsp once and rehearses the checks (on a built-in module
and on a plugin file shipped for it, `chronus.plugins.rehearsal`, whose kernel it compiles
and caches on a first start), so numba's kernels and the checks' own paths are loaded, with
every thread pool set to one thread: it runs no thread but its main one, so a fork of it
is safe. Then it only forks: the children that validate, and their endings.

Each validation runs in a fresh fork, a `Spare` forked while the worker was idle, which
has sealed itself (`confine.seal`: no core file, no new process, no signal to another
process, so a module cannot kill the worker) and rehearsed the checks and waits for its
request: it sets the job's limits (`confine.limit`; the time limit is CPU time outside
numba's compiler, `cpu_limit.hold_to`, behind `RLIMIT_CPU`), runs the checks and writes its
result down its own pipe as JSON. A second spare, the twin, renders the first test blocks
once more, to be compared (`cross_process`). The worker hands both children's pipe ends to
the pool (`SCM_RIGHTS` over a socket), so the pool sends them their requests and reads their
answers itself: a validation wakes the child and the pool, not the worker in between. The
pool judges the answers (`chronus.plugins.answer`) with a wall-clock deadline; for a child
that did not answer readably it asks the worker how the child ended (killed first if past
the deadline).
Each child does one validation and is gone: the worker survives whatever the module does.

Wire format. On stdout, the worker's first line: `{"ready": pid, "vm_mb": …, "threads": …}`,
or `{"error": why}` if it cannot warm up. On the socket (`SOCKET_ENV` names its fd), for
each job ahead: `{"spares": [pid, twin_pid], "sealed": bool}` with four fds (the spare's
request and result ends, the twin's; `sealed` if both children's filters took), or
`{"spares": [], "error": why}` if no child starts. A request, written by the pool down a
child's request pipe, one JSON line: `{"path", "name", "time_limit", "memory_mb",
"settings": {CheckSettings fields}, "sent_at"}`, the twin's with `"crc_only": true`, less
what the worker was told every request carries (`POOL_ENV`); the child's answer, one JSON
line, carries `"answered_at"` (`time.monotonic()`, one clock for every process: the figures
`request_ms` and `answer_ms` are the two hand-offs, `checks_ms` what lies between them).
On stdin, from the pool, for the job under way: `{"job": n, "status": ["spare"…], "kill":
bool}`, answered on stdout with `{"job": n, "status": {"spare": wait status or null…}}`;
then `{"job": n, "done": true, "rehearse_next": bool}`: the children are killed and the
next two forked (without a rehearsal if `rehearse_next` is false: another request follows
at once, and would wait for it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from json.scanner import make_scanner
from typing import Any, BinaryIO, cast

__all__ = [
    "POOL_ENV",
    "SOCKET_ENV",
    "THREAD_ENV",
    "Spare",
    "json_line",
    "json_object",
    "main",
    "reap_ended",
    "result_from_dict",
    "settings_fields",
    "write_all",
]

THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""Set before numpy and numba load, so that the worker runs no thread of theirs."""
SOCKET_ENV = "CHRONUS_SANDBOX_SOCKET"
"""The environment variable that tells a worker the fd of its socket to the pool."""
POOL_ENV = "CHRONUS_SANDBOX_POOL"
"""The environment variable that tells a worker what every request of its pool carries,
`{"memory_mb": …, "time_limit": …, "settings": {CheckSettings fields}}`: its spares set
those limits and make those settings while they wait, and a request leaves out what is the
same (it is then a path, a name and a time stamp: less to encode and decode on its clock)."""

READY = b"R"
"""What a spare writes down its result pipe once it is sealed and waits for its request."""
READY_UNSEALED = b"U"
"""What a spare writes instead if its seccomp filter did not take (an unknown machine or
kernel): a module in it could kill the worker, which the pool must then ask after."""
SPARE_TIMEOUT = 2.0
"""Seconds a spare may take to say it is ready (it does at once, and rehearses while it
waits); past them a plain spare takes its place. Twice this stays within the pool's grace."""

LINGER_S = 0.5
"""At most how long a child that answered waits to be ended (`_linger`): what a worker asked
for the exit status of a child whose answer the pool could not read waits at most."""

WARM_IMPORTS = ("chronus.dsp.catalog", "chronus.plugins.confine", "chronus.plugins.validation")
"""What every validation uses, the built-in modules' kernels among it."""


def result_from_dict(data: dict[str, Any], duration: float | None = None) -> Any:
    """A `ValidationResult` from its `to_dict()` (its `duration` replaced, if given)."""
    from chronus.plugins.result import ValidationResult

    fields = {**data, "params": tuple(data.get("params", ()))}
    if duration is not None:
        fields["duration"] = duration
    fields["figures"] = {k: float(v) for k, v in fields.get("figures", {}).items()}
    return ValidationResult(**fields)


_scan_once: Callable[[str, int], tuple[Any, int]] = make_scanner(cast(Any, json.JSONDecoder()))
"""One JSON value at an index of a text, as `json.loads` scans it (the same decoder)."""


def _dumps_encoder() -> Callable[[Any, int], list[str]] | None:
    """The C encoder `json.dumps` makes at each call, made once; None where there is none."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    separators = (": ", ", ")  # json.dumps's, with its other defaults below
    encoder: Callable[[Any, int], list[str]] = make(
        {}, json.JSONEncoder().default, encode_basestring_ascii, None, *separators, False, False,
        True)  # fmt: skip
    return encoder


_encode = _dumps_encoder()


def json_object(data: bytes) -> dict[str, Any] | None:
    """`data` as a JSON object, as `json.loads` takes it, or None if it is not one. A line as
    the pool and its children write them (UTF-8, a newline at its end or none) is scanned at
    once: no guess at its encoding, none of the layers of `json.loads`, which it would pass
    the same way (less on a validation's clock); anything else goes through them."""
    try:
        text = data.decode()
        parsed, end = _scan_once(text, 0)
        if (end == len(text) or text[end:] == "\n") and isinstance(parsed, dict):
            return parsed
    except (ValueError, StopIteration):  # UnicodeDecodeError is a ValueError
        pass
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def json_line(message: dict[str, Any]) -> bytes:
    """`message` as `json.dumps` writes it, and a newline."""
    text = json.dumps(message) if _encode is None else "".join(_encode(message, 0))
    return text.encode() + b"\n"


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (blocking)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_line(fd: int) -> bytes:
    """One line from `fd` (blocking), without its newline; what came if EOF came first."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        if b"\n" in chunk:
            break
    return b"".join(chunks).split(b"\n", 1)[0]


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
        from chronus.plugins.cpu_limit import COMPILE_ALLOWANCE_S, hold_to, let_go
        from chronus.plugins.heap_room import keep_freed

        set_title("sandbox job")
        die_with_parent()
        sealed = seal()["seccomp"]
        write_all(write_fd, READY if sealed else READY_UNSEALED)
        pool = _pool_defaults()
        given = validation.CheckSettings(**pool.get("settings", {}))
        _warm_wire(given)
        keep_freed()
        cut = rehearse and _rehearse_until(request_fd, _spare_steps(whole=not twin))
        baseline = vm_size_mb()
        limited = _limits(pool)
        if limited is not None:  # CPU: the module's, and numba's compiling (`hold_to`)
            limit(limited[0], _cpu_spent() + limited[1] + COMPILE_ALLOWANCE_S, baseline)
        wire = json_object(_read_line(request_fd))
        came = time.monotonic()
        if wire is None:
            raise ValueError("a request that is not a JSON object")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        request = {**pool, **wire}
        wanted = _limits(request)
        if wanted is None:
            raise ValueError("a request without its limits")
        if wanted != limited:
            spent = usage.ru_utime + usage.ru_stime
            limit(wanted[0], spent + wanted[1] + COMPILE_ALLOWANCE_S, baseline)
        compiling = hold_to(wanted[1])
        settings = validation.CheckSettings(**wire["settings"]) if "settings" in wire else given
        if request.get("crc_only"):
            answer = _crc_only(request["path"], request["name"], settings)
        else:
            answer = validation.run_checks(request["path"], request["name"], settings).to_dict()
            sent = float(request.get("sent_at", came))
            answer["figures"].update(
                _spent_since(usage),
                compile_cpu_ms=1000 * compiling.spent(),
                rehearsal_cut=float(cut),
                request_ms=1000 * (came - sent),
            )
        let_go()
        answer["answered_at"] = time.monotonic()
        if not request.get("crc_only"):
            answer["figures"]["checks_ms"] = 1000 * (answer["answered_at"] - came)
        write_all(write_fd, json_line(answer))  # whole at its newline
        os.close(write_fd)  # the answer is whole now, before the process is torn down
        code = 0
        _linger(request_fd)
    finally:
        os._exit(code)


def _linger(request_fd: int) -> None:
    """After the answer: sleep until the pool closes the request pipe or the worker kills
    this process (both once the caller has the answer), for at most `LINGER_S`. Exiting at
    once would tear down this fork's mappings (1.7–2.6 ms measured) on the CPU where the
    kernel has just woken the caller, ahead of the caller (ftrace, `docs/PERFORMANCE.md`)."""
    select.select([request_fd], [], [], LINGER_S)


def _pool_defaults() -> dict[str, Any]:
    """What every request of this worker's pool carries (`POOL_ENV`); {} if not given."""
    try:
        given = json.loads(os.environ[POOL_ENV])
    except (KeyError, ValueError):
        return {}
    return given if isinstance(given, dict) else {}


def _limits(request: dict[str, Any]) -> tuple[float, float] | None:
    """A request's limits, (memory_mb, time_limit), or None if it has none."""
    try:
        return float(request["memory_mb"]), float(request["time_limit"])
    except (KeyError, ValueError, TypeError):
        return None


def _cpu_spent() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settings_fields(settings: Any) -> dict[str, Any]:
    """A `CheckSettings` as a request carries it (its fields are scalars: no deep copy)."""
    return {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}


def _warm_wire(settings: Any) -> None:
    """Decode a request and encode an answer once, as a spare does on its job's clock, so
    that the pages those paths touch are copied (fork is copy-on-write) before it."""
    from chronus.plugins.result import ValidationResult

    request = {"path": "", "name": "", "time_limit": 1.0, "memory_mb": 1.0,
               "settings": settings_fields(settings), "sent_at": time.monotonic()}  # fmt: skip
    json_object(json_line(request))
    answer = ValidationResult(ok=True, figures={"blocks": 1.0}).to_dict()
    answer["answered_at"] = time.monotonic()
    json_line(answer)
    resource.getrusage(resource.RUSAGE_SELF)


def _rehearse_until(request_fd: int, steps: Generator[None, None, None]) -> bool:
    """Run the rehearsal's `steps` until they are done or the request comes, whichever is
    first: a request never waits for more than one step. One that fails only stops it (a
    rehearsal makes a validation faster, never different). Whether the request cut it
    short."""
    with contextlib.closing(steps):
        try:
            for _ in steps:
                if select.select([request_fd], [], [], 0)[0]:
                    return True
        except Exception:
            return False
    return False


def _spare_steps(whole: bool) -> Generator[None, None, None]:
    """What a spare does while it waits, in steps: the rehearsal, then heap made room for
    the validation's mallocs (`heap_room`). Closed early, each step's own clean-up runs."""
    from chronus.plugins import validation
    from chronus.plugins.heap_room import make_room

    yield from validation.rehearsal(whole=whole)
    yield from make_room()


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
"""The fds no spare may hold: the worker's socket to the pool and its ends of its spares'
pipes (else a spare's request pipe would stay open after it was handed over, the other
spare holding it)."""


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
    sealed: bool = False
    """Whether it said its seccomp filter is in place (`READY`), once ready."""
    reaped: bool = False
    """Whether its ending was read already (`wait`): its pid may be another process's now."""
    closed: bool = False

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
        """Whether it said ready within `timeout` seconds (and `sealed`, whether sealed)."""
        ready, _, _ = select.select([self.result_fd], [], [], timeout)
        said = os.read(self.result_fd, len(READY)) if ready else b""
        self.sealed = said == READY
        return said in (READY, READY_UNSEALED)

    def hand_over(self) -> None:
        """Close this process's ends of its pipes (another process holds them now)."""
        for fd in (self.request_fd, self.result_fd):
            if fd >= 0:
                _close_end(fd)
        self.request_fd = self.result_fd = -1

    def wait(self) -> int:
        """Reap it (blocking) and return its wait status; once."""
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        return status

    def ending(self, finished: bool) -> int:
        """Its wait status, killed first unless `finished` (its answer's pipe was closed);
        an `answer.Ending`."""
        if not finished:
            _kill_group(self.pid)
        return self.wait()

    def close(self, reap: bool = True) -> None:
        """Kill its process group, close the pipes (the worker's ends) and reap it, or leave
        it to `reap_ended` (its exit takes ms: the worker forks meanwhile); once."""
        if self.closed:
            return
        self.closed = True
        if not self.reaped:
            _kill_group(self.pid)
            _ENDED.append(self.pid)
            self.reaped = True  # by `reap_ended`: a zombie's pid is no one else's till then
        self.hand_over()
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


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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


def _hand_over(channel: socket.socket, rehearse: bool) -> dict[str, Spare]:
    """Fork the next job's spare and twin and, once ready, hand their pipes' ends to the
    pool; the children by name (none if they did not start: the pool is told why)."""
    children: dict[str, Spare] = {}
    for which in ("spare", "twin"):
        child = _ready_spare(Spare.fork(rehearse, twin=which == "twin"))
        if child is None:
            for started in children.values():
                started.close(reap=False)
            why = "the sandbox worker could not start a child"
            socket.send_fds(channel, [json.dumps({"spares": [], "error": why}).encode()], [])
            return {}
        children[which] = child
    spare, twin = children["spare"], children["twin"]
    sealed = spare.sealed and twin.sealed
    message = json.dumps({"spares": [spare.pid, twin.pid], "sealed": sealed}).encode()
    fds = [spare.request_fd, spare.result_fd, twin.request_fd, twin.result_fd]
    socket.send_fds(channel, [message], fds)
    for child in children.values():
        child.hand_over()
    return children


def _serve_job(
    lines: BinaryIO, children: dict[str, Spare], say: Callable[[dict[str, Any]], None]
) -> bool | None:
    """Answer the pool about the job `children` were handed over for, until it is done:
    whether to rehearse the next children; None when the pool is gone (stdin closed)."""
    try:
        while True:
            line = lines.readline()
            if not line:
                return None
            try:
                message = json.loads(line)
            except ValueError:
                continue  # the pool's bug; it asks again or gives up on this worker
            if message.get("done"):
                return bool(message.get("rehearse_next", True))
            statuses: dict[str, int | None] = {}
            for which in message.get("status", ()):
                child = children.get(which)
                if child is not None and not child.reaped:
                    statuses[which] = child.ending(not message.get("kill"))
                else:
                    statuses[which] = None
            say({"job": message.get("job"), "status": statuses})
    finally:
        for child in children.values():
            child.close(reap=False)  # reaped once the next are forked


def main() -> None:
    """Warm up, say ready, then fork children for the pool, one pair per job, until the pool
    is gone."""
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
        channel = socket.socket(fileno=int(os.environ[SOCKET_ENV]))
        _WORKER_ENDS.add(channel.fileno())
        _warm()
    except Exception as exc:  # a broken install: said to the pool, which reports it
        say({"error": f"{type(exc).__name__}: {exc}"})
        return
    gc.freeze()  # what the gc would touch in each fork, and so copy, it now leaves alone
    say({"ready": os.getpid(), "vm_mb": vm_size_mb(), "threads": _threads()})
    rehearse: bool | None = True
    while rehearse is not None:
        try:
            children = _hand_over(channel, rehearse)
        except OSError:
            return  # the pool closed the socket: it is gone
        reap_ended()
        rehearse = _serve_job(sys.stdin.buffer, children, say)
    reap_ended()


if __name__ == "__main__":
    main()
