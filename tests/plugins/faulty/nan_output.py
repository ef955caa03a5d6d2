"""Writes NaN once its input goes negative enough."""

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Nan(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        np.sqrt(inp[:n] + 0.5, out=out[:n])
