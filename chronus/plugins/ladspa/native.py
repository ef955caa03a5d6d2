"""One LADSPA plugin instance (or two, for a mono effect on stereo) behind numpy buffers.

A `NativeRack` opens the library once per process, instantiates the descriptor for the
sample rate, connects every port to memory it owns (float32, as `LADSPA_Data` is), activates
the instance and, per block, copies the input in, calls `run` and copies the output out
(numba kernels: no per-sample Python, nothing allocated per block). Control values live in
one float32 array, one cell per port: setting a parameter writes its cell, which the plugin
reads at the start of the next `run`.

How audio ports map onto chronus's stereo: two inputs and two outputs are one stereo
instance; one input and one output are two instances, one per channel (a mono effect on
each side); one input feeds the two channels' mean; one output plays on both channels; a
source's two outputs are mixed to its one mono output.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from chronus.plugins.ladspa.abi import Descriptor, descriptors, open_library, text
from chronus.plugins.ladspa.describe import PluginInfo, describe

__all__ = ["NativeRack", "find_descriptor"]

_libraries: dict[str, ctypes.CDLL] = {}
"""Libraries opened in this process, by path: kept open for the process's life (their
descriptors point into them; LADSPA libraries are never closed under a live instance)."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def find_descriptor(path: str, label: str) -> Descriptor:
    """The descriptor labelled `label` in the library at `path` (opened once per process).

    Raises `OSError` if the library cannot be opened or is not LADSPA, `KeyError` if it has
    no such label."""
    library = _libraries.get(path)
    if library is None:
        library = _libraries[path] = open_library(path)
    for descriptor in descriptors(library):
        if text(descriptor.Label) == label:
            return descriptor
    raise KeyError(f"{path} has no LADSPA plugin labelled {label!r}")


@numba.njit(cache=True)
def _feed(inp: F64, rows: F32, n: int, mean: bool) -> None:
    """Stereo `inp` into the float32 input rows: left, right; or their mean into row 0."""
    if mean:
        for i in range(n):
            rows[0, i] = 0.5 * (inp[i, 0] + inp[i, 1])
    else:
        for i in range(n):
            rows[0, i] = inp[i, 0]
            rows[1, i] = inp[i, 1]


@numba.njit(cache=True)
def _take_stereo(rows: F32, out: F64, n: int, both: bool) -> None:
    """The output rows into stereo `out`: rows 0 and 1; or row 0 on both channels."""
    right = 0 if both else 1
    for i in range(n):
        out[i, 0] = rows[0, i]
        out[i, 1] = rows[right, i]


@numba.njit(cache=True)
def _take_mono(rows: F32, out: F64, n: int, mix: bool) -> None:
    """The output rows into mono `out`: row 0; or the mean of rows 0 and 1."""
    if mix:
        for i in range(n):
            out[i] = 0.5 * (np.float64(rows[0, i]) + np.float64(rows[1, i]))
    else:
        for i in range(n):
            out[i] = rows[0, i]


def _pointer(array: npt.NDArray[Any], offset: int = 0) -> Any:
    return ctypes.cast(array.ctypes.data + offset * array.itemsize, ctypes.POINTER(ctypes.c_float))


class NativeRack:
    """The instances of one chronus module of a LADSPA type, and their buffers."""

    def __init__(self, info: PluginInfo, sample_rate: int, max_block: int) -> None:
        self.info = info
        self._descriptor = find_descriptor(info.path, info.label)
        ins, outs = len(info.audio_in), len(info.audio_out)
        self.per_channel = ins == 1 and outs == 1
        """A mono effect: one instance per channel."""
        self.mean_in = ins == 1 and not self.per_channel
        self.one_out = outs == 1 and not self.per_channel
        self.inputs = np.zeros((2, max_block), np.float32)
        self.outputs = np.zeros((2, max_block), np.float32)
        count = 2 if self.per_channel else 1
        self._extra = np.zeros((count, max(1, info.port_count), max_block), np.float32)
        """A buffer per instance and port for audio ports past the second: inputs that stay
        silent, outputs never read (each its own: CMT's bf2quad wrote NaN when they shared one)."""
        self.controls = np.zeros((count, max(1, info.port_count)), np.float32)
        self._handles: list[int] = []
        self._active = False
        self._run = self._descriptor.run
        self._activate = self._descriptor.activate
        self._deactivate = self._descriptor.deactivate
        for which in range(count):
            handle = self._descriptor.instantiate(ctypes.byref(self._descriptor), sample_rate)
            if not handle:
                self.close()
                raise RuntimeError(f"{info.label}: instantiate failed at {sample_rate} Hz")
            self._handles.append(int(handle))
            self._connect(int(handle), which)
        self.start()

    def _connect(self, handle: int, which: int) -> None:
        connect = self._descriptor.connect_port
        for port in range(self.info.port_count):
            connect(handle, port, _pointer(self.controls[which], port))
        for rows, ports in ((self.inputs, self.info.audio_in), (self.outputs, self.info.audio_out)):
            for k, port in enumerate(ports):
                row = which if self.per_channel else k
                connect(handle, port, _pointer(rows[row] if k < 2 else self._extra[which, port]))

    def set_control(self, port: int, value: float) -> None:
        """The value of a control input port, from the next block on (every instance)."""
        self.controls[:, port] = value

    def start(self) -> None:
        """Activate every instance (its state starts afresh)."""
        if self._activate:
            for handle in self._handles:
                self._activate(handle)
        self._active = True

    def restart(self) -> None:
        """Deactivate and activate again: every sound and memory forgotten."""
        if self._deactivate:
            for handle in self._handles:
                self._deactivate(handle)
        self._active = False
        self.start()

    def run_stereo(self, inp: F64, out: F64, n: int) -> None:
        """A processor's block: stereo `inp[:n]` in, stereo `out[:n]` written."""
        _feed(inp, self.inputs, n, self.mean_in)
        for handle in self._handles:
            self._run(handle, n)
        _take_stereo(self.outputs, out, n, self.one_out)

    def run_source(self, out: F64, n: int) -> None:
        """A source's block: mono `out[:n]` written."""
        for handle in self._handles:
            self._run(handle, n)
        _take_mono(self.outputs, out, n, len(self.info.audio_out) >= 2)

    def close(self) -> None:
        """Deactivate and clean up every instance (once; the rack is dead afterwards)."""
        handles, self._handles = self._handles, []
        cleanup = self._descriptor.cleanup
        for handle in handles:
            if self._deactivate and self._active:
                self._deactivate(handle)
            if cleanup:
                cleanup(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit ctypes may be half gone
            pass


def read_info(path: str, label: str, sample_rate: int = 48000) -> PluginInfo:
    """The `PluginInfo` of one plugin, read in this process (it opens the library here)."""
    return describe(find_descriptor(path, label), path, sample_rate)
