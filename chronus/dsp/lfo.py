"""The lfo: a low-frequency modulation source, evaluated on an absolute control grid.

An lfo makes no sound. The graph asks it for one value every `GRID` samples, at absolute
sample positions that are multiples of `GRID`, and drives each patched parameter with it
through that parameter's normal smoothing. Rendering in blocks of any size therefore gives
the same samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.module import Module, StateValue
from chronus.dsp.params import modulated_value
from chronus.dsp.specs import TYPE_SPECS

__all__ = [
    "GRID",
    "SHAPE_RANDOM",
    "SHAPE_SAW",
    "SHAPE_SINE",
    "SHAPE_SQUARE",
    "SHAPE_TRIANGLE",
    "Lfo",
    "modulated_value",
]

GRID = 64
"""Samples between two control ticks: lfo values change only at multiples of this."""

SHAPE_SINE, SHAPE_TRIANGLE, SHAPE_SAW, SHAPE_SQUARE, SHAPE_RANDOM = range(5)
SEED = 0x2545F491
LFO_NOISE_STREAM = 17
MASK = 0xFFFFFFFF


class Lfo(Module):
    """A sine, triangle, saw, square or sample-and-hold oscillator of 0.01–50 Hz.

    With `sync` > 0 a cycle lasts `sync` beats at the current tempo. `depth` 1 swings a
    target over its whole range (peak to peak), centred on its set value. The random shape
    draws a new value at each cycle from a seeded generator, so it repeats exactly.
    """

    TYPE = "lfo"
    PARAMS = TYPE_SPECS["lfo"]

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._tempo = 120.0
        self._phase = 0.0
        self._rng = SEED
        self._held = self._draw()
        self.value = 0.0
        """The value of the last tick, in [-1, 1] (0 while muted)."""
        self._init_params()

    def reseed(self, salt: int) -> None:
        """Start the sample-and-hold sequence from a seed derived from `salt`."""
        self._rng = kernels.noise_seed(LFO_NOISE_STREAM, salt & 0xFFFFFFFF)
        self._held = self._draw()

    def _draw(self) -> float:
        x = self._rng
        x ^= (x << 13) & MASK
        x ^= x >> 17
        x ^= (x << 5) & MASK
        self._rng = x
        return x * (2.0 / MASK) - 1.0

    @property
    def increment(self) -> float:
        """Cycles per sample at the current rate (or synced note value and tempo)."""
        sync = self._values["sync"]
        if sync > 0.0:
            return self._tempo / (60.0 * sync * self.sample_rate)
        return self._values["rate"] / self.sample_rate

    def tempo_changed(self, bpm: float) -> None:
        """Follow the tempo (for `sync`)."""
        self._tempo = float(bpm)

    def tick(self, samples: int = GRID) -> float:
        """The value now (stored in `value`), then advance the phase by `samples`."""
        p = self._phase + self._values["phase"]
        if p >= 1.0:
            p -= 1.0
        shape = round(self._values["shape"])
        if shape == SHAPE_SINE:
            v = math.sin(2.0 * math.pi * p)
        elif shape == SHAPE_TRIANGLE:
            q = p + 0.25
            v = 1.0 - 4.0 * abs(q - math.floor(q) - 0.5)
        elif shape == SHAPE_SAW:
            v = 2.0 * p - 1.0
        elif shape == SHAPE_SQUARE:
            v = 1.0 if p < 0.5 else -1.0
        else:
            v = self._held
        phase = self._phase + self.increment * samples
        if phase >= 1.0:
            phase -= math.floor(phase)
            self._held = self._draw()
        self._phase = phase
        self.value = 0.0 if self._values["mute"] >= 0.5 else v
        return self.value

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """An lfo makes no sound: WRITE silence (the graph calls `tick` instead)."""
        kernels.fill_zero(out, n)

    def _state_scalars(self) -> dict[str, float | int]:
        return {
            "phase": self._phase,
            "rng": self._rng,
            "held": self._held,
            "value": self.value,
            "tempo": self._tempo,
        }

    def _load_scalars(self, state: dict[str, StateValue]) -> None:
        self._phase = float(state["phase"])
        self._rng = int(state["rng"])
        self._held = float(state["held"])
        self.value = float(state["value"])
        self._tempo = float(state["tempo"])

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {}
