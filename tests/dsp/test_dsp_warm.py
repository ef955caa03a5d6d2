"""Nothing compiles in a block: after `Renderer.warm_up`, a session that sounds, sleeps,
wakes, pans and runs every module type's every path compiles no numba kernel (a kernel
compiled in the render path takes a slot ~150 ms: the watchdog would take it for hung)."""

from __future__ import annotations

import subprocess
import sys

SESSION = """
import numpy as np
import chronus.dsp as dsp_package
import importlib, pkgutil
from numba.core.registry import CPUDispatcher
from chronus.dsp.render import Renderer
from chronus.dsp.specs import MODULATOR_TYPES, PROCESSOR_TYPES, module_types
from chronus.protocol import validate

def dispatchers():
    found = {}
    for info in pkgutil.iter_modules(dsp_package.__path__):
        module = importlib.import_module(f"chronus.dsp.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher):
                found[f"{info.name}.{name}"] = value
    return found

renderer = Renderer(48000, 128)
assert renderer.warm_up() == []
before = {name: len(d.signatures) for name, d in dispatchers().items()}

def at(sample, address, *args):
    renderer.schedule(sample, validate(address, args))

sources, processors = [], []
for i, kind in enumerate(module_types()):
    mid = f"m{i}"
    at(0, "/patch/create", mid, kind)
    if kind in MODULATOR_TYPES:
        continue
    (processors if kind in PROCESSOR_TYPES else sources).append(mid)
for i, src in enumerate(sources):
    dst = processors[i % len(processors)]
    at(0, "/patch/connect", src, dst)
    at(0, "/patch/connect", src, "master")
for i, proc in enumerate(processors):
    at(0, "/patch/connect", proc, "master")
    if i + 1 < len(processors):
        at(0, "/patch/connect", proc, processors[i + 1])
at(0, "/patch/modulate", f"m{module_types().index('lfo')}", sources[0], "cutoff")
delay, reverb = (f"m{module_types().index(kind)}" for kind in ("delay", "reverb"))
at(0, f"/mod/{delay}/time", 50)
at(0, f"/mod/{delay}/feedback", 0.2)
at(0, f"/mod/{reverb}/room", 0.1)
for j in range(3):
    t = 1000 + 200000 * j
    for src in sources:
        at(t, f"/note/{src}", 48 + j, 100, 0.05)
    at(t + 5000, f"/mod/{sources[1]}/pan", 0.5 * (j - 1))
    at(t + 7000, f"/patch/disconnect", sources[2], "master")
    at(t + 9000, f"/patch/connect", sources[2], "master")
out = np.zeros((128, 2), dtype=np.float32)
slept = set()
for _ in range(650000 // 128):
    renderer.render(out, 128)
    slept |= {node.module_id for node in renderer.graph._routing.order if node.asleep}
after = {name: len(d.signatures) for name, d in dispatchers().items()}
grown = {
    name: (before.get(name, 0), count)
    for name, count in after.items()
    if count != before.get(name, 0)
}
assert renderer.error_count == 0, list(renderer.errors)
assert not grown, f"compiled in the render path: {grown}"
assert len(slept) >= len(sources) + len(processors) - 1, sorted(slept)  # all but the lfo's
assert {delay, reverb} <= slept, sorted(slept)
print("ok", len(after), "kernels,", len(slept), "modules slept")
"""


def test_no_kernel_compiles_after_warm_up() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SESSION], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok"), result.stdout
