"""crush: a bit-crusher for chronus — fewer bits, fewer samples, more grit.

Load it with `load module examples/modules/crush.py as crush`, then
`add a crush called lofi after drums`, `set lofi bits to 4` and `set lofi rate to 6000`.

Two old-sampler faults on purpose. Sample-rate reduction: the input is sampled `rate` times a
second and each sample held until the next (no anti-aliasing filter: the aliasing is the
sound); at the engine's rate or above (the default), every sample is taken. Bit reduction:
the held sample is rounded to a signed `bits`-bit integer, as a `bits`-bit converter would
store it (2^bits levels from −1 to just under +1; silence stays 0).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs
from chronus.dsp.smoothing import settled, smooth_step, smoothers

# The kernel's float array `p`:
CUR = 0  # the smoothed mix: current value, target, coefficient
PHASE = 3  # the sample-and-hold clock: a new sample is taken when it reaches 1
HELD = 4  # per channel (left, right): the sample being held
SIZE = 6


@numba.njit(cache=True)
def quantise(x: float, half: float) -> float:
    """`x` rounded to the nearest of the levels k / half, k from −half to half − 1."""
    k = math.floor(x * half + 0.5)
    k = min(max(k, -half), half - 1.0)
    return k / half


@numba.njit(cache=True)
def crush_stereo(
    inp: np.ndarray, out: np.ndarray, n: int, step: float, half: float, p: np.ndarray
) -> None:
    """Crush `n` stereo frames: hold a sample every 1/`step` samples, quantise it to
    `half` levels each side of zero, blend it with the dry input by the smoothed mix."""
    moving = not settled(p, CUR, 1)
    for i in range(n):
        if moving:
            smooth_step(p, CUR, 1)
        if p[PHASE] >= 1.0:
            p[PHASE] -= 1.0
            p[HELD] = inp[i, 0]
            p[HELD + 1] = inp[i, 1]
        p[PHASE] += step
        mix = p[CUR]
        for c in range(2):
            dry = inp[i, c]
            out[i, c] = dry * (1.0 - mix) + quantise(p[HELD + c], half) * mix


@numba.njit(cache=True)
def crush_mono(
    inp: np.ndarray, out: np.ndarray, n: int, step: float, half: float, p: np.ndarray
) -> None:
    """`crush_stereo` for a dual-mono input: one channel computed, both channels' state set."""
    moving = not settled(p, CUR, 1)
    for i in range(n):
        if moving:
            smooth_step(p, CUR, 1)
        if p[PHASE] >= 1.0:
            p[PHASE] -= 1.0
            p[HELD] = inp[i]
        p[PHASE] += step
        dry = inp[i]
        out[i] = dry * (1.0 - p[CUR]) + quantise(p[HELD], half) * p[CUR]
    p[HELD + 1] = p[HELD]


class Crush(Processor):
    """A bit-crusher: bits, a sample-and-hold rate and a dry/wet mix (smoothed)."""

    TYPE = "crush"
    PARAMS = (
        ParamSpec("bits", 8.0, 1.0, 16.0, "bits", 0.0, "resolution of each sample (rounded)"),
        ParamSpec("rate", 192000.0, 50.0, 192000.0, "hz", 0.0, "samples taken per second"),
        ParamSpec("mix", 1.0, 0.0, 1.0, "", 20.0, "0 dry, 1 only the crushed signal"),
        *mix_specs(0.0),
    )
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._p = np.zeros(SIZE)
        self._cur, self._tgt = smoothers(self._p, CUR, [20.0], self.sample_rate)
        self._clock = self._p[PHASE : PHASE + 1]
        self._held = self._p[HELD : HELD + 2]
        self._channels = ((self._held[:1], self._held[1:]),)
        self._step = 1.0
        self._half = 128.0
        self._init_params()
        np.copyto(self._cur, self._tgt)
        self.silence()

    def _param_changed(self, name: str, value: float) -> None:
        if name == "bits":
            self._half = 2.0 ** (round(value) - 1)
        elif name == "rate":
            self._step = min(value / self.sample_rate, 1.0)
        elif name == "mix":
            self._tgt[0] = value

    def silence(self) -> None:
        """Drop the held sample; the next input sample is taken at once."""
        self._held[:] = 0.0
        self._clock[0] = 1.0

    def process_stereo(self, inp: np.ndarray, out: np.ndarray, n: int) -> None:
        """Crush `n` stereo frames."""
        crush_stereo(inp, out, n, self._step, self._half, self._p)

    def process_mono(self, inp: np.ndarray, out: np.ndarray, n: int) -> None:
        """Crush `n` frames of a dual-mono input."""
        crush_mono(inp, out, n, self._step, self._half, self._p)

    def _channel_state(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"cur": self._cur, "clock": self._clock, "held": self._held}


MODULE = Crush
