"""The CPU a module's own code may use in a validation: numba compiling its kernels is not
counted.

A module's numba kernels compile on their first call. For the five of
`examples/modules/fold.py` that took 0.9 s of CPU on a quiet machine and 1.5–1.8 s on a busy
one (cache and memory bandwidth shared), against a time limit of 2 s. That is the
toolchain's work, done once (numba caches it), not the module's. So a validating child holds
the module to its limit in CPU time *outside* numba's compiler (`hold_to`): a CPU timer
(`ITIMER_PROF`) whose handler ends the process with `SIGXCPU`, the same ending as
`RLIMIT_CPU`, once the CPU used since the job began, less the compiling, reaches the limit.

`RLIMIT_CPU` stays, `COMPILE_ALLOWANCE_S` higher, as the backstop. It catches a loop inside
compiled code, where no Python handler runs, and compiling that never ends. The pool's
deadline on the clock moves on by a child's CPU beyond the time limit
(`chronus.plugins.answer.Deadline`), so that an honest compile does not run the clock out.
"""

from __future__ import annotations

import os
import signal
import time
from types import FrameType
from typing import Any, Final

__all__ = ["COMPILE_ALLOWANCE_S", "CompileClock", "hold_to", "let_go"]

COMPILE_ALLOWANCE_S: Final = 8.0
"""CPU seconds a validation's child may spend in numba's compiler beyond the module's time
limit (`RLIMIT_CPU` is set this much higher): several times what any example needs."""
_LEAST_STEP_S = 0.01
"""The shortest time the timer is set again for: a handler run costs a few µs."""


class CompileClock:
    """CPU seconds this process has spent in numba's compiler since `listen` (a compile that
    compiles its callees counted once). Plain, so that the pool imports this module without
    numba; `listen` registers it with numba."""

    def __init__(self) -> None:
        self._depth = 0
        self._began = 0.0
        self._spent = 0.0

    def listen(self) -> None:
        """Be told of every compile from now on."""
        from numba.core import event

        clock = self

        class _Told(event.Listener):
            def on_start(self, event: Any) -> None:
                clock.started()

            def on_end(self, event: Any) -> None:
                clock.ended()

        event.register("numba:compile", _Told())  # type: ignore[no-untyped-call]

    def started(self) -> None:
        """A compile began."""
        if self._depth == 0:
            self._began = time.process_time()
        self._depth += 1

    def ended(self) -> None:
        """A compile ended."""
        self._depth -= 1
        if self._depth == 0:
            self._spent += time.process_time() - self._began

    def spent(self) -> float:
        """The CPU spent compiling so far, a compile under way included."""
        ongoing = time.process_time() - self._began if self._depth else 0.0
        return self._spent + ongoing


def hold_to(time_limit: float) -> CompileClock:
    """From now on, end this process with `SIGXCPU` once it has used `time_limit` seconds of
    CPU outside numba's compiler; the clock that measures the compiling. For a validating
    child only: it takes the process's `SIGPROF` and its CPU timer."""
    clock = CompileClock()
    clock.listen()
    began = time.process_time()

    def check(signum: int, frame: FrameType | None) -> None:
        left = time_limit - (time.process_time() - began - clock.spent())
        if left > 0:
            signal.setitimer(signal.ITIMER_PROF, max(left, _LEAST_STEP_S))
            return
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGXCPU)

    signal.signal(signal.SIGPROF, check)
    signal.setitimer(signal.ITIMER_PROF, max(time_limit, _LEAST_STEP_S))
    return clock


def let_go() -> None:
    """Stop holding this process to a limit (the checks are over): the timer is stopped, so
    that it cannot end the process while it answers or exits (Python's exit sets the
    handler back to the default, which a late `SIGPROF` would end it with)."""
    signal.setitimer(signal.ITIMER_PROF, 0.0)
    signal.signal(signal.SIGPROF, signal.SIG_IGN)
