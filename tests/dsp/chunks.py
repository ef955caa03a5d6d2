"""Probes of the render path: rendering in chunks (block-size invariance), state hand-over."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Processor
from chronus.dsp.render import Renderer
from chronus.protocol import Message


def render_in_chunks(
    cmds: Iterable[tuple[int, Message]],
    frames: int,
    chunk: int,
    max_block: int,
    rate: int = 48000,
    fire_ahead: bool = True,
) -> npt.NDArray[np.float32]:
    """Render `frames` frames, `chunk` at a time, through one Renderer; no command may fail.
    `fire_ahead`: see `Renderer.fire_ahead`."""
    renderer = Renderer(rate, max_block)
    renderer.fire_ahead = fire_ahead
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


def rendered(
    cmds: Iterable[tuple[int, Message]], chunks: int, chunk: int, rate: int = 48000
) -> Renderer:
    """A renderer (128-frame max block) that has rendered `chunks` chunks of `chunk` frames."""
    renderer = Renderer(rate, 128)
    for sample, msg in cmds:
        renderer.schedule(sample, msg)
    out = np.zeros((128, 2), dtype=np.float32)
    for _ in range(chunks):
        renderer.render(out, chunk)
    return renderer


def assert_hand_over_bit_identical(
    a: Renderer, state: dict[str, Any], blocks: int = 60
) -> npt.NDArray[np.float32]:
    """A fresh renderer loaded with `state` (pickled, as between slots) continues exactly as
    `a` does, block after block; returns what `a` rendered meanwhile."""
    b = Renderer(a.sample_rate, a.max_block)
    b.load_state(pickle.loads(pickle.dumps(state)))
    assert b.position == a.position and b.pending == a.pending
    played = np.zeros((blocks * 128, 2), dtype=np.float32)
    out_b = np.zeros((128, 2), dtype=np.float32)
    for i in range(blocks):
        out_a = played[i * 128 : (i + 1) * 128]
        a.render(out_a, 128)
        b.render(out_b, 128)
        np.testing.assert_array_equal(out_a, out_b)
    return played


def process_in_chunks(
    module: Processor, x: npt.NDArray[np.float64], chunk: int, mono: bool = False
) -> npt.NDArray[np.float64]:
    """`x` through a processor on its own, `chunk` frames at a time: stereo `x` (frames, 2)
    through `process_stereo`, or with `mono` a mono `x` through `process_mono`."""
    shape = (module.max_block,) if mono else (module.max_block, 2)
    inp, buf = np.zeros(shape), np.zeros(shape)
    process = module.process_mono if mono else module.process_stereo
    out = np.zeros_like(x)
    for start in range(0, x.shape[0], chunk):
        n = min(chunk, x.shape[0] - start)
        inp[:n] = x[start : start + n]
        process(inp, buf, n)
        out[start : start + n] = buf[:n]
    return out
