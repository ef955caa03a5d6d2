"""Compiler helpers for the kernels: an exact fused multiply-add, and forced inlining.

`fma` is LLVM's `llvm.fma.f64`: `a × b + c` rounded once, on every machine (a CPU without
FMA units computes it in software, with the same result). Writing it by hand, instead of
letting the compiler contract `a * b + c` where it likes, keeps a recursion's critical path
short where it matters and keeps its rounding the same wherever the kernel is compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

__all__ = ["fma", "inline"]

F = TypeVar("F", bound=Callable[..., Any])


def inline(fn: F) -> F:
    """`numba.njit` inlined into every kernel that calls it (per-sample helpers)."""
    return cast(F, numba.njit(cache=True, error_model="numpy", inline="always")(fn))


@intrinsic
def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        double = ir.DoubleType()
        fn_type = ir.FunctionType(double, [double, double, double])
        name = "llvm.fma.f64"
        fn = builder.module.globals.get(name) or ir.Function(builder.module, fn_type, name)
        return builder.call(fn, args)

    return signature, codegen


fma = cast(Callable[[float, float, float], float], _fma)
"""`a × b + c` with one rounding (callable from kernels only)."""
