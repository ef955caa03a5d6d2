"""Polyphonic subtractive synths: two oscillators, low-pass SVF and ADSR per voice."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.module import Module, StateValue, velocity_gain
from chronus.dsp.params import smoothing_coef
from chronus.dsp.specs import TYPE_SPECS

__all__ = ["VOICES", "SawSynth", "SineSynth", "SquareSynth", "Synth", "TriangleSynth", "midi_hz"]

VOICES = 8
LOG_10E3 = math.log(1e-3)
"""Decay and release times are the time to fall by 60 dB."""

IDLE, ATTACK, DECAY, RELEASE = 0, 1, 2, 3
SMOOTHED = ("cutoff", "res", "amp")
"""Parameters smoothed per sample inside the kernel, in `smooth_*` slot order."""


def midi_hz(midi: float) -> float:
    """Equal-tempered frequency, A4 (69) = 440 Hz."""
    return 440.0 * float(2.0 ** ((midi - 69.0) / 12.0))


class Synth(Module):
    """A polyphonic synth of `VOICES` voices with oldest-voice stealing.

    Subclasses only choose the waveform. A stolen voice keeps its phase, level and filter
    memory and attacks from where it was, so stealing does not click.
    """

    WAVE: ClassVar[int] = kernels.WAVE_SAW

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        v = VOICES
        self._phase = np.zeros(2 * v)
        self._cur_inc = np.zeros(v)
        self._base_inc = np.zeros(v)
        self._ratio = np.ones(2)
        self._level = np.zeros(v)
        self._stage = np.zeros(v, dtype=np.int64)
        self._remaining = np.full(v, -1, dtype=np.int64)
        self._vgain = np.zeros(v)
        self._serial = np.zeros(v, dtype=np.int64)
        self._ic = np.zeros(2 * v)
        self._smooth_cur = np.zeros(3)
        self._smooth_tgt = np.zeros(3)
        self._smooth_coef = np.ones(3)
        self._env = np.zeros(4)
        self._glide_coef = 1.0
        self._next_serial = 1
        self._last_inc = 0.0
        self._last_midi = 60.0
        self._last_velocity = 100.0
        self._gate_open = False
        for slot, name in enumerate(SMOOTHED):
            self._smooth_coef[slot] = smoothing_coef(self._specs[name].smoothing_ms, sample_rate)
        self._init_params()
        np.copyto(self._smooth_cur, self._smooth_tgt)

    def _param_changed(self, name: str, value: float) -> None:
        sr = self.sample_rate
        if name == "cutoff":
            self._smooth_tgt[0] = math.log2(value)
        elif name == "res":
            self._smooth_tgt[1] = value
        elif name == "amp":
            self._smooth_tgt[2] = value
        elif name == "attack":
            self._env[0] = 1.0 if value * sr <= 1.0 else 1.0 / (value * sr)
        elif name == "decay":
            self._env[1] = math.exp(LOG_10E3 / max(value * sr, 1.0))
        elif name == "sustain":
            self._env[2] = value
        elif name == "release":
            self._env[3] = math.exp(LOG_10E3 / max(value * sr, 1.0))
        elif name == "detune":
            self._ratio[0] = 2.0 ** (-value / 2400.0)
            self._ratio[1] = 2.0 ** (value / 2400.0)
        elif name == "glide":
            self._glide_coef = smoothing_coef(value * 1000.0, sr)

    def _pick_voice(self) -> int:
        """An idle voice, else the oldest releasing one, else the oldest of all."""
        idle = np.flatnonzero(self._stage == IDLE)
        if idle.size:
            return int(idle[0])
        releasing = np.flatnonzero(self._stage == RELEASE)
        pool = releasing if releasing.size else np.arange(VOICES)
        return int(pool[np.argmin(self._serial[pool])])

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """Start a note; see `Module.note_on`. The pitch is exact: 440·2^((midi−69)/12)."""
        if velocity <= 0.0:
            return
        v = self._pick_voice()
        inc = midi_hz(midi) / self.sample_rate
        if self._stage[v] == IDLE:
            self._phase[2 * v : 2 * v + 2] = 0.0
            self._level[v] = 0.0
            self._ic[2 * v : 2 * v + 2] = 0.0
        glide = self._values["glide"] > 0.0 and self._last_inc > 0.0
        self._cur_inc[v] = self._last_inc if glide else inc
        self._base_inc[v] = inc
        self._stage[v] = ATTACK
        self._remaining[v] = length
        self._vgain[v] = velocity_gain(velocity)
        self._serial[v] = self._next_serial
        self._next_serial += 1
        self._last_inc = inc
        self._last_midi = midi
        self._last_velocity = velocity

    def gate(self, on: bool) -> None:
        """Open: hold a note at the last pitch and velocity. Close: release every note."""
        if on and not self._gate_open:
            self.note_on(self._last_midi, self._last_velocity, -1)
        elif not on:
            self.release_all()
        self._gate_open = on

    def release_all(self) -> None:
        """Release every voice that is still in its attack, decay or sustain."""
        gated = (self._stage == ATTACK) | (self._stage == DECAY)
        self._remaining[gated] = 0
        self._gate_open = False

    def silence(self) -> None:
        """Stop every voice now and clear filter memories."""
        self._stage[:] = IDLE
        self._level[:] = 0.0
        self._ic[:] = 0.0
        self._remaining[:] = -1
        self._gate_open = False

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """WRITE `n` samples into `out[:n]`."""
        kernels.synth_block(
            out, n, self.WAVE, self._phase, self._cur_inc, self._base_inc, self._ratio,
            self._glide_coef, self._level, self._stage, self._remaining, self._vgain, self._ic,
            self._smooth_cur, self._smooth_tgt, self._smooth_coef, self._env,
            float(self.sample_rate),
        )  # fmt: skip

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "phase": self._phase, "cur_inc": self._cur_inc, "base_inc": self._base_inc,
            "level": self._level, "stage": self._stage, "remaining": self._remaining,
            "vgain": self._vgain, "serial": self._serial, "ic": self._ic,
            "smooth_cur": self._smooth_cur,
        }  # fmt: skip

    def _state_scalars(self) -> dict[str, float | int]:
        return {
            "next_serial": self._next_serial, "last_inc": self._last_inc,
            "last_midi": self._last_midi, "last_velocity": self._last_velocity,
            "gate_open": int(self._gate_open),
        }  # fmt: skip

    def _load_scalars(self, state: dict[str, StateValue]) -> None:
        self._next_serial = int(state["next_serial"])
        self._last_inc = float(state["last_inc"])
        self._last_midi = float(state["last_midi"])
        self._last_velocity = float(state["last_velocity"])
        self._gate_open = bool(state["gate_open"])


class SawSynth(Synth):
    """Polyphonic saw (PolyBLEP)."""

    TYPE = "saw"
    PARAMS = TYPE_SPECS["saw"]
    WAVE = kernels.WAVE_SAW


class SineSynth(Synth):
    """Polyphonic sine."""

    TYPE = "sine"
    PARAMS = TYPE_SPECS["sine"]
    WAVE = kernels.WAVE_SINE


class SquareSynth(Synth):
    """Polyphonic square (PolyBLEP)."""

    TYPE = "square"
    PARAMS = TYPE_SPECS["square"]
    WAVE = kernels.WAVE_SQUARE


class TriangleSynth(Synth):
    """Polyphonic triangle."""

    TYPE = "triangle"
    PARAMS = TYPE_SPECS["triangle"]
    WAVE = kernels.WAVE_TRIANGLE
