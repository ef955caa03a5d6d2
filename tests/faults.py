"""Modules that misbehave on purpose, loaded into a test engine through CHRONUS_MODULES.

Each is a processor that passes its input through until its `armed` parameter is set, and
then raises, returns NaN, crashes the process (a NULL dereference through ctypes), loops
forever, or stops its process (SIGSTOP, as a host holds a slot up). Unarmed, they survive a
slot's warm-up like any module. `fault_heavy`, armed, is honest but slow: it spins for
`HEAVY_SHARE` of each block's period, as a patch near the machine's limit would;
`fault_overload` spins for `OVERLOAD_SHARE` of it, as a patch too big for the machine.

`fault_stop` stops only the first active slot to get there: it takes a token, a file created
at the path in CHRONUS_FAULT_TOKEN, and any process that finds the token passes its input on.
A standby that covers for a late active renders the block first (under load it does); it
passes its input on, so that the active, not the standby, is the one held up.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import setproctitle

from chronus.dsp.catalog import register
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs

FAULTS = ("raise", "nan", "segfault", "hang", "stop", "heavy", "overload")
HEAVY_SHARE = 0.9
OVERLOAD_SHARE = 2.0


class _Fault(Processor):
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = (
        *mix_specs(0.0),
        ParamSpec("armed", 0.0, 0.0, 1.0, "", 0.0, "misbehave from now on"),
    )
    KIND: ClassVar[str] = ""

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        out[:n] = inp[:n]
        if self.param("armed") < 0.5:
            return
        if self.KIND == "raise":
            raise RuntimeError("fault_raise misbehaves as asked")
        if self.KIND == "nan":
            out[:n] = np.nan
        elif self.KIND == "segfault":
            ctypes.string_at(0)
        elif self.KIND == "hang":
            while True:
                pass
        elif self.KIND == "stop" and _in_the_active_slot() and _take_token():
            os.kill(os.getpid(), signal.SIGSTOP)
        elif self.KIND in ("heavy", "overload"):
            share = HEAVY_SHARE if self.KIND == "heavy" else OVERLOAD_SHARE
            until = time.perf_counter() + share * n / self.sample_rate
            while time.perf_counter() < until:
                pass


def _in_the_active_slot() -> bool:
    """Whether this process is the active slot, as its title says (`titles.slot_title`)."""
    return "(active)" in setproctitle.getproctitle()


def _take_token() -> bool:
    """Whether this process is the first to get here (see the module's docstring)."""
    try:
        os.close(os.open(os.environ["CHRONUS_FAULT_TOKEN"], os.O_CREAT | os.O_EXCL))
    except (KeyError, OSError):
        return False
    return True


for _kind in FAULTS:
    register(type(f"Fault{_kind.title()}", (_Fault,), {"TYPE": f"fault_{_kind}", "KIND": _kind}))
