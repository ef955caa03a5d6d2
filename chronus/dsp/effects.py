"""Effects: `distortion`, `delay` and `reverb`, stereo processors on numba kernels."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import effect_kernels as ek
from chronus.dsp import idle
from chronus.dsp.kernels import entry
from chronus.dsp.module import Processor, StateValue
from chronus.dsp.smoothing import smoothers
from chronus.dsp.specs_effects import EFFECT_SPECS, MAX_DELAY_MS

__all__ = ["Delay", "Distortion", "Reverb"]

FREEVERB_COMBS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
FREEVERB_ALLPASSES = (556, 441, 341, 225)
FREEVERB_SPREAD = 23
FREEVERB_RATE = 44100.0
"""Freeverb's tunings are in samples at 44.1 kHz; they are scaled to the sample rate."""


class _Smoothed(Processor):
    """A processor whose kernel takes one float array `p`; its smoothed parameters sit in it
    as (current, target, per-sample coefficient) runs of `len(SMOOTHED)` from `CUR`."""

    SMOOTHED: tuple[str, ...] = ()
    CUR: int = 0
    SIZE: int = 0

    def _setup(self) -> None:
        self._p = np.zeros(self.SIZE)
        times = [self._specs[name].smoothing_ms for name in self.SMOOTHED]
        self._cur, self._tgt = smoothers(self._p, self.CUR, times, self.sample_rate)

    def _start(self) -> None:
        """Derive everything from the defaults and start the smoothers at their targets."""
        self._init_params()
        np.copyto(self._cur, self._tgt)


class Distortion(_Smoothed):
    """Drive into a waveshaper (tanh, hard clip, sine fold or bitcrush), then a tone low-pass.

    The shapers are anti-aliased with first-order antiderivatives (ADAA) rather than
    oversampling: it costs one curve evaluation per sample (the last one's is kept) instead
    of a filter bank.
    """

    TYPE = "distortion"
    PARAMS = EFFECT_SPECS["distortion"]
    SMOOTHED = ("drive", "tone", "mix")
    CUR = ek.DIST_CUR
    SIZE = ek.DIST_SIZE
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._setup()
        p = self._p
        p[ek.DIST_RATE] = float(sample_rate)
        self._state = p[ek.DIST_X : ek.DIST_RATE]
        self._channels = tuple(
            (p[at : at + 1], p[at + 1 : at + 2]) for at in (ek.DIST_X, ek.DIST_F, ek.DIST_LP)
        )
        self._mode = ek.DIST_TANH
        self._cells = cast("memoryview[float]", p.data)  # a float from it: quicker than numpy
        self.bind_kernels()
        self._start()
        p[ek.DIST_TONE] = -1.0  # forces the tone coefficient to be derived on the first sample
        p[ek.DIST_FMODE] = -1.0  # and the antiderivatives

    def _param_changed(self, name: str, value: float) -> None:
        if name == "drive":
            self._tgt[0] = 10.0 ** (value / 20.0)
        elif name == "tone":
            self._tgt[1] = math.log2(value)
        elif name == "mix":
            self._tgt[2] = value
        elif name == "mode":
            self._mode = round(value)

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._stereo, self._mono = entry(ek.distortion_block), entry(ek.distortion_mono)
        self._run_quiet = entry(idle.run_quiet)

    def silence(self) -> None:
        """Clear the shaper's and the low-pass's memories."""
        p = self._p
        p[ek.DIST_X : ek.DIST_X + 2] = 0.0
        p[ek.DIST_LP : ek.DIST_LP + 2] = 0.0
        p[ek.DIST_FMODE] = -1.0

    def quiet(self) -> bool:
        """Last input and low-pass at zero, the caches those of the current tone and mode,
        smoothing arrived: silence in gives silence out and changes nothing."""
        p = self._cells
        return (
            p[ek.DIST_TONE] == p[ek.DIST_CUR + 1]
            and (p[ek.DIST_FMODE] == self._mode or self._mode == ek.DIST_CRUSH)
            and p[ek.DIST_LP] == 0.0
            and p[ek.DIST_LP + 1] == 0.0
            and self._run_quiet(self._p, ek.DIST_X, 2, ek.DIST_CUR, 3)
        )

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """See `Processor.process_stereo`."""
        self._stereo(inp, out, n, self._mode, self._p)

    def process_mono(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """See `Processor.process_mono`."""
        self._mono(inp, out, n, self._mode, self._p)

    def _channel_state(self) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"cur": self._cur, "state": self._state}


class Delay(_Smoothed):
    """A stereo echo: `time` in ms or `sync` in beats, damped feedback, click-free changes."""

    TYPE = "delay"
    PARAMS = EFFECT_SPECS["delay"]
    SMOOTHED = ("time", "feedback", "damp", "mix")
    CUR = ek.DELAY_CUR
    SIZE = ek.DELAY_SIZE
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._setup()
        self._max_delay = MAX_DELAY_MS * 1e-3 * self.sample_rate
        self._buf = np.zeros((int(self._max_delay) + 2, 2))
        self._pos = self._p[ek.DELAY_POS : ek.DELAY_POS + 1]
        self._lp = self._p[ek.DELAY_LP : ek.DELAY_LP + 2]
        self._channels = ((self._buf[:, 0], self._buf[:, 1]), (self._lp[:1], self._lp[1:]))
        self._watch = idle.LineWatch()
        self._bpm = 120.0
        self.bind_kernels()
        self._start()

    def _delay_samples(self) -> float:
        sync = self._values["sync"]
        if sync > 0.0:
            samples = sync * 60.0 / self._bpm * self.sample_rate
        else:
            samples = self._values["time"] * 1e-3 * self.sample_rate
        return min(max(samples, 1.0), self._max_delay)

    def _param_changed(self, name: str, value: float) -> None:
        if name in ("time", "sync"):
            self._tgt[0] = self._delay_samples()
        elif name == "feedback":
            self._tgt[1] = value
        elif name == "damp":
            self._tgt[2] = 1.0 - 0.9 * value
        elif name == "mix":
            self._tgt[3] = value

    @property
    def delay_samples(self) -> float:
        """The delay the time is heading for, in samples (after tempo sync and limits)."""
        return float(self._tgt[0])

    def tempo_changed(self, bpm: float) -> None:
        """A synced delay follows the new tempo (gliding, like any time change)."""
        self._bpm = float(bpm)
        self._tgt[0] = self._delay_samples()

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._stereo, self._mono = entry(ek.delay_block), entry(ek.delay_mono)
        self._run_quiet = entry(idle.run_quiet)

    def silence(self) -> None:
        """Drop every echo."""
        self._buf[:] = 0.0
        self._lp[:] = 0.0

    def quiet(self) -> bool:
        """Feedback memories at zero, smoothing arrived, and (looked at now and then) the
        whole line silent: only the write position moves."""
        return self._run_quiet(self._p, ek.DELAY_LP, 2, ek.DELAY_CUR, 4) and self._watch.silent(
            self._buf
        )

    def skip(self, n: int) -> None:
        """The write position moves on through the silent line."""
        self._pos[0] = (int(self._pos[0]) + n) % self._buf.shape[0]

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """See `Processor.process_stereo`."""
        self._stereo(inp, out, n, self._buf, self._p)

    def process_mono(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """See `Processor.process_mono`."""
        self._mono(inp, out, n, self._buf, self._p)

    def _channel_state(self) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"buf": self._buf, "pos": self._pos, "lp": self._lp, "cur": self._cur}

    def _state_scalars(self) -> dict[str, float | int]:
        return {"bpm": self._bpm}

    def _load_scalars(self, state: dict[str, StateValue]) -> None:
        self._bpm = float(state["bpm"])
        self._tgt[0] = self._delay_samples()


class Reverb(_Smoothed):
    """Freeverb: 8 damped combs and 4 allpasses per channel, the right channel spread apart."""

    TYPE = "reverb"
    PARAMS = EFFECT_SPECS["reverb"]
    SMOOTHED = ("room", "damp", "mix", "width")
    CUR = ek.REVERB_CUR
    SIZE = ek.REVERB_SIZE

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._setup()
        scale = self.sample_rate / FREEVERB_RATE
        lengths: list[int] = []
        for spread in (0, FREEVERB_SPREAD):
            lengths += [max(1, round((t + spread) * scale)) for t in FREEVERB_COMBS]
            lengths += [max(1, round((t + spread) * scale)) for t in FREEVERB_ALLPASSES]
        lines = len(lengths)
        iv = self._iv = np.zeros(3 * lines, dtype=np.int64)
        iv[ek.REVERB_LENGTHS : ek.REVERB_LENGTHS + lines] = lengths
        iv[ek.REVERB_OFFSETS + 1 : ek.REVERB_OFFSETS + lines] = np.cumsum(lengths)[:-1]
        self._index = iv[ek.REVERB_INDEX : ek.REVERB_INDEX + lines]
        self._lengths = iv[ek.REVERB_LENGTHS : ek.REVERB_LENGTHS + lines]
        self._lines = np.zeros(sum(lengths))
        self._watch = idle.LineWatch()
        self._store = self._p[ek.REVERB_STORE : ek.REVERB_STORE + 16]
        self.bind_kernels()
        self._start()

    def _param_changed(self, name: str, value: float) -> None:
        if name == "room":
            self._tgt[0] = 0.7 + 0.28 * value
        elif name == "damp":
            self._tgt[1] = 0.4 * value
        elif name == "mix":
            self._tgt[2] = value
        elif name == "width":
            self._tgt[3] = value

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._stereo = entry(ek.reverb_block)
        self._run_quiet = entry(idle.run_quiet)

    def silence(self) -> None:
        """Cut the tail."""
        self._lines[:] = 0.0
        self._store[:] = 0.0

    def quiet(self) -> bool:
        """Comb memories at zero, smoothing arrived, and (looked at now and then) every line
        silent: only the lines' positions move."""
        return self._run_quiet(self._p, ek.REVERB_STORE, 16, ek.REVERB_CUR, 4) and (
            self._watch.silent(self._lines)
        )

    def skip(self, n: int) -> None:
        """Each line's position moves on through its silence."""
        idle.advance(self._index, self._lengths, n)

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """See `Processor.process_stereo`."""
        self._stereo(inp, out, n, self._lines, self._iv, self._p)

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"lines": self._lines, "index": self._index, "store": self._store, "cur": self._cur}
