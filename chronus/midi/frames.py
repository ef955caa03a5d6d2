"""The engine's samples on JACK's frames: where a MIDI event goes in a period.

The audio I/O hands block *k* (samples `k * block` on) to JACK in a process cycle, so sample
*s* leaves on frame `s + delta`, where `delta` is that cycle's first frame less `k * block`.
As its callback begins, the I/O writes which block it hands over and when it began, in one
word (`IoField.HANDING`). The MIDI process reads it in its own JACK callback: if that
began in this cycle (after the cycle's start, less some slack for JACK's estimate of when
it started), the block is this cycle's; if not, the I/O has yet to run in this cycle, and
the next block will be. So `delta` is read afresh every cycle, exact to the frame, and
follows the I/O wherever an xrun or a skip moves it (a mapping through the monotonic clock
did not: measured, a JACK xrun moved the audio three periods against it).

>>> period_us, cycle_us = 2667, 5_000_000
>>> handing = 9 << HANDING_US_BITS | (cycle_us + 40) % (1 << HANDING_US_BITS)
>>> block_this_cycle(handing, cycle_us, slack_us=period_us // 4)
9
>>> handing = 9 << HANDING_US_BITS | (cycle_us - period_us + 40) % (1 << HANDING_US_BITS)
>>> block_this_cycle(handing, cycle_us, slack_us=period_us // 4)
10
>>> frame_delta(cycle_frame=100_000, block_index=9, block=128)
98848
"""

from __future__ import annotations

from chronus.engine.stats import HANDING_US_BITS

__all__ = ["block_this_cycle", "frame_delta"]

_WRAP = 1 << HANDING_US_BITS


def block_this_cycle(handing: int, cycle_start_us: int, slack_us: int) -> int:
    """The block the audio I/O hands JACK in the cycle that began at `cycle_start_us`
    (monotonic), from its `IoField.HANDING` word read during that cycle."""
    block, began_us = handing >> HANDING_US_BITS, handing & (_WRAP - 1)
    since = (began_us - cycle_start_us + _WRAP // 2) % _WRAP - _WRAP // 2  # wraps each ~1 s
    return block if since >= -slack_us else block + 1


def frame_delta(cycle_frame: int, block_index: int, block: int) -> int:
    """Frame less sample, block `block_index` leaving on the cycle from `cycle_frame`."""
    return cycle_frame - block_index * block
