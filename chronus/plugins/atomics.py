"""Atomic compare-and-swap on shared int64 words, and futex waits on them.

The isolated host's ring is written by three processes (two slots and the host), and the
outcome of each block must be decided once: whoever changes an entry's word first wins, the
others see its choice. An aligned 8-byte store is atomic on x86-64 and arm64, but a decision
needs compare-and-swap, which Python lacks: `cas` is LLVM's `cmpxchg` (sequentially
consistent, so it also orders the stores before it), compiled by numba.

`Futex` waits on (and wakes) the low 32 bits of such a word through the `futex` system call,
shared between processes (not `FUTEX_PRIVATE`): a waiter sleeps until the word changes or a
timeout passes, without a named semaphore to hand around.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable
from typing import Any, Final, cast

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["Futex", "cas"]


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
        self._syscall: Any = None
        if _SYS_FUTEX >= 0 and os.name == "posix":
            try:
                libc = ctypes.CDLL("libc.so.6", use_errno=True)
            except OSError:
                libc = None
            if libc is not None:
                self._syscall = libc.syscall
                self._syscall.restype = ctypes.c_long

    def wait(self, index: int, expected: int, timeout_s: float) -> None:
        """Sleep while the low 32 bits of word `index` equal those of `expected`, at most
        `timeout_s`; may return early (a signal, a wake for another change)."""
        if self._syscall is None:
            import time

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
