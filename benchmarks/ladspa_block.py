"""What running a LADSPA plugin as a chronus module costs a block, beside the plugin's own work.

    python benchmarks/ladspa_block.py [--sweeps 400] [--blocks 50] [--json]

For each plugin (SWH's amp, a mono effect run as one instance per channel; TAP's reverb and
SWH's plate, stereo; CMT's bf2quad, four ports in and out), a module is made and warmed on a
noise input, then each sweep times `--blocks` blocks of 128 frames two ways, in alternating
order: through `process_stereo` (float64 in, copied to float32, `run`, copied out) and the
bare `run` calls alone (the same instances, through ctypes). The median over the sweeps of
each, per block, and their difference: what chronus adds per block (the copies, the calls
from Python), in µs and as a share of a 128-frame block at 48 kHz (2667 µs).

Needs swh-plugins, tap-plugins and cmt in /usr/lib/ladspa. Timings on a shared machine are
noisy: medians of alternated runs only; measure again on a quiet machine for the record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.dsp.module import Processor
from chronus.plugins.ladspa.module import load_ladspa_type

RATE, BLOCK = 48000, 128
PERIOD_US = 1e6 * BLOCK / RATE
PLUGINS = (
    ("amp", "/usr/lib/ladspa/amp_1181.so", "amp"),
    ("tap_reverb", "/usr/lib/ladspa/tap_reverb.so", "tap_reverb"),
    ("plate", "/usr/lib/ladspa/plate_1423.so", "plate"),
    ("bf2quad", "/usr/lib/ladspa/cmt.so", "bf2quad"),
)


def measure(path: str, label: str, sweeps: int, blocks: int) -> tuple[float, float]:
    """Median µs per block through `process_stereo`, and through the bare `run` calls."""
    module = load_ladspa_type(path, label)(RATE, BLOCK)
    assert isinstance(module, Processor)
    rack = module._rack  # type: ignore[attr-defined]
    run, handles = rack._run, list(rack._handles)
    inp = np.ascontiguousarray(np.random.default_rng(1).standard_normal((BLOCK, 2)) * 0.3)
    out = np.zeros((BLOCK, 2))
    for _ in range(200):
        module.process_stereo(inp, out, BLOCK)

    def wrapped() -> float:
        t0 = time.perf_counter()
        for _ in range(blocks):
            module.process_stereo(inp, out, BLOCK)
        return (time.perf_counter() - t0) / blocks * 1e6

    def bare() -> float:
        t0 = time.perf_counter()
        for _ in range(blocks):
            for handle in handles:
                run(handle, BLOCK)
        return (time.perf_counter() - t0) / blocks * 1e6

    full: list[float] = []
    native: list[float] = []
    for sweep in range(sweeps):
        if sweep % 2:
            full.append(wrapped())
            native.append(bare())
        else:
            native.append(bare())
            full.append(wrapped())
    return statistics.median(full), statistics.median(native)


def main() -> None:
    """Measure every plugin and print the table (and the figures with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=400)
    parser.add_argument("--blocks", type=int, default=50)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        print(f"{'plugin':<12} {'module µs':>10} {'run µs':>8} {'added µs':>9} {'of a block':>10}")
        for name, path, label in PLUGINS:
            full, native = measure(path, label, args.sweeps, args.blocks)
            added = full - native
            print(f"{name:<12} {full:>10.2f} {native:>8.2f} {added:>9.2f} "
                  f"{100 * added / PERIOD_US:>9.2f}%")  # fmt: skip
            figures[f"{name}_block_us"] = round(full, 2)
            figures[f"{name}_added_us"] = round(added, 2)


if __name__ == "__main__":
    main()
