"""Checking that a block call allocates nothing once warm.

pytest-xdist runs a thread beside each test that reads the next batch of work from its
controller, and tracemalloc counts every thread. So what a call *holds* afterwards is
counted only from allocations whose stack passes through this test directory, that is,
made by the thread running the test; a peak cannot be told apart by thread, so it is
measured again (up to `ATTEMPTS` times) until one measurement had no other thread in
it, and a real allocation, which happens every time, still fails.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ATTEMPTS = 3
FRAMES = 64
_TESTS = str(Path(__file__).resolve().parents[1])
_THIS_THREAD = (
    tracemalloc.Filter(True, _TESTS + "/*", all_frames=True),
    tracemalloc.Filter(False, tracemalloc.__file__),  # the snapshots themselves
    tracemalloc.Filter(False, __file__),  # the bookkeeping here
)


@dataclass(frozen=True)
class Traced:
    """What one traced run allocated: `held` bytes still held afterwards by the thread
    running the test, `peak` bytes above the start at the highest point (all threads),
    and the sites that grew the most, for a failure message."""

    held: int
    peak: int
    sites: tuple[str, ...]


def traced(run: Callable[[], object]) -> Traced:
    """Run `run` once under tracemalloc and say what it allocated."""
    tracemalloc.start(FRAMES)
    try:
        start = tracemalloc.take_snapshot().filter_traces(_THIS_THREAD)
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        run()
        _, peak = tracemalloc.get_traced_memory()
        end = tracemalloc.take_snapshot().filter_traces(_THIS_THREAD)
    finally:
        tracemalloc.stop()
    grown = [d for d in end.compare_to(start, "lineno") if d.size_diff > 0]
    return Traced(
        held=sum(d.size_diff for d in end.compare_to(start, "filename")),
        peak=peak - before,
        sites=tuple(str(d) for d in grown[:5]),
    )


def least_peak(measure: Callable[[], Traced], bound: int) -> Traced:
    """`measure` (which sets up afresh and returns `traced(...)`) again until its peak is
    under `bound`, at most `ATTEMPTS` times; the last measurement if none was."""
    for _ in range(ATTEMPTS - 1):
        result = measure()
        if result.peak < bound:
            return result
    return measure()


def assert_allocates_nothing(
    call: Callable[[], object], times: int = 1000, held: int = 2048, peak: int = 16384
) -> None:
    """`call` 20 times to warm up, then `times` times under tracemalloc: the memory held
    afterwards grows by less than `held` bytes, and its peak by less than `peak`."""
    for _ in range(20):
        call()

    def repeat() -> None:
        for _ in range(times):
            call()

    def measure() -> Traced:
        return traced(repeat)

    result = least_peak(measure, peak)
    assert result.held < held, result.sites
    assert result.peak < peak, result.sites
