"""Offline rendering of a script: the slots' renderer, in-process, as fast as it goes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chronus.dsp.render import render_offline
from chronus.session.script import Script, sample_of

__all__ = ["render_script", "script_frames"]


def script_frames(script: Script, rate: int, seconds: float | None, tail: float) -> int:
    """How many frames a render lasts: `seconds` if given, else the script plus its tail."""
    length = seconds if seconds is not None else float(script.duration) + tail
    return max(0, round(length * rate))


def render_script(
    script: Script, rate: int = 48000, seconds: float | None = None, tail: float = 2.0,
    block: int = 512,
) -> npt.NDArray[np.float32]:  # fmt: skip
    """Render a script to (frames, 2) float32. Same script ⇒ same samples, bit for bit."""
    commands = [(sample_of(timed.time, rate), timed.message) for timed in script.messages]
    return render_offline(commands, script_frames(script, rate, seconds, tail), rate, block)
