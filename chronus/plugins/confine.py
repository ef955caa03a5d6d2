"""OS limits for the child that runs a plugin's code: memory, CPU, processes (Linux).

Applied in the forked child before the plugin is imported, never in a process that plays;
those that do not depend on the job (`seal`: core, processes) as soon as the child is forked,
off the validation's clock, those of the job (`limit`: memory, CPU) when its request comes:

- `RLIMIT_AS`: the child's address space may grow by `memory_mb` beyond what it had at the
  fork. A warm worker already maps some 300–400 MB (numpy, numba's LLVM, chronus.dsp: see
  the `vm_mb` a worker reports) without using it, so a plain 512 MB cap would leave the
  module nothing; "baseline + memory_mb" gives every module the same room, and an
  allocation past it raises `MemoryError` (the check reports `memory`).
- `RLIMIT_CPU`: CPU seconds, a backstop behind the parent's wall-clock timeout (SIGXCPU).
- `RLIMIT_CORE` 0: a crash leaves no core file.
- No new processes: `RLIMIT_NPROC` 1 (only enforced for an unprivileged user: root, and a
  process with CAP_SYS_RESOURCE, pass it), and a seccomp filter that fails `fork`, `vfork`,
  `clone` without `CLONE_THREAD`, and `execve`/`execveat` with EPERM, and `clone3` with
  ENOSYS (so the C library falls back to `clone` for threads, which stay allowed). The
  filter works for root too; a fork bomb gets an `OSError` on its first fork.
- No reach into other processes: the same filter fails with EPERM a signal to any process
  but this one (`kill`, `tkill`, `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo`;
  `pidfd_send_signal` always), and `ptrace`, `process_vm_readv`/`writev`, `pidfd_getfd` and
  `process_madvise`. A module cannot kill the worker that forked it, nor the engine; it
  may still end itself (`os.abort`, a signal to its own pid), which is its crash.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import math
import os
import platform
import resource
from pathlib import Path

from chronus.engine.lifecycle import libc

__all__ = ["forbid_processes", "limit", "prepare", "seal", "status_mb", "vm_size_mb"]

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16
"""Offsets in `struct seccomp_data`: the syscall number, the audit arch, args[0]'s low word
(a pid is an `int`: its low word is all of it)."""

_SYSCALLS: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        {"clone": 56, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "clone3": 435,
         "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
         "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424, "ptrace": 101,
         "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
         "process_madvise": 440},
    ),
    "aarch64": (
        0xC00000B7,
        {"clone": 220, "execve": 221, "execveat": 281, "clone3": 435, "kill": 129,
         "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
         "pidfd_send_signal": 424, "ptrace": 117, "process_vm_readv": 270,
         "process_vm_writev": 271, "pidfd_getfd": 438, "process_madvise": 440},
    ),
}  # fmt: skip
"""Audit arch and syscall numbers of the machines the filter knows."""

_DENIED = ("fork", "vfork", "execve", "execveat", "pidfd_send_signal", "ptrace",
           "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise")  # fmt: skip
"""Failed with EPERM whatever their arguments."""
_TO_SELF_ONLY = ("tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
"""Signals allowed only to this process (args[0], a pid or thread group id, is its own)."""


class _Insn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def _program(arch: int, nr: dict[str, int], pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program for process `pid`: (code, jt, jf, k), jumps counted from the next
    instruction."""
    deny = _RET_ERRNO | errno.EPERM
    blocked = [nr[name] for name in _DENIED if name in nr]
    body: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, deny),  # another ABI (e.g. 32-bit calls on x86_64)
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if arch == _SYSCALLS["x86_64"][0]:
        body += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, deny)]
    for number in blocked:
        body += [(_JEQ, 0, 1, number), (_RET, 0, 0, deny)]
    for number in (nr[name] for name in _TO_SELF_ONLY):
        body += [(_JEQ, 0, 4, number), (_LD_W_ABS, 0, 0, _ARG0), (_JEQ, 0, 1, pid),
                 (_RET, 0, 0, _RET_ALLOW), (_RET, 0, 0, deny)]  # fmt: skip
    # kill() also takes 0 and -pid: this process's group, which is this process alone
    body += [(_JEQ, 0, 6, nr["kill"]), (_LD_W_ABS, 0, 0, _ARG0), (_JEQ, 2, 0, pid),
             (_JEQ, 1, 0, 0), (_JEQ, 0, 1, -pid & 0xFFFFFFFF), (_RET, 0, 0, _RET_ALLOW),
             (_RET, 0, 0, deny)]  # fmt: skip
    body += [
        (_JEQ, 0, 1, nr["clone3"]),
        (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS),
        (_JEQ, 0, 3, nr["clone"]),
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JSET, 1, 0, _CLONE_THREAD),
        (_RET, 0, 0, deny),
        (_RET, 0, 0, _RET_ALLOW),
    ]
    return body


@functools.cache
def _filter(pid: int) -> tuple[_Prog, ctypes.Array[_Insn]] | None:
    """The filter for process `pid` on this machine, built once per pid (a spare builds its
    own while it waits, off a validation's clock)."""
    known = _SYSCALLS.get(platform.machine())
    if known is None:
        return None
    code = _program(*known, pid)
    insns = (_Insn * len(code))(*[_Insn(*i) for i in code])
    return _Prog(len(code), insns), insns


def forbid_processes() -> bool:
    """Install the seccomp filter that stops this process from starting processes (threads
    stay allowed) and from reaching into others (signals, ptrace); whether it is in place
    (False on an unknown machine or kernel)."""
    built = _filter(os.getpid())
    if built is None:
        return False
    try:
        c = libc()
        if c.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return bool(
            c.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(built[0]), 0, 0) == 0
        )
    except (OSError, AttributeError):
        return False


def prepare() -> None:
    """Do once, in the warm worker, what `seal` would otherwise do in every child."""
    libc()
    _filter(os.getpid())  # the code that builds a filter, loaded (its forks build their own)


def status_mb(field: str) -> float:
    """A size from this process's /proc/self/status (`VmSize`, `VmHWM`…) in MB; 0 where
    there is no such figure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def vm_size_mb() -> float:
    """This process's address space (VmSize) in MB."""
    return status_mb("VmSize")


def _limit(which: int, value: int) -> bool:
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        return False
    return True


def seal() -> dict[str, bool]:
    """The limits that do not depend on a job: no core file, no new processes, no signal to
    another process (`RLIMIT_CORE`, `RLIMIT_NPROC`, the seccomp filter); which took. A
    spare applies them before it says it is ready: installing the filter costs 0.3–2 ms in
    a fresh fork, which a validation would otherwise wait for."""
    applied = {
        "core": _limit(resource.RLIMIT_CORE, 0),
        "nproc": _limit(resource.RLIMIT_NPROC, 1),
    }
    applied["seccomp"] = forbid_processes()
    return applied


def limit(
    memory_mb: float, cpu_seconds: float, baseline_mb: float | None = None
) -> dict[str, bool]:
    """The limits of one job: the address space may grow by `memory_mb` beyond `baseline_mb`
    (this process's now, measured if not given: a worker measures it once, its forks have
    the same), and `cpu_seconds` of CPU in all; which took."""
    baseline = vm_size_mb() if baseline_mb is None else baseline_mb
    room = int((baseline + memory_mb) * 1024 * 1024)
    cpu = math.ceil(cpu_seconds)
    applied = {"as": _limit(resource.RLIMIT_AS, room), "cpu": False}
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        applied["cpu"] = True
    except (ValueError, OSError):
        pass
    return applied
