"""LADSPA plugins as chronus module types: `load_ladspa_type(path, label)`.

The type's parameters are the plugin's control input ports (see
`chronus.plugins.ladspa.describe`), then the mix's; its `process_stereo` (an effect) or
`process` (a source) runs the native instance over the block (`NativeRack`).

State. A LADSPA instance's memory (a reverb's tail, a filter's history) is the plugin's
own: the API has no way to read it or write it back. `state()` holds the parameters only,
and a module loaded from it starts with fresh memory: the type says so with
`state_capture = False`, and a hand-over of such a module is not exact. That is why these
types are hosted (`hosting = "isolated"`): one host renders each block once for both slots,
so the slots never need to hand the instance over.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Module, Processor
from chronus.plugins.ladspa.describe import PluginInfo, specs_of
from chronus.plugins.ladspa.native import NativeRack, read_info
from chronus.plugins.ladspa.reference import split_reference

__all__ = [
    "LadspaProcessor", "LadspaSource", "ladspa_type", "load_ladspa_type", "type_of_reference",
]  # fmt: skip


class _Native:
    """What both kinds of LADSPA module share: the rack, and parameters written to it."""

    INFO: ClassVar[PluginInfo]
    hosting: ClassVar[str] = "isolated"
    """Where its code may run: only in a host process, never inline in the slots."""
    host_group: ClassVar[str] = ""
    """Which host it shares: its maker's (one host per maker)."""
    when_down: ClassVar[str] = "through"
    """What plays while its host is down: `through` (the input) or `silence`."""
    state_capture: ClassVar[bool] = False
    """Whether `state()` carries everything (a LADSPA instance's memory cannot be read)."""

    _rack: NativeRack
    _ports: dict[str, tuple[int, bool, bool]]

    def _open_rack(self, sample_rate: int, max_block: int) -> None:
        self._rack = NativeRack(self.INFO, sample_rate, max_block)
        self._ports = {c.name: (c.port, c.hint.integer, c.hint.toggled) for c in self.INFO.controls}

    def _param_changed(self, name: str, value: float) -> None:
        port = self._ports.get(name)
        if port is None:
            return  # a mix parameter: the graph applies it
        index, integer, toggled = port
        if toggled:
            value = 1.0 if value >= 0.5 else 0.0
        elif integer:
            value = float(round(value))
        self._rack.set_control(index, value)

    def silence(self) -> None:
        """Forget every sound: the instance is deactivated and activated again."""
        self._rack.restart()


class LadspaProcessor(_Native, Processor):
    """A LADSPA plugin with audio inputs: an effect."""

    def __init__(self, sample_rate: int, max_block: int) -> None:
        Processor.__init__(self, sample_rate, max_block)
        self._open_rack(sample_rate, max_block)
        self._init_params()

    def process_stereo(
        self, inp: npt.NDArray[np.float64], out: npt.NDArray[np.float64], n: int
    ) -> None:
        """Run the plugin over `n` stereo frames."""
        self._rack.run_stereo(inp, out, n)


class LadspaSource(_Native, Module):
    """A LADSPA plugin without audio inputs: it plays on its own (notes do not reach it)."""

    when_down: ClassVar[str] = "silence"

    def __init__(self, sample_rate: int, max_block: int) -> None:
        Module.__init__(self, sample_rate, max_block)
        self._open_rack(sample_rate, max_block)
        self._init_params()

    def process(self, out: npt.NDArray[np.float64], n: int) -> None:
        """Run the plugin over `n` frames."""
        self._rack.run_source(out, n)


def ladspa_type(info: PluginInfo, name: str | None = None) -> type[Module]:
    """The module type of a described plugin, named `name` (else `info.name`)."""
    if not info.audio_out:
        raise ValueError(f"{info.label}: no audio output, nothing to play")
    base: type[Any] = LadspaSource if info.source else LadspaProcessor
    type_name = name or info.name
    attributes = {
        "TYPE": type_name,
        "PARAMS": specs_of(info),
        "INFO": info,
        "host_group": info.maker_slug,
        "__doc__": f"{info.title} by {info.maker} (LADSPA {info.unique_id}, {info.layout}).",
        "__module__": __name__,
    }
    cls: type[Module] = type(f"Ladspa_{type_name}", (base,), attributes)
    return cls


def type_of_reference(reference: str, name: str, sample_rate: int = 48000) -> type[Module]:
    """The module type of the plugin a registry's path names (`<library>#<label>`, see
    `chronus.plugins.ladspa.reference`), named `name`: what a plugin host calls. Raises
    `ValueError` for a path that is not such a reference, else as `load_ladspa_type`."""
    native = split_reference(reference)
    if native is None:
        raise ValueError(f"{reference!r} names no LADSPA plugin (<library>.so#<label>)")
    return load_ladspa_type(*native, name=name, sample_rate=sample_rate)


def load_ladspa_type(
    path: str, label: str, name: str | None = None, sample_rate: int = 48000
) -> type[Module]:
    """The module type of the plugin labelled `label` in the LADSPA library at `path`.

    Opens the library in this process: its code runs here (call it in a sandbox job or a
    plugin host, never in a slot). `name` is the type's name (default: the label as
    lower_snake); ranges the plugin gives relative to the sample rate are scaled by
    `sample_rate`. Raises `OSError` (the library cannot be opened), `KeyError` (no such
    label) or `ValueError` (a plugin with no audio output).
    """
    return ladspa_type(read_info(path, label, sample_rate), name)
