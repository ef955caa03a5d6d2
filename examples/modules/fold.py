"""fold: a wavefolder for chronus — past the threshold, the wave folds back on itself.

Load it from the prompt with `load module examples/modules/fold.py as fold`, then
`add a fold called grit after bass` and `set grit drive to 24`. docs/MODULES.md walks through
this file.

The signal is driven (`drive`, in dB), offset (`symmetry`) and folded into ±1 by a triangle
curve: what goes past +1 comes back down, what goes past −1 comes back up, again and again as
the drive grows. Each output sample is the mean of the curve between two driven input samples
(first-order antiderivative anti-aliasing), which tames the aliasing that folding makes.
"""

from __future__ import annotations

import numba
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs
from chronus.dsp.smoothing import settled, smooth_step, smoothers

# Every number the kernel needs lives in one float array `p`:
CUR = 0  # the smoothed (gain, bias, mix): 3 current values, 3 targets, 3 coefficients
X = 9  # per channel (left, right): the previous driven input
F = 11  # per channel: the curve's integral at that input
SIZE = 13
EPS = 1e-6
"""Below this step between two inputs, the mean of the curve is its value at the midpoint."""


@numba.njit(cache=True)
def fold_curve(x: float) -> float:
    """The triangle fold: x itself within ±1, reflected back at ±1 beyond (period 4)."""
    u = (x + 1.0) % 4.0
    return 1.0 - abs(u - 2.0)


@numba.njit(cache=True)
def fold_integral(x: float) -> float:
    """An antiderivative of `fold_curve` (continuous, periodic)."""
    u = (x + 1.0) % 4.0
    if u <= 2.0:
        return 0.5 * u * u - u
    return 3.0 * u - 0.5 * u * u - 4.0


@numba.njit(cache=True)
def fold_sample(
    dry: float, gain: float, bias: float, mix: float, offset: float, prev: float, f_prev: float
) -> tuple[float, float, float]:
    """One sample of one channel: (output, driven input, integral at it)."""
    x = dry * gain + bias
    f_x = fold_integral(x)
    dx = x - prev
    if abs(dx) < EPS:
        y = fold_curve(0.5 * (x + prev))
    else:
        y = (f_x - f_prev) / dx
    wet = y - offset  # minus the fold of the bias alone: silence in, silence out
    return dry * (1.0 - mix) + wet * mix, x, f_x


@numba.njit(cache=True)
def fold_stereo(inp: np.ndarray, out: np.ndarray, n: int, p: np.ndarray) -> None:
    """Fold `n` stereo frames of `inp` into `out` (see `p`'s layout above)."""
    moving = not settled(p, CUR, 3)
    offset = fold_curve(p[CUR + 1])
    for i in range(n):
        if moving:
            smooth_step(p, CUR, 3)
            offset = fold_curve(p[CUR + 1])
        for c in range(2):
            out[i, c], p[X + c], p[F + c] = fold_sample(
                inp[i, c], p[CUR], p[CUR + 1], p[CUR + 2], offset, p[X + c], p[F + c]
            )


@numba.njit(cache=True)
def fold_mono(inp: np.ndarray, out: np.ndarray, n: int, p: np.ndarray) -> None:
    """`fold_stereo` for a dual-mono input: one channel computed, both channels' state set."""
    moving = not settled(p, CUR, 3)
    offset = fold_curve(p[CUR + 1])
    for i in range(n):
        if moving:
            smooth_step(p, CUR, 3)
            offset = fold_curve(p[CUR + 1])
        out[i], p[X], p[F] = fold_sample(inp[i], p[CUR], p[CUR + 1], p[CUR + 2], offset, p[X], p[F])
    p[X + 1] = p[X]
    p[F + 1] = p[F]


class Fold(Processor):
    """A wavefolder: drive, symmetry and a dry/wet mix, all smoothed."""

    TYPE = "fold"
    PARAMS = (
        ParamSpec("drive", 12.0, 0.0, 36.0, "db", 20.0, "gain into the folder: more folds"),
        ParamSpec("symmetry", 0.0, -1.0, 1.0, "", 20.0, "offset before folding: uneven folds"),
        ParamSpec("mix", 1.0, 0.0, 1.0, "", 20.0, "0 dry, 1 only the folded signal"),
        *mix_specs(0.0),
    )
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._p = np.zeros(SIZE)
        times = [self._specs[name].smoothing_ms for name in ("drive", "symmetry", "mix")]
        self._cur, self._tgt = smoothers(self._p, CUR, times, self.sample_rate)
        self._memory = self._p[X:SIZE]
        self._channels = tuple((self._p[at : at + 1], self._p[at + 1 : at + 2]) for at in (X, F))
        self._init_params()
        np.copyto(self._cur, self._tgt)  # start on the set values, not gliding from zero
        self.silence()

    def _param_changed(self, name: str, value: float) -> None:
        if name == "drive":
            self._tgt[0] = 10.0 ** (value / 20.0)
        elif name == "symmetry":
            self._tgt[1] = value
        elif name == "mix":
            self._tgt[2] = value

    def silence(self) -> None:
        """Forget the previous inputs (as if the input had been silent)."""
        bias = float(self._cur[1])
        self._p[X : X + 2] = bias
        self._p[F : F + 2] = fold_integral(bias)

    def process_stereo(self, inp: np.ndarray, out: np.ndarray, n: int) -> None:
        """Fold `n` stereo frames."""
        fold_stereo(inp, out, n, self._p)

    def process_mono(self, inp: np.ndarray, out: np.ndarray, n: int) -> None:
        """Fold `n` frames of a dual-mono input."""
        fold_mono(inp, out, n, self._p)

    def _channel_state(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"cur": self._cur, "memory": self._memory}


MODULE = Fold
