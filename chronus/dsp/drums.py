"""One-shot drum voices: kick, snare and hi-hat.

A hit restarts the voice (a drum machine's choke). Drums ignore pitch and note length; the
`tune` parameter sets their pitch. Noise comes from a per-module xorshift seed, so two
renders of the same commands are identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.module import Module, StateValue, velocity_gain
from chronus.dsp.specs import TYPE_SPECS

__all__ = ["Drum", "Hat", "Kick", "Snare"]

LOG_10E3 = math.log(1e-3)
NOISE_SEED = 0x2545F491
DRUM_NOISE_STREAM = 16
"""Noise stream of the drums for `kernels.noise_seed` (the synths use their waveform number)."""


def decay_coef(seconds: float, sample_rate: int) -> float:
    """Per-sample factor that falls by 60 dB in `seconds`."""
    return math.exp(LOG_10E3 / max(seconds * sample_rate, 1.0))


DrumKernel = Callable[
    [
        npt.NDArray[np.float64],
        int,
        npt.NDArray[np.float64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
    ],
    None,
]


class Drum(Module):
    """Shared plumbing of the drum voices: a state vector, settings vector and noise seed."""

    STATE_SIZE: ClassVar[int] = 0
    SETTINGS_SIZE: ClassVar[int] = 0
    GAIN: ClassVar[int] = 0
    """Index of the hit's gain in the state vector."""
    ACTIVE: ClassVar[int] = 0
    """Index of the flag in the state vector that is 0 once a hit has died away."""
    KERNEL: ClassVar[DrumKernel]
    """The voice's numba kernel: (out, n, state, rng, settings)."""

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._kernel = type(self).KERNEL
        self._s = np.zeros(self.STATE_SIZE)
        self._settings = np.zeros(self.SETTINGS_SIZE)
        self._rng = np.array([NOISE_SEED], dtype=np.int64)
        self._init_params()

    def _param_changed(self, name: str, value: float) -> None:
        if name in ("tune", "decay", "tone"):
            self._update_settings()

    def reseed(self, salt: int) -> None:
        """Draw the noise from a seed derived from `salt` (see `Module.reseed`)."""
        self._rng[0] = kernels.noise_seed(DRUM_NOISE_STREAM, salt & 0xFFFFFFFF)

    def _update_settings(self) -> None:
        """Hook: recompute `_settings` from the parameters."""

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """WRITE `n` samples into `out[:n]`."""
        self._kernel(out, n, self._s, self._rng, self._settings)

    def _trigger(self) -> None:
        """Hook: reset the state vector for a new hit (the gain is set afterwards)."""

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """Hit the drum; `midi` and `length` are ignored."""
        if velocity <= 0.0:
            return
        self._trigger()
        self._s[self.GAIN] = self._values["amp"] * velocity_gain(velocity)

    def gate(self, on: bool) -> None:
        """Opening the gate hits the drum at velocity 100; closing does nothing."""
        if on:
            self.note_on(60.0, 100.0, -1)

    def release_all(self) -> None:
        """Drums fade by themselves; nothing to release."""

    def quiet(self) -> bool:
        """No hit sounds: the kernel would write zeros and change nothing."""
        return bool(self._s[self.ACTIVE] == 0.0)

    def silence(self) -> None:
        """Stop the hit now."""
        self._s[:] = 0.0

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"voice": self._s, "rng": self._rng}

    def _load_scalars(self, state: dict[str, StateValue]) -> None:
        return None


class Kick(Drum):
    """A sine swept down from a few times its base pitch (50 Hz), with a click."""

    TYPE = "kick"
    PARAMS = TYPE_SPECS["kick"]
    STATE_SIZE = kernels.KICK_STATE
    KERNEL = kernels.kick_block
    SETTINGS_SIZE = 6
    GAIN = 4
    ACTIVE = 5

    def _update_settings(self) -> None:
        sr = self.sample_rate
        tone = self._values["tone"]
        self._settings[:] = (
            50.0 * 2.0 ** (self._values["tune"] / 12.0) / sr,
            2.0 + 4.0 * tone,
            decay_coef(0.12, sr),
            decay_coef(self._values["decay"], sr),
            decay_coef(0.006, sr),
            0.6 * tone,
        )

    def _trigger(self) -> None:
        self._s[:] = (0.0, 1.0, 1.0, 1.0, 0.0, 1.0)


class Snare(Drum):
    """Two sines (185 Hz and 1.78× that) for the body, band-passed noise for the snap."""

    TYPE = "snare"
    PARAMS = TYPE_SPECS["snare"]
    STATE_SIZE = kernels.SNARE_STATE
    KERNEL = kernels.snare_block
    SETTINGS_SIZE = 9
    GAIN = 4
    ACTIVE = 5
    K = 1.0

    def _update_settings(self) -> None:
        sr = self.sample_rate
        shift = 2.0 ** (self._values["tune"] / 12.0)
        decay = self._values["decay"]
        cutoff = min(1500.0 * 6.0 ** self._values["tone"] * shift, 0.45 * sr)
        a1, a2, a3 = kernels.svf_coefs(cutoff, self.K, float(sr))
        self._settings[:] = (
            185.0 * shift / sr,
            185.0 * 1.78 * shift / sr,
            decay_coef(0.6 * decay, sr),
            decay_coef(decay, sr),
            a1,
            a2,
            a3,
            self.K,
            self.K,
        )

    def _trigger(self) -> None:
        self._s[:6] = (0.0, 0.0, 1.0, 1.0, 0.0, 1.0)


class Hat(Drum):
    """Noise through a high-pass between 4 and 12 kHz, with a short decay."""

    TYPE = "hat"
    PARAMS = TYPE_SPECS["hat"]
    STATE_SIZE = kernels.HAT_STATE
    KERNEL = kernels.hat_block
    SETTINGS_SIZE = 5
    GAIN = 1
    ACTIVE = 2
    K = 1.0

    def _update_settings(self) -> None:
        sr = self.sample_rate
        shift = 2.0 ** (self._values["tune"] / 12.0)
        cutoff = min(4000.0 * 3.0 ** self._values["tone"] * shift, 0.45 * sr)
        a1, a2, a3 = kernels.svf_coefs(cutoff, self.K, float(sr))
        self._settings[:] = (decay_coef(self._values["decay"], sr), a1, a2, a3, self.K)

    def _trigger(self) -> None:
        self._s[:3] = (1.0, 0.0, 1.0)
