"""A good source: a sine that plays notes, with its phase and gate as state."""

import math

import numpy as np

from chronus.dsp.module import Module, velocity_gain
from chronus.dsp.params import ParamSpec, mix_specs


class Beep(Module):
    PARAMS = (ParamSpec("detune", 0.0, -100.0, 100.0, "cents"), *mix_specs(-6.0))

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._ramp = np.arange(max_block, dtype=np.float64)
        self._phase = 0.0
        self._step = 0.0
        self._amp = 0.0
        self._left = 0
        self._init_params()

    def note_on(self, midi, velocity, length):
        hz = 440.0 * 2.0 ** ((midi - 69.0 + self.param("detune") / 100.0) / 12.0)
        self._step = 2.0 * math.pi * hz / self.sample_rate
        self._amp = velocity_gain(velocity)
        self._left = length

    def gate(self, on):
        if not on:
            self._left = 0

    def process(self, out, n):
        if self._left == 0:
            out[:n] = 0.0
            return
        np.multiply(self._ramp[:n], self._step, out=out[:n])
        out[:n] += self._phase
        self._phase = (self._phase + n * self._step) % (2.0 * math.pi)
        np.sin(out[:n], out=out[:n])
        out[:n] *= self._amp
        if self._left > 0:
            self._left = max(0, self._left - n)

    def _state_scalars(self):
        return {"phase": self._phase, "step": self._step, "amp": self._amp, "left": self._left}

    def _load_scalars(self, state):
        self._phase = float(state["phase"])
        self._step = float(state["step"])
        self._amp = float(state["amp"])
        self._left = int(state["left"])
