"""Nothing of a ring compiles in a block: after `warm_stand_ins`, two slots' stand-ins
exchanging calls with a host (rendered, bypassed, split blocks, the second slot's check of the
first one's input) compile no numba kernel of the ring, the stand-in or the atomics.

A kernel first compiled inside a render overruns the guard's CPU limit there: the module is
suspended for good, bypassed, and the interrupted compile is never cached, so a fresh
checkout's engine did it again every time (the soak found `_to_fifo`, the collect of a
rendered call, compiled so)."""

from __future__ import annotations

import subprocess
import sys

SESSION = """
import numpy as np
from numba.core.registry import CPUDispatcher
import chronus.plugins.atomics as atomics
import chronus.plugins.host_ring as host_ring
import chronus.plugins.isolated as isolated
from chronus.dsp.catalog import MODULE_TYPES
from chronus.dsp.module import Processor
from chronus.plugins.host import HostServer
from chronus.plugins.host_ring import H, HostRing, RingShape, SlotLink

def dispatchers():
    return {
        f"{module.__name__}.{name}": value
        for module in (atomics, host_ring, isolated)
        for name, value in vars(module).items()
        if isinstance(value, CPUDispatcher)
    }

isolated.warm_stand_ins(48000, 128)
before = {name: len(d.signatures) for name, d in dispatchers().items()}
rng = np.random.default_rng(7)
for name in ("delay", "sine"):
    cls = MODULE_TYPES[name]
    ring = HostRing.private(RingShape(128, len(cls.PARAMS)))
    host = HostServer(ring, cls, 48000)
    host.start(1)
    slots = [isolated.isolated_type(cls)(48000, 128) for _ in "AB"]
    for stand_in in slots:
        stand_in.attach(SlotLink(ring, wait_s=0.0, settle_s=0.0))
    sizes = [128, 64, 128, 1, 128, 128, 128, 128, 37, 128, 128, 128]
    for k, n in enumerate(sizes):
        inp = rng.standard_normal((128, 2))
        for stand_in in slots:
            out = np.zeros((128, 2))
            if isinstance(stand_in, Processor):
                stand_in.process_stereo(inp, out, n)
            else:
                mono = np.zeros(128)
                stand_in.process(mono, n)
                out[:, 0] = mono
            if stand_in is slots[0] and k % 4 != 2:  # every fourth call left to be bypassed
                while host.step():
                    pass
    assert 0 < int(ring.header[H.BYPASSES]) < len(sizes) // 2, "some bypassed, most rendered"
    assert int(ring.header[H.DIFFERENT]) == 0, "both slots offered the same input"
after = {name: len(d.signatures) for name, d in dispatchers().items()}
grown = {name: (before[name], n) for name, n in after.items() if n != before[name]}
assert not grown, f"compiled in the render path: {grown}"
print("ok", len(after), "kernels")
"""


def test_no_ring_kernel_compiles_after_the_stand_ins_warm_up() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SESSION], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok"), result.stdout
