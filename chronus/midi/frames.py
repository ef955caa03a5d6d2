"""The engine's samples on JACK's frame clock: where a MIDI event goes in a period.

The audio I/O hands block *k* (samples `k * block` on) to JACK in the process cycle that
starts when its callback runs, so sample *s* leaves on frame `s + delta`, where `delta` is
that cycle's first frame less `k * block`. The engine's `SampleClock` says when sample 0
would have been handed over (monotonic ns; callbacks come at a cycle's start, a little
after), and JACK's frame clock runs on the same monotonic clock (`jack_frame_time`), so
the handover time of a block gives a frame a little after its cycle's start. Cycles start
on a grid one period apart (any `last_frame_time` is on it), and the frame snaps to the
grid point at or before it, with a quarter of a period of slack for noise either way.
While no xrun moves the grid or the clock, `delta` stays exactly the same.

>>> [cycle_delta(frame, 3, block=128, cycle_frame=3, period=128) for frame in (1030.0, 1120.0)]
[643, 643]
>>> [cycle_delta(frame, 3, block=128, cycle_frame=3, period=128) for frame in (1000.0, 990.0)]
[643, 515]
"""

from __future__ import annotations

__all__ = ["cycle_delta", "handover_frame"]


def cycle_delta(
    handover_frame: float, block_index: int, block: int, cycle_frame: int, period: int
) -> int:
    """`delta` (frame less sample) from the frame at which block `block_index` was handed
    over, with any cycle's first frame `cycle_frame` to place the grid."""
    cycles = round((handover_frame - period / 4.0 - cycle_frame) / period)
    return cycle_frame + cycles * period - block_index * block


def handover_frame(
    offset_ns: float, block_index: int, block: int, rate: int, now_ns: float, now_frame: int
) -> float:
    """The JACK frame at which block `block_index` was handed over: its monotonic time from
    the sample clock's `offset_ns`, on JACK's clock read as `now_frame` at `now_ns`.

    >>> handover_frame(1e9, 10, 128, 48000, now_ns=1e9 + 53_333_333, now_frame=5000)
    3720.0
    """
    handed_ns = offset_ns + block_index * block * 1e9 / rate
    return round(now_frame + (handed_ns - now_ns) * rate / 1e9, 3)
