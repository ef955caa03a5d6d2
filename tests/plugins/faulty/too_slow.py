"""Spins for 1 ms of CPU per block (the budget is 667 µs)."""

import time

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Slow(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        end = time.thread_time() + 0.001
        while time.thread_time() < end:
            pass
        out[:n] = inp[:n]
