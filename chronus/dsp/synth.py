"""Polyphonic acid synths: per voice two oscillators or a noise source → enveloped low-pass →
drive → ADSR."""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import idle, kernels
from chronus.dsp.module import PARAM_PREFIX, Module, StateValue, velocity_gain
from chronus.dsp.params import smoothing_coef
from chronus.dsp.specs import TYPE_SPECS

__all__ = [
    "NOTES_AHEAD",
    "VOICES",
    "NoiseSynth",
    "PinkSynth",
    "SawSynth",
    "SineSynth",
    "SquareSynth",
    "Synth",
    "TriangleSynth",
    "midi_hz",
]

VOICES = 8
"""The default polyphony (the `voices` parameter)."""
LOG_10E3 = math.log(1e-3)
"""Decay and release times are the time to fall by 60 dB."""

NOTES_AHEAD = 16
"""How many notes a synth takes inside one block (`note_at`); more split the block."""

IDLE, ATTACK, DECAY, RELEASE = 0, 1, 2, 3
SMOOTHED = ("cutoff", "res", "amp", "env_amount", "drive", "bend")
"""Parameters smoothed per sample inside the kernel, in the column order of `_smooth`."""


def midi_hz(midi: float) -> float:
    """Equal-tempered frequency, A4 (69) = 440 Hz."""
    return 440.0 * float(2.0 ** ((midi - 69.0) / 12.0))


class Synth(Module):
    """A polyphonic synth of `voices` voices (default `VOICES`) with oldest-voice stealing.

    Each voice is the acid chain of the DSP issue's reference workload: oscillator(s) →
    resonant low-pass whose cutoff a per-note envelope opens to cutoff × (1 + `env_amount`)
    and lets fall in `env_decay` → tanh `drive` → ADSR. All voices render in one kernel call.
    With the defaults (`env_amount` 0, `drive` 0) it is a plain subtractive synth.

    Subclasses only choose the waveform. The noise waves (`noise`, `pink`) have no pitch: a
    note's number, `detune` and `glide` change nothing (the note still chooses a voice and its
    velocity sets the level); each voice draws from its own seeded xorshift held in the
    voice state, so renders, chunkings and state hand-overs give identical samples. A stolen
    voice keeps its phase, level and filter memory and attacks from where it was, so stealing
    does not click. Changing `voices` reallocates the voice arrays (a control-path operation,
    never inside `process`).
    """

    WAVE: ClassVar[int] = kernels.WAVE_SAW

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._voices = 0
        self._salt = 0
        self._fv = np.zeros((0, kernels.VOICE_FLOATS))
        self._iv = np.zeros((0, kernels.VOICE_INTS), dtype=np.int64)
        self._smooth = np.zeros((3, kernels.SMOOTH_PARAMS))
        """Rows: current, target, per-sample coefficient of the `SMOOTHED` parameters."""
        self._settings = np.zeros(kernels.SYNTH_SETTINGS)
        self._settings[6] = float(sample_rate)
        self._controls = np.zeros((kernels.CONTROL_ROWS, self.max_block))
        self._clock = np.zeros(1, dtype=np.int64)
        self._next_serial = 1
        self._last_inc = 0.0
        self.bind_kernels()
        self._last_midi = 60.0
        self._last_velocity = 100.0
        self._gate_open = False
        self._ahead = np.zeros((NOTES_AHEAD, kernels.AHEAD_COLUMNS))
        # Flat, and quicker to set a number in than the array.
        self._ahead_cells = cast("memoryview[float]", self._ahead.reshape(-1).data)
        self._ahead_count = 0
        self._allocate(round(self._values["voices"]))
        for slot, name in enumerate(SMOOTHED):
            self._smooth[2, slot] = smoothing_coef(self._specs[name].smoothing_ms, sample_rate)
        self._init_params()
        np.copyto(self._smooth[0], self._smooth[1])

    @property
    def voices(self) -> int:
        """How many notes can sound at once (the `voices` parameter)."""
        return self._voices

    def _seed(self, voice: int) -> int:
        return kernels.noise_seed(self.WAVE + (self._salt << 4), voice)

    def reseed(self, salt: int) -> None:
        """Give every voice a noise seed derived from `salt` (see `Module.reseed`)."""
        self._salt = salt & 0xFFFFFFFF
        self._iv[:, kernels.I_RNG] = [self._seed(v) for v in range(self._voices)]

    def _allocate(self, voices: int) -> None:
        """(Re)size the per-voice state to `voices`, keeping the voices that still fit."""
        if voices == self._voices:
            return
        keep = min(self._voices, voices)
        fv = np.zeros((voices, kernels.VOICE_FLOATS))
        fv[:, kernels.F_STALE] = -1.0
        iv = np.zeros((voices, kernels.VOICE_INTS), dtype=np.int64)
        iv[:, kernels.I_REMAINING] = -1
        iv[:, kernels.I_RNG] = [self._seed(v) for v in range(voices)]
        fv[:keep] = self._fv[:keep]
        iv[:keep] = self._iv[:keep]
        self._fv, self._iv, self._voices = fv, iv, voices
        # Column views: the Python side (voice picking, state) works on named arrays.
        self._phase = fv[:, kernels.F_PHASE0 : kernels.F_PHASE1 + 1]
        self._cur_inc = fv[:, kernels.F_CUR_INC]
        self._base_inc = fv[:, kernels.F_BASE_INC]
        self._level = fv[:, kernels.F_LEVEL]
        self._vgain = fv[:, kernels.F_VGAIN]
        self._ic = fv[:, kernels.F_IC1 : kernels.F_IC2 + 1]
        self._fenv = fv[:, kernels.F_FENV]
        self._coefs = fv[:, kernels.F_STALE : kernels.F_C2S + 1]
        self._stage = iv[:, kernels.I_STAGE]
        self._remaining = iv[:, kernels.I_REMAINING]
        self._serial = iv[:, kernels.I_SERIAL]
        self._rng = iv[:, kernels.I_RNG]
        self._pink = fv[:, kernels.F_PINK0 : kernels.F_PINK0 + 7]

    def _param_changed(self, name: str, value: float) -> None:
        sr = self.sample_rate
        settings = self._settings
        if name == "cutoff":
            self._smooth[1, 0] = math.log2(value)
        elif name == "res":
            self._smooth[1, 1] = value
        elif name == "amp":
            self._smooth[1, 2] = value
        elif name == "attack":
            settings[0] = 1.0 if value * sr <= 1.0 else 1.0 / (value * sr)
        elif name == "decay":
            settings[1] = math.exp(LOG_10E3 / max(value * sr, 1.0))
        elif name == "sustain":
            settings[2] = value
        elif name == "release":
            settings[3] = math.exp(LOG_10E3 / max(value * sr, 1.0))
        elif name == "env_amount":
            self._smooth[1, 3] = value
        elif name == "env_decay":
            settings[4] = math.exp(-4.0 / max(value * sr, 1.0))
        elif name == "drive":
            self._smooth[1, 4] = value
        elif name == "bend":
            self._smooth[1, 5] = value / 1200.0
        elif name == "detune":
            settings[7] = 2.0 ** (-value / 2400.0)
            settings[8] = 2.0 ** (value / 2400.0)
        elif name == "glide":
            settings[5] = smoothing_coef(value * 1000.0, sr)
        elif name == "voices":
            self._allocate(round(value))

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """Start a note; see `Module.note_on`. The pitch is exact: 440·2^((midi−69)/12).

        The voice is an idle one, else the oldest releasing one, else the oldest of all.
        """
        if velocity <= 0.0:
            return
        inc, start, gain, serial = self._next_note(midi, velocity)
        kernels.synth_note_on(self._fv, self._iv, inc, start, int(length), gain, serial)

    def _next_note(self, midi: float, velocity: float) -> tuple[float, float, float, int]:
        """A note's increment, glide start, gain and serial; the synth now remembers it."""
        inc = midi_hz(midi) / self.sample_rate
        glide = self._values["glide"] > 0.0 and self._last_inc > 0.0
        start = self._last_inc if glide else inc
        serial = self._next_serial
        self._next_serial += 1
        self._last_inc = inc
        self._last_midi = midi
        self._last_velocity = velocity
        return inc, start, velocity_gain(velocity), serial

    def bind_kernels(self) -> None:
        """See `Module.bind_kernels`."""
        self._block = kernels.entry(kernels.synth_block)
        self._block_ahead = kernels.entry(kernels.synth_block_ahead)
        self._voices_quiet = kernels.entry(idle.voices_quiet)

    def can_note_at(self) -> bool:
        """Room for one more note inside the next block (see `Module.note_at`)."""
        return self._ahead_count < NOTES_AHEAD

    def note_at(self, at: int, midi: float, velocity: float, length: int) -> None:
        """See `Module.note_at`: the kernel starts it at its sample."""
        if velocity <= 0.0:
            return
        inc, start, gain, serial = self._next_note(midi, velocity)
        row, cells = self._ahead_count * kernels.AHEAD_COLUMNS, self._ahead_cells
        cells[row], cells[row + 1], cells[row + 2] = at, inc, start
        cells[row + 3], cells[row + 4], cells[row + 5] = length, gain, serial
        self._ahead_count += 1

    def flush_notes(self) -> None:
        """See `Module.flush_notes`."""
        for row in self._ahead[: self._ahead_count]:
            kernels.synth_note_on(
                self._fv, self._iv, row[1], row[2], int(row[3]), row[4], int(row[5])
            )
        self._ahead_count = 0

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
        self._fenv[:] = 0.0
        self._remaining[:] = -1
        self._gate_open = False

    def quiet(self) -> bool:
        """No voice sounds and no smoothed parameter moves: a block would write zeros."""
        return self._voices_quiet(self._iv, self._smooth)

    def skip(self, n: int) -> None:
        """Only the control clock (on the absolute sample grid) moves while quiet."""
        self._clock[0] = (self._clock[0] + n) % kernels.CTRL_PERIOD

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """WRITE `n` samples into `out[:n]` (starting the notes `note_at` left on the way)."""
        if self._ahead_count:
            count, self._ahead_count = self._ahead_count, 0
            self._block_ahead(
                out, n, self.WAVE, self._fv, self._iv, self._smooth, self._controls,
                self._settings, self._clock, self._ahead, count,
            )  # fmt: skip
            return
        self._block(
            out, n, self.WAVE, self._fv, self._iv, self._smooth, self._controls, self._settings,
            self._clock,
        )  # fmt: skip

    def load_state(self, state: dict[str, StateValue]) -> None:
        """See `Module.load_state`; the voice count comes from the state."""
        voices = state.get(PARAM_PREFIX + "voices")
        if not isinstance(voices, int | float) or not math.isfinite(voices):
            raise ValueError(f"{self.TYPE} state: parameter voices missing")
        previous = self._voices
        self._allocate(round(voices))
        try:
            super().load_state(state)
        except ValueError:
            self._allocate(previous)
            raise

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "phase": self._phase, "cur_inc": self._cur_inc, "base_inc": self._base_inc,
            "level": self._level, "stage": self._stage, "remaining": self._remaining,
            "vgain": self._vgain, "serial": self._serial, "ic": self._ic, "fenv": self._fenv,
            "coefs": self._coefs, "clock": self._clock, "smooth_cur": self._smooth[0],
            "rng": self._rng, "pink": self._pink,
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
    """Polyphonic saw, band-limited (a ±12-sample band-limited step at each wrap)."""

    TYPE = "saw"
    PARAMS = TYPE_SPECS["saw"]
    WAVE = kernels.WAVE_SAW


class SineSynth(Synth):
    """Polyphonic sine."""

    TYPE = "sine"
    PARAMS = TYPE_SPECS["sine"]
    WAVE = kernels.WAVE_SINE


class SquareSynth(Synth):
    """Polyphonic square, band-limited like the saw."""

    TYPE = "square"
    PARAMS = TYPE_SPECS["square"]
    WAVE = kernels.WAVE_SQUARE


class TriangleSynth(Synth):
    """Polyphonic triangle, its corners band-limited (the step's integral)."""

    TYPE = "triangle"
    PARAMS = TYPE_SPECS["triangle"]
    WAVE = kernels.WAVE_TRIANGLE


class NoiseSynth(Synth):
    """Polyphonic white noise (flat spectrum); pitch is ignored."""

    TYPE = "noise"
    PARAMS = TYPE_SPECS["noise"]
    WAVE = kernels.WAVE_NOISE


class PinkSynth(Synth):
    """Polyphonic pink noise (−3 dB/octave, Kellet's filter); pitch is ignored."""

    TYPE = "pink"
    PARAMS = TYPE_SPECS["pink"]
    WAVE = kernels.WAVE_PINK
