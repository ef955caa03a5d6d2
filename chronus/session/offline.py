"""Offline rendering of a script: the slots' renderer, in-process, as fast as it goes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.render import render_offline
from chronus.session.script import Script, ScriptError, sample_of

__all__ = ["check_script", "render_script", "script_frames"]


def script_frames(script: Script, rate: int, seconds: float | None, tail: float) -> int:
    """How many frames a render lasts: `seconds` if given, else the script plus its tail."""
    length = seconds if seconds is not None else float(script.duration) + tail
    return max(0, round(length * rate))


def check_script(script: Script) -> None:
    """Apply every message to a patch, as the engine would; `ScriptError` on the first refusal.

    The language already checks what it maps, but raw OSC lines are only checked for their
    form; this catches, say, a route into a synth before any audio is rendered.
    """
    patch = Patch()
    for timed in script.messages:
        try:
            patch.apply(timed.message)
        except PatchError as exc:
            text = " ".join(str(part) for part in timed.message.to_list())
            message = f"the engine refuses {text}: {exc}"
            raise ScriptError(script.source, timed.line, message) from exc


def render_script(
    script: Script, rate: int = 48000, seconds: float | None = None, tail: float = 2.0,
    block: int = 512,
) -> npt.NDArray[np.float32]:  # fmt: skip
    """Render a script to (frames, 2) float32. Same script ⇒ same samples, bit for bit.

    Raises `ScriptError` if the engine would refuse one of its messages.
    """
    check_script(script)
    commands = [(sample_of(timed.time, rate), timed.message) for timed in script.messages]
    return render_offline(commands, script_frames(script, rate, seconds, tail), rate, block)
