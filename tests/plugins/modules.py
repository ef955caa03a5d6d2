"""Source texts of small user modules for the plugin tests."""

from __future__ import annotations

from pathlib import Path

GAIN = '''
import numpy as np
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs

FACTOR = {factor}


class Gain(Processor):
    """Scales its input by `amount` (and by FACTOR, which versions change)."""

    PARAMS = (ParamSpec("amount", 0.5, 0.0, 2.0, "", 0.0, "gain"), *mix_specs(0.0))

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self.memory = np.zeros({width})
        self._init_params()

    def _state_arrays(self):
        return {{"memory": self.memory}}

    def process_stereo(self, inp, out, n):
        np.multiply(inp[:n], self.param("amount") * FACTOR, out=out[:n])
        self.memory[0] += n
'''
"""A processor; `factor` changes its sound, `width` the shape of its state."""

RAISING = GAIN.replace(
    "        np.multiply(", "        raise RuntimeError('broken')\n        np.multiply("
)
"""The gain module raising in every block (format it like `GAIN`)."""

EXITING_AT_IMPORT = "import os\nos._exit(3)\n"
"""Takes down whichever process imports it."""

RAISING_AT_IMPORT = "raise RuntimeError('broken at import')\n"


def write_gain(
    folder: Path, factor: float = 1.0, width: int = 2, name: str = "gain.py", text: str = GAIN
) -> Path:
    """Write a version of the gain module (or of `text`, formatted alike); its path."""
    path = folder / name
    path.write_text(text.format(factor=factor, width=width))
    return path
