"""A good module of the usual kind: a wavefolder on a numba kernel, with a DC blocker whose
memory is state, dual mono."""

import numba
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


@numba.njit(cache=True)
def _fold(inp, out, n, gain, memory):
    """Fold each channel of `inp[:n]` back into [-1, 1], then block DC; one column of
    `memory` (previous input, previous output) per channel."""
    for c in range(inp.shape[1]):
        x1 = memory[0, c]
        y1 = memory[1, c]
        for i in range(n):
            x = inp[i, c] * gain
            while x > 1.0 or x < -1.0:
                x = 2.0 - x if x > 1.0 else -2.0 - x
            y = x - x1 + 0.995 * y1
            x1 = x
            y1 = y
            out[i, c] = y
        memory[0, c] = x1
        memory[1, c] = y1


class Fold(Processor):
    PARAMS = (ParamSpec("gain", 2.0, 1.0, 10.0, "x", 0.0, "drive into the fold"), *mix_specs(0.0))
    DUAL_MONO = True

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._memory = np.zeros((2, 2))
        self._mono_memory = self._memory[:, :1]
        self._init_params()

    def process_stereo(self, inp, out, n):
        _fold(inp, out, n, self.param("gain"), self._memory)

    def process_mono(self, inp, out, n):
        _fold(inp.reshape(-1, 1), out.reshape(-1, 1), n, self.param("gain"), self._mono_memory)
        self._memory[:, 1] = self._memory[:, 0]

    def _state_arrays(self):
        return {"memory": self._memory}

    def _channel_state(self):
        return ((self._memory[:, 0], self._memory[:, 1]),)
