"""The module API: parameters as data, a block `process`, state as arrays and scalars."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from chronus.dsp.errors import PatchError
from chronus.dsp.kernels import same_values
from chronus.dsp.params import ParamSpec
from chronus.dsp.specs import suggest

__all__ = ["Module", "Processor", "StateValue", "Zeros", "velocity_gain"]


class Zeros(np.ndarray):
    """A state array that is all zeros, as a view that holds no data and pickles as its
    shape: a silent delay line is 1.5 MB of zeros, which a hand-over need not copy."""

    @classmethod
    def like(cls, array: npt.NDArray[Any]) -> Zeros:
        """Zeros of `array`'s shape and type."""
        return np.broadcast_to(np.zeros(1, dtype=array.dtype), array.shape).view(cls)

    def __reduce__(self) -> tuple[Any, ...]:
        return (np.zeros, (self.shape, self.dtype))


StateValue = npt.NDArray[Any] | float | int
"""What a module's state is made of: arrays (copied, or `Zeros`) and plain numbers."""

ZEROS_FROM = 4096
"""State arrays of at least this many elements are checked for silence and kept as `Zeros`."""

PARAM_PREFIX = "param."


def velocity_gain(velocity: float) -> float:
    """Amplitude of a MIDI velocity (0–127): a square law, so 64 is about −12 dB."""
    v = min(max(velocity, 0.0), 127.0) / 127.0
    return v * v


class Module:
    """Base of every sound-making module.

    A subclass sets `TYPE` and `PARAMS`, allocates its buffers in `__init__` (sized
    `max_block`) and then calls `_init_params()`. Its `process` must not allocate: the
    per-sample work lives in numba kernels that write into the given array.

    `volume` and `pan` are stored here like any other parameter, but the graph applies them.
    """

    TYPE: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[ParamSpec, ...]] = ()

    def __init__(self, sample_rate: int, max_block: int) -> None:
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self._specs = {spec.name: spec for spec in self.PARAMS}
        self._values = {spec.name: float(spec.default) for spec in self.PARAMS}
        self._modulated: dict[str, float] = {}
        self.ignores_notes = type(self).note_on is Module.note_on
        """Whether notes change nothing here (`note_on` is the default): the graph need not
        pass them on."""

    def _init_params(self) -> None:
        """Derive every coefficient from the defaults; call once buffers exist."""
        for name, value in self._values.items():
            self._param_changed(name, value)

    # -- parameters ---------------------------------------------------------------------

    def param(self, name: str) -> float:
        """The current (target) value of a parameter."""
        return self._values[name]

    @property
    def params(self) -> dict[str, float]:
        """Every parameter's current value, in declaration order."""
        return dict(self._values)

    def set_param(self, name: str, value: float) -> float:
        """Set a parameter; returns the applied value, clamped to the parameter's range.

        Raises `PatchError` for an unknown name or a non-finite value.
        """
        spec = self._specs.get(name)
        if spec is None:
            hint = suggest(name, list(self._specs))
            raise PatchError(f"{self.TYPE} has no parameter {name!r}{hint}")
        value = float(value)
        if not math.isfinite(value):
            raise PatchError(f"{name} must be a finite number, got {value!r}")
        applied, _ = spec.clamp(value)
        self._values[name] = applied
        self._param_changed(name, applied)
        return applied

    def _param_changed(self, name: str, value: float) -> None:
        """Hook: update derived coefficients after `name` changed to `value`."""

    def modulate(self, name: str, value: float) -> float:
        """Drive `name` towards `value` (clamped) without changing its set value.

        The value goes through the parameter's normal smoothing; `param()` (and so a dump)
        still shows the set value. Returns the applied value. For modulation sources only:
        `name` must exist and `value` be finite.
        """
        spec = self._specs[name]
        applied = min(max(value, spec.minimum), spec.maximum)
        self._modulated[name] = applied
        self._param_changed(name, applied)
        return applied

    def unmodulate(self, name: str) -> None:
        """Stop modulating `name`: it returns (smoothed) to its set value."""
        if self._modulated.pop(name, None) is not None:
            self._param_changed(name, self._values[name])

    def current(self, name: str) -> float:
        """The value in effect: the modulated value if `name` is modulated, else the set one."""
        return self._modulated.get(name, self._values[name])

    def tempo_changed(self, bpm: float) -> None:
        """Hook: the tempo changed (tempo-synced times follow it)."""

    # -- events -------------------------------------------------------------------------

    def note_on(self, midi: float, velocity: float, length: int) -> None:
        """Start a note at the next sample rendered.

        `midi` is a (fractional) MIDI note number, `velocity` MIDI velocity 0–127 (0 plays
        nothing), `length` the gate in samples; -1 holds it until `gate(False)`.
        """

    def can_note_at(self) -> bool:
        """Whether `note_at` would take a note now. The default: only a module that ignores
        notes (it has nothing to do at the note's sample)."""
        return self.ignores_notes

    def note_at(self, at: int, midi: float, velocity: float, length: int) -> None:
        """Start a note `at` samples into the next block rendered, as `note_on` there would.

        Only after `can_note_at` said yes. The next render call applies it at that sample
        inside the block (so the block need not be split there); `flush_notes` applies what
        a block did not reach. Notes come in the order of their samples.
        """

    def flush_notes(self) -> None:
        """Apply at once the notes `note_at` left that no render reached (the module was
        not rendered in the block they were meant for)."""

    def gate(self, on: bool) -> None:
        """Open the gate (a held note at the last pitch) or close it (release it)."""

    def release_all(self) -> None:
        """Let every sounding note go into its release."""

    def bind_kernels(self) -> None:
        """Take this module's kernels as the render path calls them (`kernels.entry`: past
        numba's dispatch once compiled). Called when it is made, and again by the graph after
        its first block, which compiled or loaded them if they were not yet. None here."""

    def silence(self) -> None:
        """Stop every sound at once (panic), keeping parameters."""

    def quiet(self) -> bool:
        """Whether rendering now would only write silence and change no state but what
        `skip` advances: the graph then skips the module until something reaches it (a
        note, a parameter, an input). False (the default) renders it every block. Asked
        once a block at most, after it rendered: keep it cheap."""
        return False

    def skip(self, n: int) -> None:
        """Advance what moves with time in a quiet module (a clock) by `n` samples, instead
        of rendering them; the rest of a quiet module's state stays as it is."""

    def reseed(self, salt: int) -> None:
        """Hook: derive this module's noise seeds from `salt` (call before it sounds).

        The graph passes a stable hash of the module id, so two modules of one type draw
        different noise while every render of the same script draws the same.
        """

    # -- audio --------------------------------------------------------------------------

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """WRITE (not add) `n` ≤ `max_block` mono samples into `out[:n]`; allocate nothing."""
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------

    def _state_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Hook: the arrays that carry this module's state between blocks."""
        return {}

    def _state_scalars(self) -> dict[str, float | int]:
        """Hook: plain numbers that carry state (not parameters)."""
        return {}

    def _load_scalars(self, state: dict[str, StateValue]) -> None:
        """Hook: restore what `_state_scalars` returned."""

    def state(self) -> dict[str, StateValue]:
        """A copy of everything needed to continue rendering bit-identically elsewhere."""
        out: dict[str, StateValue] = {PARAM_PREFIX + k: v for k, v in self._values.items()}
        out.update(self._state_scalars())
        for name, array in self._state_arrays().items():
            silent = array.size >= ZEROS_FROM and not array.any()
            out[name] = Zeros.like(array) if silent else array.copy()
        return out

    def load_state(self, state: dict[str, StateValue]) -> None:
        """Continue from a `state()` of a module of the same type and block size.

        Raises `ValueError` if an entry is missing or has the wrong shape; then nothing
        has changed.
        """
        arrays = self._state_arrays()
        for name, array in arrays.items():
            got = state.get(name)
            if not isinstance(got, np.ndarray) or got.shape != array.shape:
                raise ValueError(f"{self.TYPE} state: {name} missing or of the wrong shape")
        for name in self._values:
            value = state.get(PARAM_PREFIX + name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{self.TYPE} state: parameter {name} missing")
        for name in self._values:
            value = float(state[PARAM_PREFIX + name])
            self._values[name] = value
            self._param_changed(name, value)
        self._load_scalars(state)
        for name, array in arrays.items():
            np.copyto(array, state[name], casting="same_kind")


class Processor(Module):
    """A module with an audio input: filters and effects.

    Stereo in, stereo out: the graph sums everything routed into the processor (each source
    already through its own volume and pan) into `inp`, calls `process_stereo`, and treats the
    result like any module's output (its own volume and pan, then onward). Notes played on a
    source also reach every processor downstream of it through `note_on` (an acid filter's
    envelope retriggers on them); the default ignores them.

    Dual mono. A processor with `DUAL_MONO` set also implements `process_mono`, for an input
    whose two channels are the same (a mono source panned to the centre, or a chain of such
    processors): the graph may then pass one channel and get one back, for half the work.
    The contract, which lets the graph switch between mono and stereo blocks at any sample:

    - **Output**: if both channels' state is equal (`channels_equal()`), `process_mono(x)`
      writes, bit for bit, what `process_stereo` writes into each channel given x on both.
    - **State**: afterwards both channels' state is equal: what a stereo block on the
      dual-mono input would have left. So a stereo block may follow at once, exactly.
    - **After a really stereo input** the channels' state differs; a mono block then
      continues from the left channel's and the right one jumps to it (deterministic, but
      not what a stereo block would give; a delay's older echoes stay as they were until
      the mono input overwrites them). `channels_equal()` tells when a switch to mono is
      exact; a processor's channels stay equal as long as its input stays dual-mono.
    """

    DUAL_MONO: ClassVar[bool] = False
    """Whether `process_mono` is implemented (the graph may feed a dual-mono input as one
    channel)."""

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """Processors are driven through `process_stereo`."""
        raise TypeError(f"{self.TYPE} is a processor: call process_stereo")

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` ≤ `max_block` frames into `out[:n, :2]` from `inp[:n, :2]`.

        Both are C-contiguous float64 arrays of shape (max_block, 2), never the same array.
        Allocate nothing.
        """
        raise NotImplementedError

    def process_mono(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """WRITE `n` ≤ `max_block` samples into `out[:n]` from the dual-mono input `inp[:n]`.

        Both are C-contiguous float64 arrays of shape (max_block,), never the same array.
        Allocate nothing. Only for `DUAL_MONO` processors; see the class's contract.
        """
        raise TypeError(f"{self.TYPE} has no dual-mono path: call process_stereo")

    def _channel_state(self) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], ...]:
        """Hook: (left, right) views of every array of per-channel state, made once."""
        return ()

    def channels_equal(self) -> bool:
        """Whether both channels' state is bit for bit the same (a mono block is then exact).

        Allocates nothing, but its cost grows with the state (a delay compares its whole
        buffer): ask at a change of routing, not every block.
        """
        return all(same_values(left, right) for left, right in self._channel_state())

    def tempo_changed(self, bpm: float) -> None:
        """Hook: the tempo changed (tempo-synced times such as a delay of 1/8 follow it)."""
