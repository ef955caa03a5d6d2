"""Sleeps 2 ms in every block: little CPU, but the block is late."""

import time

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Sleepy(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        time.sleep(0.002)
        out[:n] = inp[:n]
