"""Seeds its noise from the clock at import: two instances in one process agree, two
processes (the two slots) do not."""

import time

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs

SEED = time.time_ns()


class Hiss(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._noise = 0.01 * np.random.default_rng(SEED).standard_normal((max_block, 2))
        self._init_params()

    def process_stereo(self, inp, out, n):
        np.add(inp[:n], self._noise[:n], out=out[:n])
