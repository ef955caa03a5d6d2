"""A plugin file that the sandbox validates before each real validation, in the spare child
that waits for it (see `chronus.plugins.validation.rehearse`); never imported as
`chronus.plugins.rehearsal`.

It is shaped like a typical user module (a processor on a numba kernel with `cache=True`,
dual mono, with memory as state), so that validating it goes through every step a user's
file does: compiling the source, importing it as a plugin, its kernel loaded from numba's
disk cache into a process that never had it, the checks. The pages those steps write are
then copied (fork is copy-on-write) before a validation's clock starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs

FloatArray = npt.NDArray[np.float64]


def _soft_clip(inp: FloatArray, out: FloatArray, n: int, drive: float, memory: FloatArray) -> None:
    for c in range(inp.shape[1]):
        for i in range(n):
            x = inp[i, c] * drive
            clipped = x / (1.0 + abs(x))
            memory[0, c] += 0.5 * (clipped - memory[0, c])
            memory[1, c] = max(abs(clipped), 0.999 * memory[1, c])
            out[i, c] = memory[0, c] * (1.0 - 0.1 * memory[1, c])


soft_clip = cast(
    Callable[[FloatArray, FloatArray, int, float, FloatArray], None],
    numba.njit(cache=True)(_soft_clip),
)
"""Soft-clip each channel of `inp[:n]`, smooth it (one pole, `memory[0]`) and duck it a
little by its peak (`memory[1]`). Called with contiguous arrays and, by `process_mono`,
with a strided view of `memory`, as most modules call theirs: a process that has met both
layouts spends less on the first call of a user's kernel."""


class Rehearsal(Processor):
    """A soft clipper, smoothed and ducked by its peak."""

    PARAMS = (ParamSpec("drive", 2.0, 1.0, 10.0, "x", 0.0, "drive into the clip"),
              *mix_specs(0.0))  # fmt: skip
    DUAL_MONO = True

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._memory = np.zeros((2, 2))
        self._init_params()

    def process_stereo(self, inp: FloatArray, out: FloatArray, n: int) -> None:
        soft_clip(inp, out, n, self.param("drive"), self._memory)

    def process_mono(self, inp: FloatArray, out: FloatArray, n: int) -> None:
        soft_clip(inp.reshape(-1, 1), out.reshape(-1, 1), n, self.param("drive"),
                  self._memory[:, :1])  # fmt: skip
        self._memory[:, 1] = self._memory[:, 0]

    def _state_arrays(self) -> dict[str, Any]:
        return {"memory": self._memory}

    def _channel_state(self) -> tuple[tuple[FloatArray, FloatArray], ...]:
        return ((self._memory[:, 0], self._memory[:, 1]),)


MODULE = Rehearsal
