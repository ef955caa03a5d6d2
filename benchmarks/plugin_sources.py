"""Sources of the user modules the plugin benchmarks load: numpy only, or on a numba kernel.

Each is formatted with a `tag` (so that every module, or every version, is a file of its
own, with its own version) and the default of its `amount` parameter.
"""

from __future__ import annotations

SCALE = '''
import numpy as np
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


class Scale(Processor):
    """Scales its input ({tag})."""

    PARAMS = (ParamSpec("amount", {amount}, 0.0, 2.0, "", 20.0, "gain"), *mix_specs(0.0))

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        np.multiply(inp[:n], self.param("amount"), out=out[:n])
'''

FOLD = '''
import numba
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


@numba.njit(cache=True)
def _fold(inp, out, n, gain):
    for c in range(inp.shape[1]):
        for i in range(n):
            x = inp[i, c] * gain
            while x > 1.0 or x < -1.0:
                x = 2.0 - x if x > 1.0 else -2.0 - x
            out[i, c] = x


class Fold(Processor):
    """Folds its input ({tag})."""

    PARAMS = (ParamSpec("amount", {amount}, 0.0, 2.0, "", 0.0, "drive"), *mix_specs(0.0))

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        _fold(inp, out, n, 1.0 + self.param("amount"))
'''
