"""The engine's samples on JACK's frames: where a MIDI event goes in a period.

The audio I/O hands block *k* (samples `k * block` on) to JACK in a process cycle, so sample
*s* leaves on frame `s + delta`, where `delta` is that cycle's first frame less `k * block`.
The I/O's counters (shared memory) say how many blocks it has handed over and when the last
one was (`IoField.CONSUMED`, `IoField.LAST_BLOCK_NS`, monotonic, taken as its callback
starts). The MIDI process reads them in its own JACK callback: if the last block was handed
over in this cycle (after the cycle began, less some slack for JACK's estimate of when it
began), that block is this cycle's; if not, the I/O has yet to run in this cycle, and the
next block will be. So `delta` is read afresh every cycle, exact to the frame, and follows
the I/O wherever an xrun or a skip moves it (a clock from time alone did not: measured, a
JACK xrun moved the audio three periods against a mapping from the monotonic clock).

>>> period_ns = 2_666_667
>>> block_this_cycle(consumed=10, last_ns=5_000_050_000, cycle_start_ns=5_000_000_000,
...                  slack_ns=period_ns // 4)
9
>>> block_this_cycle(10, last_ns=5_000_000_000 - period_ns, cycle_start_ns=5_000_000_000,
...                  slack_ns=period_ns // 4)
10
>>> frame_delta(cycle_frame=100_000, block_index=9, block=128)
98848
"""

from __future__ import annotations

__all__ = ["block_this_cycle", "frame_delta"]


def block_this_cycle(consumed: int, last_ns: int, cycle_start_ns: float, slack_ns: int) -> int:
    """The block the audio I/O hands JACK in the cycle that began at `cycle_start_ns`, from
    its counters read during that cycle."""
    if last_ns >= cycle_start_ns - slack_ns:
        return consumed - 1
    return consumed


def frame_delta(cycle_frame: int, block_index: int, block: int) -> int:
    """Frame less sample, block `block_index` leaving on the cycle from `cycle_frame`."""
    return cycle_frame - block_index * block
