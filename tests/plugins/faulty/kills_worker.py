"""Kills the process that forked it (the sandbox worker)."""

import os
import signal

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Parricide(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        os.kill(os.getppid(), signal.SIGKILL)
        out[:n] = inp[:n]
