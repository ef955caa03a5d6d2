"""Its default lies outside its range."""

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


class BadParams(Processor):
    PARAMS = (ParamSpec("drive", 50.0, 1.0, 20.0), *mix_specs(0.0))

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n]
