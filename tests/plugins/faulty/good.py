"""A good module: a soft clipper (drive into tanh), stereo and dual mono."""

import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


class SoftClip(Processor):
    TYPE = "softclip"
    PARAMS = (ParamSpec("drive", 2.0, 1.0, 20.0, "x"), *mix_specs(0.0))
    DUAL_MONO = True

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        np.multiply(inp[:n], self.param("drive"), out=out[:n])
        np.tanh(out[:n], out=out[:n])

    def process_mono(self, inp, out, n):
        np.multiply(inp[:n], self.param("drive"), out=out[:n])
        np.tanh(out[:n], out=out[:n])
