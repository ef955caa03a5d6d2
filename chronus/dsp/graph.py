"""The live DSP graph: a `Patch` plus the module objects, mixed to a limited stereo master."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.catalog import create_module
from chronus.dsp.module import Module
from chronus.dsp.params import smoothing_coef
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.specs import MIX_SMOOTHING_MS
from chronus.protocol import Message, canonical_param

__all__ = ["LIMITER_THRESHOLD", "Graph", "pan_gains"]

LIMITER_THRESHOLD = 0.98
"""About −0.2 dBFS: the master never goes beyond this (nor, by a final clip, beyond 1)."""
LIMITER_RELEASE_MS = 250.0
SILENT_DB = -60.0


def pan_gains(volume_db: float, pan: float) -> tuple[float, float]:
    """Left and right gains: the volume in dB with equal-power pan; -60 dB is silence."""
    level = 0.0 if volume_db <= SILENT_DB else 10.0 ** (volume_db / 20.0)
    angle = (pan + 1.0) * math.pi / 4.0
    return level * math.cos(angle), level * math.sin(angle)


@dataclass(slots=True)
class _Strip:
    """A module's channel strip: its smoothed stereo gain and whether it reaches master."""

    module: Module
    gain: npt.NDArray[np.float64]
    target: npt.NDArray[np.float64]
    audible: bool = False

    def retarget(self) -> None:
        left, right = pan_gains(self.module.param("volume"), self.module.param("pan"))
        self.target[0] = left
        self.target[1] = right


class Graph:
    """Modules by id, rendered every block and summed (volume, pan) into the master stage.

    Every module renders every block, connected or not, so its time always advances; only
    modules whose output reaches `master` are heard. A module that becomes audible fades in
    over the mix smoothing time. The master stage zeroes non-finite samples (counted in
    `nonfinite_count`) and limits the output to ±`LIMITER_THRESHOLD`.
    """

    def __init__(self, sample_rate: int, max_block: int) -> None:
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.patch = Patch()
        self.modules: dict[str, Module] = {}
        self.nonfinite_count = 0
        self.module_error_count = 0
        self.last_module_error = ""
        self._strips: dict[str, _Strip] = {}
        self._order: list[_Strip] = []
        self._scratch = np.zeros(self.max_block)
        self._acc = np.zeros((self.max_block, 2))
        self._limiter = np.ones(1)
        self._mix_coef = smoothing_coef(MIX_SMOOTHING_MS, self.sample_rate)
        self._release = smoothing_coef(LIMITER_RELEASE_MS, self.sample_rate)

    # -- control --------------------------------------------------------------------------

    def apply(self, message: Message) -> list[str]:
        """Validate and apply a message; returns warnings, raises `PatchError` on bad input.

        The patch is checked first, so a rejected message changes nothing.
        """
        warnings = self.patch.apply(message)
        parts = message.address.strip("/").split("/")
        head = parts[0]
        if head == "patch":
            if parts[1] == "create":
                module_id, module_type = str(message.args[0]), str(message.args[1])
                module = create_module(module_type, self.sample_rate, self.max_block)
                self.modules[module_id] = module
                strip = _Strip(module, np.zeros(2), np.zeros(2))
                strip.retarget()
                self._strips[module_id] = strip
            elif parts[1] == "remove":
                del self.modules[str(message.args[0])]
                del self._strips[str(message.args[0])]
            self._rebuild(fade=True)
        elif head == "mod":
            module_id = parts[1]
            name = canonical_param(parts[2])
            value = self.patch.modules[module_id]["params"][name]
            self.modules[module_id].set_param(name, value)
            if name in ("volume", "pan"):
                self._strips[module_id].retarget()
        elif head == "gate":
            self.modules[parts[1]].gate(float(message.args[0]) >= 0.5)
        elif head == "note":
            seconds = message.args[2] if len(message.args) > 2 else None
            length = -1 if seconds is None else round(float(seconds) * self.sample_rate)
            self.modules[parts[1]].note_on(float(message.args[0]), float(message.args[1]), length)
        elif message.address == "/seq/stop":
            for module in self.modules.values():
                module.release_all()
        elif message.address == "/panic":
            for module in self.modules.values():
                module.silence()
        return warnings

    def _rebuild(self, fade: bool) -> None:
        """Recompute which strips reach master; a newly audible one fades in from 0."""
        audible = set(self.patch.audible())
        for module_id, strip in self._strips.items():
            now = module_id in audible
            if now and not strip.audible and fade:
                strip.gain[:] = 0.0
            strip.audible = now
        self._order = list(self._strips.values())

    # -- audio ----------------------------------------------------------------------------

    def render(self, out: npt.NDArray[np.float32], n: int, offset: int = 0) -> None:
        """Render `n` ≤ `max_block` stereo frames into `out[offset:offset+n, :2]`.

        `out` is a C-contiguous float32 array of at least 2 columns. Allocates nothing. A
        module that raises is skipped for the block (counted in `module_error_count`); one
        that outputs non-finite samples is silenced.
        """
        if n > self.max_block:
            raise ValueError(f"block of {n} frames exceeds max_block {self.max_block}")
        scratch = self._scratch
        acc = self._acc
        for strip in self._order:
            try:
                strip.module.process(scratch, n)
            except Exception as exc:  # one bad module must not stop the sound
                self.module_error_count += 1
                self.last_module_error = f"{strip.module.TYPE}: {exc!r}"
                continue
            if strip.audible:
                bad = kernels.mix_block(acc, scratch, n, strip.gain, strip.target, self._mix_coef)
                if bad:
                    self.nonfinite_count += bad
                    strip.module.silence()
        self.nonfinite_count += kernels.master_block(
            acc, out, offset, n, self._limiter, LIMITER_THRESHOLD, self._release
        )

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue rendering bit-identically in another graph."""
        return {
            "patch": self.patch.to_dict(),
            "modules": {mid: m.state() for mid, m in self.modules.items()},
            "mix": {mid: s.gain.copy() for mid, s in self._strips.items()},
            "limiter": float(self._limiter[0]),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace this graph's patch and modules with those of a `state()`.

        Raises `PatchError` or `ValueError` on invalid state; then nothing has changed.
        """
        patch = Patch.from_dict(state["patch"])
        strips: dict[str, _Strip] = {}
        for module_id, entry in patch.modules.items():
            module = create_module(entry["type"], self.sample_rate, self.max_block)
            try:
                module.load_state(state["modules"][module_id])
                gain = np.array(state["mix"][module_id], dtype=np.float64).reshape(2)
            except (KeyError, TypeError) as exc:
                raise PatchError(f"invalid graph state for {module_id!r}: {exc}") from exc
            strip = _Strip(module, gain, np.zeros(2))
            strip.retarget()
            strips[module_id] = strip
        self.patch = patch
        self.modules = {mid: s.module for mid, s in strips.items()}
        self._strips = strips
        self._limiter[0] = float(state["limiter"])
        self._acc[:] = 0.0
        self._rebuild(fade=False)
