"""Filters: stereo processors. State-variable low/high/band-pass and the acid ladder."""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import filter_kernels as fk
from chronus.dsp import idle
from chronus.dsp.kernels import entry
from chronus.dsp.module import Processor
from chronus.dsp.smoothing import smoothers
from chronus.dsp.specs import TYPE_SPECS

__all__ = ["ACCENT_VELOCITY", "Acid", "Bandpass", "Highpass", "Lowpass", "StateVariable"]

ACCENT_VELOCITY = 100.0
"""Notes at or above this velocity are accented on the acid filter."""
LOG_10E3 = math.log(1e-3)


class StateVariable(Processor):
    """A TPT (Zavalishin) state-variable filter on both channels; subclasses pick the output.

    `cutoff` is smoothed per sample in the log domain, `res` linearly. At `res` 0 the
    response is Butterworth, so the −3 dB point is the cutoff.
    """

    MODE: ClassVar[int] = fk.MODE_LOWPASS
    SMOOTHED: ClassVar[tuple[str, ...]] = ("cutoff", "res")
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        p = self._p = np.zeros(fk.SVF_SIZE)
        self._ic = p[fk.SVF_IC : fk.SVF_IC + 4]
        times = [self._specs[name].smoothing_ms for name in self.SMOOTHED]
        self._cur, self._tgt = smoothers(p, fk.SVF_CUR, times, sample_rate)
        p[fk.SVF_RATE] = float(sample_rate)
        self._channels = ((self._ic[:2], self._ic[2:]),)
        self.bind_kernels()
        self._init_params()
        np.copyto(self._cur, self._tgt)

    def _param_changed(self, name: str, value: float) -> None:
        if name == "cutoff":
            self._tgt[0] = math.log2(value)
        elif name == "res":
            self._tgt[1] = value

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._stereo, self._mono = entry(fk.svf_block), entry(fk.svf_mono)
        self._run_quiet = entry(idle.run_quiet)

    def silence(self) -> None:
        """Clear the filter memories."""
        self._ic[:] = 0.0

    def quiet(self) -> bool:
        """Memories at zero and smoothing arrived: silence in gives silence out."""
        return self._run_quiet(self._p, fk.SVF_IC, 4, fk.SVF_CUR, 2)

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` filtered frames into `out`."""
        self._stereo(inp, out, n, self.MODE, self._p)

    def process_mono(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` filtered samples of a dual-mono input into `out`."""
        self._mono(inp, out, n, self.MODE, self._p)

    def _channel_state(self) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"ic": self._ic, "cur": self._cur}


class Lowpass(StateVariable):
    """12 dB/octave low-pass."""

    TYPE = "lowpass"
    PARAMS = TYPE_SPECS["lowpass"]
    MODE = fk.MODE_LOWPASS


class Highpass(StateVariable):
    """12 dB/octave high-pass."""

    TYPE = "highpass"
    PARAMS = TYPE_SPECS["highpass"]
    MODE = fk.MODE_HIGHPASS


class Bandpass(StateVariable):
    """Band-pass of peak gain 1; `res` narrows the band."""

    TYPE = "bandpass"
    PARAMS = TYPE_SPECS["bandpass"]
    MODE = fk.MODE_BANDPASS


class Acid(Processor):
    """A TB-303-style resonant 4-pole ladder with saturation and a decaying cutoff envelope.

    Every note on a source upstream retriggers the envelope: it jumps to 1 (to 1 + `accent`
    for velocities ≥ `ACCENT_VELOCITY`) and falls by 60 dB over `env_decay`, lifting the
    cutoff by `env_amount` × 5 octaves at its peak.
    """

    TYPE = "acid"
    PARAMS = TYPE_SPECS["acid"]
    SMOOTHED: ClassVar[tuple[str, ...]] = ("cutoff", "res", "env_amount", "drive")
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        p = self._p = np.zeros(fk.ACID_SIZE)
        self._st = p[fk.ACID_ST : fk.ACID_ST + 8]
        self._env = p[fk.ACID_ENV : fk.ACID_ENV + 1]
        times = [self._specs[name].smoothing_ms for name in self.SMOOTHED]
        self._cur, self._tgt = smoothers(p, fk.ACID_CUR, times, sample_rate)
        p[fk.ACID_RATE] = float(sample_rate)
        self._channels = ((self._st[:4], self._st[4:]),)
        self._ahead = 0
        self._cells = cast("memoryview[float]", p.data)  # quicker to set than the array
        self.bind_kernels()
        self._init_params()
        np.copyto(self._cur, self._tgt)

    def _param_changed(self, name: str, value: float) -> None:
        if name == "cutoff":
            self._tgt[0] = math.log2(value)
        elif name == "res":
            self._tgt[1] = value
        elif name == "env_amount":
            self._tgt[2] = value
        elif name == "drive":
            self._tgt[3] = value
        elif name == "env_decay":
            self._p[fk.ACID_DECAY] = math.exp(LOG_10E3 / max(value * self.sample_rate, 1.0))

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """Retrigger the envelope (accented at velocity ≥ `ACCENT_VELOCITY`)."""
        if velocity <= 0.0:
            return
        self._env[0] = self._peak(velocity)

    def _peak(self, velocity: float) -> float:
        return 1.0 + (self._values["accent"] if velocity >= ACCENT_VELOCITY else 0.0)

    def can_note_at(self) -> bool:
        """Room for one more note inside the next block (see `Module.note_at`)."""
        return self._ahead < fk.ACID_NOTES

    def note_at(self, at: int, midi: float, velocity: float, length: int) -> None:
        """See `Module.note_at`: the kernel retriggers the envelope at its sample."""
        if velocity <= 0.0:
            return
        cells, i = self._cells, fk.ACID_AHEAD + 2 * self._ahead
        cells[i] = at
        cells[i + 1] = self._peak(velocity)
        self._ahead += 1

    def flush_notes(self) -> None:
        """See `Module.flush_notes`: the last waiting note's envelope, at once."""
        if self._ahead:
            self._env[0] = self._p[fk.ACID_AHEAD + 2 * self._ahead - 1]
            self._ahead = 0

    def gate(self, on: bool) -> None:
        """An opening gate retriggers the envelope like a note."""
        if on:
            self._env[0] = 1.0

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._stereo, self._stereo_ahead = entry(fk.acid_block), entry(fk.acid_block_ahead)
        self._mono, self._mono_ahead = entry(fk.acid_mono), entry(fk.acid_mono_ahead)
        self._run_quiet = entry(idle.run_quiet)

    def silence(self) -> None:
        """Clear the ladder memories and the envelope."""
        self._st[:] = 0.0
        self._env[0] = 0.0

    def quiet(self) -> bool:
        """Ladder at rest, envelope run out, smoothing arrived: silence in, silence out."""
        return self._cells[fk.ACID_ENV] == 0.0 and self._run_quiet(
            self._p, fk.ACID_ST, 8, fk.ACID_CUR, 4
        )

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` filtered frames into `out` (the notes `note_at` left on the way)."""
        if self._ahead:
            count, self._ahead = self._ahead, 0
            self._stereo_ahead(inp, out, n, self._p, count)
            return
        self._stereo(inp, out, n, self._p)

    def process_mono(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` filtered samples of a dual-mono input into `out` (and see above)."""
        if self._ahead:
            count, self._ahead = self._ahead, 0
            self._mono_ahead(inp, out, n, self._p, count)
            return
        self._mono(inp, out, n, self._p)

    def _channel_state(self) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], ...]:
        return self._channels

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"st": self._st, "cur": self._cur, "env": self._env}
