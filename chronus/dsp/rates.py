"""The sample rates and block sizes chronus renders at: one range for the engine, offline
renders and session logs, so a rate one of them accepts the others accept too."""

from __future__ import annotations

__all__ = ["MAX_BLOCK", "MAX_RATE", "MIN_RATE", "block_problem", "rate_problem"]

MIN_RATE = 8000
"""The lowest sample rate (Hz): telephone quality; below it even a bass line aliases."""
MAX_RATE = 192000
"""The highest sample rate (Hz) audio interfaces offer."""
MAX_BLOCK = 8192
"""The most frames per block: 170 ms at 48 kHz, far beyond any live use."""


def rate_problem(rate: int) -> str | None:
    """What is wrong with a sample rate, or None if chronus renders at it.

    >>> rate_problem(44100) is None
    True
    >>> rate_problem(1)
    'the sample rate must be 8000–192000 Hz, not 1'
    """
    if MIN_RATE <= rate <= MAX_RATE:
        return None
    return f"the sample rate must be {MIN_RATE}–{MAX_RATE} Hz, not {rate}"


def block_problem(block: int) -> str | None:
    """What is wrong with a block size, or None if chronus renders in it.

    >>> block_problem(0)
    'the block size must be 1–8192 frames, not 0'
    """
    if 1 <= block <= MAX_BLOCK:
        return None
    return f"the block size must be 1–{MAX_BLOCK} frames, not {block}"
