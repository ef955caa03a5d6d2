"""Calls sys.exit when made."""

import sys

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Quits(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        sys.exit("bye")
