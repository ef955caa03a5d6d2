"""Adds a trace of the clock to its output."""

import time

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Clocked(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n] + (time.perf_counter_ns() % 1000003) * 1e-12
