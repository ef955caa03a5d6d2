"""Which numba kernels keep reference counting inside a loop.

    python benchmarks/kernel_loops.py

numba counts references to arrays with atomic increments and decrements (`NRT_incref`,
`NRT_decref`) and usually prunes them out of loops. Sometimes it does not: `strip_stereo`
called a helper with two arrays per sample and paid two atomic pairs a sample, 9× the cost
of `strip_mono`. This warms every kernel up, compiles each one again (numba shows no
assembly for cached code) for the signatures it was used with, and lists the calls to
`NRT_incref`/`NRT_decref` that sit between a backward jump and its target in the kernel's
own function (not its Python wrapper), a shared exit block aside. Exits 1 if there is any,
but in `PER_NOTE`'s kernels, whose loop is over a block's notes.

Not part of the test suite (it compiles every kernel: ~half a minute).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

import numba

MODULES = (
    "chronus.dsp.kernels", "chronus.dsp.filter_kernels", "chronus.dsp.effect_kernels",
    "chronus.dsp.strips", "chronus.dsp.graph", "chronus.dsp.drums", "chronus.dsp.idle",
)  # fmt: skip
PER_NOTE = frozenset({"synth_block_ahead", "acid_block_ahead", "acid_mono_ahead"})
"""Kernels whose loop runs over the notes waiting inside a block (one piece of the block a
note, each a slice: a reference count a note), not over its samples: listed, not counted."""
LABEL = re.compile(r"^(\.LBB\d+_\d+):")
JUMP = re.compile(r"^\s+j\w+\s+(\.LBB\d+_\d+)")


def refcounts_in_loops(asm: str) -> int:
    """Reference-count calls inside loops of the first (the kernel's own) function."""
    lines = asm.splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith(",@function")]
    own = [i for i in starts if "cpython" not in lines[i] and "cfunc" not in lines[i]]
    if not own:
        return 0
    end = min([i for i in starts if i > own[0]] + [len(lines)])
    body = lines[own[0] : end]
    labels = {m.group(1): i for i, line in enumerate(body) if (m := LABEL.match(line))}
    loops = [  # a backward jump, unless to a shared exit (a return between them)
        (labels[m.group(1)], i)
        for i, line in enumerate(body)
        if (m := JUMP.match(line))
        and labels.get(m.group(1), i) < i
        and not any("ret" in body[j] for j in range(labels[m.group(1)], i))
    ]
    return sum(
        1
        for i, line in enumerate(body)
        if ("NRT_incref" in line or "NRT_decref" in line) and any(a <= i <= b for a, b in loops)
    )


def main() -> int:
    from chronus.dsp.render import Renderer

    Renderer(48000, 128).warm_up()
    Renderer(48000, 512).warm_up()
    found = 0
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, kernel in sorted(vars(module).items()):
            if not isinstance(kernel, numba.core.registry.CPUDispatcher):
                continue
            if kernel.py_func.__module__ != module_name or not kernel.signatures:
                continue
            options: dict[str, Any] = {
                k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")
            }
            fresh = numba.njit(**options)(kernel.py_func)
            for signature in kernel.signatures:
                fresh.compile(signature)
                count = refcounts_in_loops(fresh.inspect_asm(signature))
                if name in PER_NOTE:
                    mark = "  (in its loop over notes, not samples)" if count else ""
                else:
                    found += count
                    mark = "  <-- reference counting in a loop" if count else ""
                print(f"{module_name.rsplit('.', 1)[1]}.{name}: {count}{mark}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
