"""Adds unseeded noise (numpy's global generator)."""

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Noisy(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n] + 0.01 * np.random.random((n, 2))
