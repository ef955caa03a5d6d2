"""Render a LADSPA plugin over a fixed input and save the samples: run by the tests in this
process and in a second one (`python -m tests.plugins.ladspa.render_ladspa LIB LABEL OUT`),
whose outputs must be equal bit for bit. `… LIB crash [N]` runs the crashing test
plugin until it crashes, after N blocks (default: its port's default)."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Processor
from chronus.plugins.ladspa.module import load_ladspa_type

BLOCK = 128
BLOCKS = 200
SETTINGS = {"tap_reverb": {"decay": 1800.0, "wet_level": -3.0, "reverb_type": 5.0},
            "plate": {"reverb_time": 4.0, "damping": 0.3, "dry_wet_mix": 0.5}}  # fmt: skip


def chirp_input(blocks: int = BLOCKS) -> npt.NDArray[np.float64]:
    """A chirp on the left, seeded noise on the right, silence in the last quarter (tails)."""
    frames = blocks * BLOCK
    t = np.arange(frames) / 48000.0
    signal = np.zeros((frames, 2))
    signal[:, 0] = 0.5 * np.sin(2 * np.pi * (100.0 + 900.0 * t) * t)
    signal[:, 1] = 0.2 * np.random.default_rng(7).standard_normal(frames)
    signal[frames * 3 // 4 :] = 0.0
    return signal


def render(library: str, label: str, blocks: int = BLOCKS) -> npt.NDArray[np.float64]:
    """The plugin's output over `chirp_input`, in blocks of `BLOCK` frames (one short one)."""
    module = load_ladspa_type(library, label)(48000, BLOCK)
    assert isinstance(module, Processor)
    for name, value in SETTINGS.get(label, {}).items():
        module.set_param(name, value)
    signal = chirp_input(blocks)
    out = np.zeros_like(signal)
    inp, block_out = np.zeros((BLOCK, 2)), np.zeros((BLOCK, 2))
    start = 0
    for k in range(blocks + 1):
        n = min(BLOCK if k != 3 else 37, len(signal) - start)
        if n <= 0:
            break
        inp[:n] = signal[start : start + n]
        module.process_stereo(inp, block_out, n)
        out[start : start + n] = block_out[:n]
        start += n
    return out


def until_it_crashes(library: str, label: str, blocks: int | None) -> None:
    """Run the test plugin `label` (`crash`, `crash_later`) set to crash after `blocks`
    blocks (None: its default), saying each block rendered on stdout: the process dies in
    the block after the last one said."""
    module = load_ladspa_type(library, label)(48000, BLOCK)
    assert isinstance(module, Processor)
    if blocks is not None:
        module.set_param("blocks", float(blocks))
    inp, out = np.zeros((BLOCK, 2)), np.zeros((BLOCK, 2))
    for k in range(int(module.param("blocks")) + 10):
        module.process_stereo(inp, out, BLOCK)
        print(k, flush=True)


if __name__ == "__main__":
    if sys.argv[2].startswith("crash"):
        until_it_crashes(sys.argv[1], sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else None)
    else:
        np.save(sys.argv[3], render(sys.argv[1], sys.argv[2]))
