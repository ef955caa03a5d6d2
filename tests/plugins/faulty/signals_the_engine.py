"""Signals the process that runs the sandbox pool (in a player's setup, the engine or the
shell): the parent of the sandbox worker that forked it."""

import os
import signal
from pathlib import Path

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


def _grandparent() -> int:
    stat = Path(f"/proc/{os.getppid()}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


class Messenger(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        os.kill(_grandparent(), signal.SIGUSR2)
        out[:n] = inp[:n]
