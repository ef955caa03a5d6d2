"""Rendering stamped commands in chunks of a given size: the block-size invariance probe."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from chronus.dsp.render import Renderer
from chronus.protocol import Message


def render_in_chunks(
    cmds: Iterable[tuple[int, Message]], frames: int, chunk: int, max_block: int, rate: int = 48000
) -> npt.NDArray[np.float32]:
    """Render `frames` frames, `chunk` at a time, through one Renderer; no command may fail."""
    renderer = Renderer(rate, max_block)
    for sample, msg in cmds:
        renderer.schedule(sample, msg)
    out = np.zeros((frames, 2), dtype=np.float32)
    for start in range(0, frames, chunk):
        n = min(chunk, frames - start)
        renderer.render(out[start : start + n], n)
    assert renderer.error_count == 0, list(renderer.errors)
    return out


def assert_block_size_invariant(
    cmds: list[tuple[int, Message]], frames: int, rate: int = 48000
) -> None:
    """Rendering at once and in chunks of 1, 17, 64, 128 and 512 gives identical samples."""
    whole = render_in_chunks(cmds, frames, frames, frames, rate)
    assert np.abs(whole).max() > 0.05, "the probe must make sound"
    for chunk in (1, 17, 64, 128, 512):
        np.testing.assert_array_equal(
            render_in_chunks(cmds, frames, chunk, 512, rate), whole, err_msg=str(chunk)
        )
