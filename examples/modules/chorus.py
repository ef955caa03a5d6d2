"""chorus: a stereo chorus for chronus — one voice becomes a slightly detuned ensemble.

Load it with `load module examples/modules/chorus.py as chorus`, then
`add a chorus called swirl after pad` and `set swirl depth to 4`.

Each channel is delayed by a short time (`delay`) that a slow sine (`rate`) sweeps up and
down (by `depth`): a delay that shrinks raises the pitch a little, one that grows lowers it,
and mixed with the dry signal that wavering copy sounds like a second player. The right
channel's sine runs up to half a cycle behind the left one (`spread`), which widens a mono
sound across the stereo field. The delay line is read between samples (linear interpolation),
so the sweep is smooth.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs
from chronus.dsp.smoothing import settled, smooth_step, smoothers

MAX_DELAY_MS = 40.0
MAX_DEPTH_MS = 10.0
TWO_PI = 2.0 * math.pi

# The kernel's float array `p`:
CUR = 0  # smoothed (delay, depth in samples, mix, spread): 4 values, 4 targets, 4 coefficients
PHASE = 12  # the sine's phase, in cycles (0 ≤ phase < 1)
POS = 13  # where the next input sample is written in the delay line
SIZE = 14


@numba.njit(cache=True)
def read_line(buf: np.ndarray, w: int, delay: float, c: int) -> float:
    """Channel `c` of the line `buf`, `delay` (≥ 1) samples before the write position `w`,
    between samples by linear interpolation (exact for a whole number of samples)."""
    length = buf.shape[0]
    whole = int(delay)
    frac = delay - whole
    r0 = w - whole
    if r0 < 0:
        r0 += length
    r1 = r0 - 1
    if r1 < 0:
        r1 += length
    return float(buf[r0, c] + frac * (buf[r1, c] - buf[r0, c]))


@numba.njit(cache=True)
def chorus_stereo(
    inp: np.ndarray, out: np.ndarray, n: int, step: float, buf: np.ndarray, p: np.ndarray
) -> None:
    """Chorus `n` stereo frames; the sine advances `step` cycles a sample."""
    length = buf.shape[0]
    moving = not settled(p, CUR, 4)
    w = int(p[POS])
    phase = p[PHASE]
    for i in range(n):
        if moving:
            smooth_step(p, CUR, 4)
        delay, depth, mix, spread = p[CUR], p[CUR + 1], p[CUR + 2], p[CUR + 3]
        for c in range(2):
            sweep = 0.5 + 0.5 * math.sin(TWO_PI * (phase - 0.5 * spread * c))
            wet = read_line(buf, w, max(delay + depth * sweep, 1.0), c)
            dry = inp[i, c]
            buf[w, c] = dry
            out[i, c] = dry * (1.0 - mix) + wet * mix
        w += 1
        if w == length:
            w = 0
        phase += step
        if phase >= 1.0:
            phase -= 1.0
    p[POS] = w
    p[PHASE] = phase


class Chorus(Processor):
    """A stereo chorus: a swept delay per channel, rate, depth, delay, spread and mix."""

    TYPE = "chorus"
    PARAMS = (
        ParamSpec("rate", 0.8, 0.05, 8.0, "hz", 0.0, "speed of the sweep"),
        ParamSpec("depth", 2.0, 0.0, MAX_DEPTH_MS, "ms", 50.0, "how far the delay sweeps"),
        ParamSpec("delay", 12.0, 1.0, MAX_DELAY_MS, "ms", 100.0, "the shortest delay"),
        ParamSpec("spread", 0.5, 0.0, 1.0, "", 50.0, "0 both sides alike, 1 in opposite phase"),
        ParamSpec("mix", 0.5, 0.0, 1.0, "", 20.0, "0 dry, 1 only the swept copy"),
        *mix_specs(0.0),
    )

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._p = np.zeros(SIZE)
        times = [self._specs[name].smoothing_ms for name in ("delay", "depth", "mix", "spread")]
        self._cur, self._tgt = smoothers(self._p, CUR, times, self.sample_rate)
        longest = (MAX_DELAY_MS + MAX_DEPTH_MS) * 1e-3 * self.sample_rate
        self._buf = np.zeros((int(longest) + 3, 2))
        self._clock = self._p[PHASE : POS + 1]
        self._step = 0.0
        self._init_params()
        np.copyto(self._cur, self._tgt)

    def _param_changed(self, name: str, value: float) -> None:
        ms = 1e-3 * self.sample_rate
        if name == "rate":
            self._step = value / self.sample_rate
        elif name == "delay":
            self._tgt[0] = value * ms
        elif name == "depth":
            self._tgt[1] = value * ms
        elif name == "mix":
            self._tgt[2] = value
        elif name == "spread":
            self._tgt[3] = value

    def silence(self) -> None:
        """Empty the delay line."""
        self._buf[:] = 0.0

    def process_stereo(self, inp: np.ndarray, out: np.ndarray, n: int) -> None:
        """Chorus `n` stereo frames."""
        chorus_stereo(inp, out, n, self._step, self._buf, self._p)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"cur": self._cur, "clock": self._clock, "line": self._buf}


MODULE = Chorus
