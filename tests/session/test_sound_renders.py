"""Every named sound, played by the offline renderer (the engine's own DSP): finite, heard,
and with headroom — a recipe's values are levels an engineer would start from (the engine's
default synths and drums peak around -19 to -10 dBFS in the same scripts)."""

from __future__ import annotations

import numpy as np
import pytest

from chronus.dsp.specs import DRUM_TYPES
from chronus.lang.sounds import SOUNDS, Sound
from chronus.session.offline import render_script
from chronus.session.script import load_script

_CHORDS = {"pad", "supersaw"}


def _script(sound: Sound) -> str:
    if sound.head.type in DRUM_TYPES:
        notes = "snd x . . . x . x . every 8th"
    elif sound.name in _CHORDS:
        notes = "play c4 minor chord on snd for 3 beats"
    elif sound.name == "pluck":
        notes = "snd c4 eb4 g4 c5 . . . . every 16th"
    else:
        notes = "snd c2 c2 eb2 g2 c3 c2 bb1 c2 every 16th"
    return f"tempo 120\nadd {sound.spoken} called snd\n{notes}\nwait 2 bars\n"


@pytest.mark.parametrize("sound", SOUNDS.values(), ids=list(SOUNDS))
def test_a_sound_renders_heard_and_unclipped(sound: Sound) -> None:
    audio = render_script(load_script(_script(sound)), seconds=4.0, tail=0.0)
    assert np.isfinite(audio).all()
    peak = float(np.abs(audio).max())
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert 0.05 < peak < 0.5, peak  # -26 to -6 dBFS
    assert rms > 0.005, rms
