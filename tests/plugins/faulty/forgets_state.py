"""A one-pole low-pass whose state() leaves out its filter memory."""

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Forgetful(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._memory = np.zeros(2)
        self._init_params()

    def process_stereo(self, inp, out, n):
        for i in range(n):
            self._memory += 0.1 * (inp[i] - self._memory)
            out[i] = self._memory
