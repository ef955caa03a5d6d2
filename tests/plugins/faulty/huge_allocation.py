"""Allocates 2 GB when made (only ever run this in the sandbox)."""

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Huge(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._buffer = np.ones(2 * 1024**3 // 8)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n]
