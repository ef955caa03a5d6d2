"""Atomic compare-and-swap on shared int64 words, and futex waits on them.

The isolated host's ring is written by three processes (two slots and the host), and the
outcome of each block must be decided once: whoever changes an entry's word first wins, the
others see its choice. An aligned 8-byte store is atomic on x86-64 and arm64, but a decision
needs compare-and-swap, which Python lacks: `cas` is LLVM's `cmpxchg` (sequentially
consistent, so it also orders the stores before it), compiled by numba.

`Futex` waits on (and wakes) the low 32 bits of such a word through the `futex` system call,
shared between processes (not `FUTEX_PRIVATE`): a waiter sleeps until the word changes or a
timeout passes, without a named semaphore to hand around. `FutexSet` waits on several such
words at once (`futex_waitv`, Linux 5.16): a plugin host serving the rings of a group sleeps
until any of their doorbells rings.
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Callable
from typing import Any, Final, cast

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["Futex", "FutexSet", "cas"]


@intrinsic
def _cmpxchg(typingctx: Any, array: Any, index: Any, expected: Any, desired: Any) -> Any:
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None
    signature = types.int64(array, types.intp, types.int64, types.int64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, array_type, view, [args[1]]
        )
        pair = builder.cmpxchg(pointer, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return signature, codegen


_swap = cast(Callable[[npt.NDArray[np.int64], int, int, int], int], _cmpxchg)


@numba.njit(cache=True)
def _cas(array: npt.NDArray[np.int64], index: int, expected: int, desired: int) -> int:
    return _swap(array, index, expected, desired)


def cas(array: npt.NDArray[np.int64], index: int, expected: int, desired: int) -> bool:
    """Set `array[index]` to `desired` if it holds `expected`, atomically; whether it did."""
    return bool(_cas(array, int(index), expected, desired) == expected)


_SYS_FUTEX: Final = {"x86_64": 202, "aarch64": 98}.get(platform.machine(), -1)
_FUTEX_WAIT: Final = 0
_FUTEX_WAKE: Final = 1
_WAKE_ALL: Final = 0x7FFFFFFF
_SYS_FUTEX_WAITV: Final = {"x86_64": 449, "aarch64": 449}.get(platform.machine(), -1)
_FUTEX2_SIZE_U32: Final = 0x02
_CLOCK_MONOTONIC: Final = 1
_ENOSYS: Final = 38


def _libc_syscall() -> Any:
    """libc's `syscall`, errno kept; None where there is no libc to call."""
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    return syscall


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Futex:
    """Waits and wakes on words of one int64 array (in shared memory), by index.

    Made once per process and array: the addresses and the timeout structure are prepared
    here, so a wait or a wake allocates no array. Where there is no futex (not Linux), a wait
    sleeps for a tenth of its timeout and a wake does nothing: slower, still correct, since
    every waiter checks the word again after it wakes.
    """

    def __init__(self, words: npt.NDArray[np.int64]) -> None:
        self._base = int(words.ctypes.data)
        self._stride = int(words.strides[0])
        self._timeout = _Timespec(0, 0)
        self._timeout_ref = ctypes.byref(self._timeout)
        self._syscall: Any = _libc_syscall() if _SYS_FUTEX >= 0 else None

    def wait(self, index: int, expected: int, timeout_s: float) -> None:
        """Sleep while the low 32 bits of word `index` equal those of `expected`, at most
        `timeout_s`; may return early (a signal, a wake for another change)."""
        if self._syscall is None:
            time.sleep(timeout_s / 10)
            return
        whole = int(timeout_s * 1e9)
        self._timeout.tv_sec = whole // 1_000_000_000
        self._timeout.tv_nsec = whole % 1_000_000_000
        low = ctypes.c_int32(expected & 0xFFFFFFFF).value
        address = ctypes.c_void_p(self._base + index * self._stride)
        self._syscall(_SYS_FUTEX, address, _FUTEX_WAIT, low, self._timeout_ref, None, 0)

    def wake(self, index: int) -> None:
        """Wake every process waiting on word `index`."""
        if self._syscall is not None:
            address = ctypes.c_void_p(self._base + index * self._stride)
            self._syscall(_SYS_FUTEX, address, _FUTEX_WAKE, _WAKE_ALL, None, None, 0)


class _Waiter(ctypes.Structure):
    _fields_ = [
        ("val", ctypes.c_uint64),
        ("uaddr", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class _Timespec64(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_int64)]


class FutexSet:
    """Waits until any of several words (each an int64 in shared memory) changes.

    `words` are (array, index) pairs, fixed for the set's life: make a new set when they
    change. The waiters are prepared here, so a wait allocates no array. Where the kernel has
    no `futex_waitv`, a wait on one word is a `Futex` wait, and on several it sleeps on the
    first for at most `fallback_s` (then every word is looked at again): slower to wake for
    the others, still correct.
    """

    def __init__(
        self, words: list[tuple[npt.NDArray[np.int64], int]], fallback_s: float = 0.0005
    ) -> None:
        self.count = len(words)
        self.fallback_s = fallback_s
        self._waiters = (_Waiter * max(1, self.count))()
        for slot, (array, index) in zip(self._waiters, words, strict=False):
            slot.uaddr = int(array.ctypes.data) + int(index) * int(array.strides[0])
            slot.flags = _FUTEX2_SIZE_U32
        self._deadline = _Timespec64(0, 0)
        self._deadline_ref = ctypes.byref(self._deadline)
        self._first = Futex(words[0][0]) if words else None
        self._first_index = int(words[0][1]) if words else 0
        self._syscall = _libc_syscall() if _SYS_FUTEX_WAITV >= 0 else None
        if self._syscall is not None:
            self._syscall(_SYS_FUTEX_WAITV, None, 0, 0, None, 0)  # EINVAL if it exists
            if ctypes.get_errno() == _ENOSYS:
                self._syscall = None

    @property
    def native(self) -> bool:
        """Whether the kernel waits on all the words at once."""
        return self._syscall is not None

    def wait(self, expected: list[int], timeout_s: float) -> None:
        """Sleep while the low 32 bits of every word equal those of its `expected`, at most
        `timeout_s`; may return early (a signal, a wake for another change)."""
        if self.count == 0:
            time.sleep(timeout_s)
            return
        if self._syscall is None or self.count == 1:
            assert self._first is not None
            alone = self.count == 1
            wait_s = timeout_s if alone else min(timeout_s, self.fallback_s)
            self._first.wait(self._first_index, expected[0], wait_s)
            return
        for slot, value in zip(self._waiters, expected, strict=False):
            slot.val = value & 0xFFFFFFFF
        until = time.monotonic_ns() + int(timeout_s * 1e9)
        self._deadline.tv_sec = until // 1_000_000_000
        self._deadline.tv_nsec = until % 1_000_000_000
        self._syscall(
            _SYS_FUTEX_WAITV, self._waiters, self.count, 0, self._deadline_ref, _CLOCK_MONOTONIC
        )
