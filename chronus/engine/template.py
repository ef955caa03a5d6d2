"""The template: one warm process that the engine's other processes are forked from.

Starting a process by `spawn` costs a fresh interpreter that imports numpy and numba and loads
every DSP kernel from numba's cache (about 0.5 s of CPU each, and on a first run every process
compiled every kernel itself). The template does that once; a slot, the spare, the audio I/O
and the CPU stampers are then forks of it (about 2 ms), warm from birth and running exactly
the code the template imported. On a first run the kernels compile once, in the template,
which logs its progress.

A fork of the template would be the template's child, and would die with it (a child holds
`die_with_parent`). So the template forks twice: the middle process exits at once, the
kernel hands the grandchild to the nearest subreaper above, the supervisor (which made itself
one), and only then does the grandchild take its lifeline to the supervisor and run. Every
engine process is thus the supervisor's own child, as if spawned: it dies with the
supervisor, its exit status is the supervisor's to read, and a template that dies takes
nothing with it.

The template imports no audio library: PortAudio, once initialised, must not be forked, so
the audio I/O imports it after its fork. It holds no socket, thread or shared memory of the
supervisor: a job's objects (pipes, semaphores) are pickled as for a spawn, their file
descriptors passed with the job, and unpickled only in the new process.

Besides jobs, the template takes one other request: a plugin version to import and warm
(a message that starts with `PLUGIN_WORD`), so that every process forked after it has that
code from birth; it answers with what it found, as a slot does (`slot.prepare_plugin`).

This module is imported by the supervisor too, so it imports nothing heavy at the top.
"""

from __future__ import annotations

import array
import gc
import logging
import os
import pickle
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing import context, reduction
from typing import Any, Final

from chronus.engine.lifecycle import LOG_FORMAT, die_with_parent
from chronus.engine.titles import set_title

__all__ = ["MAX_FDS", "PLUGIN_WORD", "InheritedFd", "pickle_job", "template_main"]

MAX_FDS: Final = 16
"""The most file descriptors one job may pass (a slot passes one pipe)."""
MAX_MESSAGE: Final = 1 << 20
PROGRESS_EVERY_S: Final = 0.5
PLUGIN_WORD: Final = b"plugin\0"
"""The start of a request to import a plugin version (not a job: the template runs it)."""
ADOPTION_TIMEOUT_S: Final = 5.0
"""How long a new process waits to be handed to the supervisor before it gives up."""
EXIT_NOT_ADOPTED: Final = 75
"""The exit code of a new process that gave up waiting to be handed to the supervisor (or
was handed to another process): distinct from 1, the code of a job that raised."""

log = logging.getLogger("chronus.engine")

_inherited: list[int] = []
"""The file descriptors passed with the job being unpickled (in a new process)."""


class InheritedFd:
    """A file descriptor passed with a job, as multiprocessing's reducers pickle it."""

    def __init__(self, index: int) -> None:
        self.index = index

    def detach(self) -> int:
        """The descriptor, in the new process."""
        return _inherited[self.index]


class _Spawning:
    """What multiprocessing's reducers ask of a process being started while they pickle."""

    DupFd = InheritedFd

    def __init__(self) -> None:
        self.fds: list[int] = []

    def duplicate_for_child(self, fd: int) -> int:
        self.fds.append(fd)
        return len(self.fds) - 1


def pickle_job(target: Callable[..., object], args: tuple[Any, ...]) -> tuple[bytes, list[int]]:
    """`target(*args)` as bytes and the file descriptors to send with them.

    Pipes, sockets and semaphores pickle as they would for a spawned process.
    """
    spawning: Any = _Spawning()
    context.set_spawning_popen(spawning)
    try:
        data = bytes(reduction.ForkingPickler.dumps((target, args)))
    finally:
        context.set_spawning_popen(None)
    if len(spawning.fds) > MAX_FDS:
        raise ValueError(f"a job may pass at most {MAX_FDS} file descriptors")
    return data, list(spawning.fds)


def send_message(sock: socket.socket, data: bytes, fds: list[int] | None = None) -> None:
    """One datagram, with file descriptors attached if any."""
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        sock.send(data)


def receive_message(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One datagram and the file descriptors that came with it; b"" at the end."""
    data, ancillary, _, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(MAX_FDS * 4))
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
    return data, fds


def template_main(sock: socket.socket, supervisor: int, rate: int, block: int) -> None:
    """The template's life: warm up, say so, then fork a process for each job until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_title("template")
    die_with_parent()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    began = time.perf_counter()
    try:
        compiled = _warm(rate, block)
    except Exception as exc:  # told to the supervisor, which cannot start without us
        _tell(sock, ("error", f"{type(exc).__name__}: {exc}"))
        return
    warm_ms = (time.perf_counter() - began) * 1000.0
    gc.collect()
    gc.freeze()  # the forks share these pages; a collection would copy them all
    if not _tell(sock, ("ready", compiled, warm_ms)):
        return
    while True:
        try:
            data, fds = receive_message(sock)
        except OSError:
            return
        if not data:
            return
        if data.startswith(PLUGIN_WORD):
            if not _tell(sock, _import_plugin(data, rate, block)):
                return
            continue
        reply: tuple[str, int | str]
        try:
            reply = ("forked", _fork(sock, data, fds, supervisor))
        except OSError as exc:
            reply = ("failed", str(exc))
        finally:
            for fd in fds:
                os.close(fd)
        if not _tell(sock, reply):
            return


def _tell(sock: socket.socket, word: tuple[object, ...]) -> bool:
    """Send the supervisor a word; False if it no longer listens (then the template ends)."""
    try:
        send_message(sock, pickle.dumps(word))
    except OSError:
        return False
    return True


def _import_plugin(data: bytes, rate: int, block: int) -> tuple[object, ...]:
    """Import and warm a plugin version, so that every later fork has it; the reply."""
    from chronus.engine.slot import prepare_plugin

    request = pickle.loads(data[len(PLUGIN_WORD) :])
    reply = prepare_plugin(request, rate, block)
    gc.collect()
    gc.freeze()  # the forks share these pages too
    return reply


def _warm(rate: int, block: int) -> int:
    """Import what every engine process runs and load every kernel; how many compiled.

    The code fingerprint is taken here, once: the forks report it as theirs.
    """
    import numpy as np

    from chronus.dsp.compiling import compile_in_two, watch_compiles
    from chronus.dsp.kernels import exceeds
    from chronus.dsp.render import Renderer
    from chronus.engine import audio_io, cpu_watch, slot  # noqa: F401 (the forks' code)
    from chronus.engine.lifecycle import code_fingerprint
    from chronus.plugins.loader import load_user_modules

    names = load_user_modules()
    started = time.perf_counter()
    shown = [0.0]

    def progress(done: int, total: int, name: str) -> None:
        now = time.perf_counter()
        if done == 1 or now - shown[0] >= PROGRESS_EVERY_S:
            shown[0] = now
            log.info("compiling DSP kernels (first run) … %d/%d (%s)", done, total, name)

    with watch_compiles(progress) as watch:
        compile_in_two(rate, block, watch)  # a first run: two processes compile at once
        Renderer(rate, block).warm_up()  # a fork's own warm-up reports any errors
        exceeds(np.zeros((block, 2), dtype=np.float32), slot.SILENCE)
    if watch.compiled:
        log.info(
            "compiled %d DSP kernels in %.1f s; later starts load them from numba's cache",
            watch.compiled,
            time.perf_counter() - started,
        )
    code_fingerprint(names)
    return int(watch.compiled)


def _fork(sock: socket.socket, data: bytes, fds: list[int], supervisor: int) -> int:
    """Fork the job's process by way of a middle one (see the module); its pid."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        code = 1
        try:
            os.close(read)
            me = os.getpid()
            child = os.fork()
            if child == 0:
                os.close(write)
                _run(sock, data, fds, supervisor, me)
            os.write(write, struct.pack("q", child))
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    try:
        os.waitpid(middle, 0)  # once reaped, the grandchild is the supervisor's
        raw = os.read(read, 8)
    finally:
        os.close(read)
    if len(raw) != 8:
        raise OSError("the template could not fork")
    return int(struct.unpack("q", raw)[0])


def _run(sock: socket.socket, data: bytes, fds: list[int], supervisor: int, middle: int) -> None:
    """A new process: wait to be the supervisor's, unpickle the job, run it, exit."""
    code = 1
    try:
        sock.close()
        code = EXIT_NOT_ADOPTED
        deadline = time.monotonic() + ADOPTION_TIMEOUT_S
        while (parent := os.getppid()) != supervisor:
            if parent != middle or time.monotonic() > deadline:
                return  # adopted by another: the supervisor is gone (or no subreaper)
            time.sleep(0.0002)
        die_with_parent()
        if os.getppid() != supervisor:
            return  # it died between the two looks
        code = 1
        _inherited[:] = fds
        target, args = pickle.loads(data)
        target(*args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
