"""Checking that a block call allocates nothing once warm."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable


def assert_allocates_nothing(call: Callable[[], object], times: int = 1000) -> None:
    """`call` 20 times to warm up, then `times` times under tracemalloc: the memory held
    afterwards grows by less than 2 KiB, and its peak by less than 16 KiB."""
    for _ in range(20):
        call()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(times):
            call()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 2048
    assert peak - before < 16384
