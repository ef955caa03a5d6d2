"""The LADSPA 1.1 C ABI (`ladspa.h`) through ctypes: the descriptor, its ports and hints.

A LADSPA library exports one function, `ladspa_descriptor(index)`, which returns a pointer to
a `LADSPA_Descriptor` for index 0, 1, … and NULL past the last. A descriptor is data (label,
maker, ports with their kinds and range hints) plus function pointers (`instantiate`,
`connect_port`, `activate`, `run`, `deactivate`, `cleanup`). `LADSPA_Data` is a C float.

Opening a library runs its constructors: a library that crashes does so here. Call `open_library`
only in a process that may die (a scan's child, a sandbox job, a plugin host).
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass

__all__ = [
    "Descriptor", "Hint", "PortInfo", "PortRangeHint", "descriptors", "open_library", "port_info",
]  # fmt: skip

LADSPA_Data = ctypes.c_float
LADSPA_Handle = ctypes.c_void_p

PORT_INPUT = 0x1
PORT_OUTPUT = 0x2
PORT_CONTROL = 0x4
PORT_AUDIO = 0x8

HINT_BOUNDED_BELOW = 0x1
HINT_BOUNDED_ABOVE = 0x2
HINT_TOGGLED = 0x4
HINT_SAMPLE_RATE = 0x8
HINT_LOGARITHMIC = 0x10
HINT_INTEGER = 0x20
HINT_DEFAULT_MASK = 0x3C0
HINT_DEFAULT_MINIMUM = 0x40
HINT_DEFAULT_LOW = 0x80
HINT_DEFAULT_MIDDLE = 0xC0
HINT_DEFAULT_HIGH = 0x100
HINT_DEFAULT_MAXIMUM = 0x140
HINT_DEFAULT_0 = 0x200
HINT_DEFAULT_1 = 0x240
HINT_DEFAULT_100 = 0x280
HINT_DEFAULT_440 = 0x2C0

PROPERTY_REALTIME = 0x1
PROPERTY_INPLACE_BROKEN = 0x2
PROPERTY_HARD_RT_CAPABLE = 0x4


class PortRangeHint(ctypes.Structure):
    """`LADSPA_PortRangeHint`."""

    _fields_ = [
        ("HintDescriptor", ctypes.c_int),
        ("LowerBound", LADSPA_Data),
        ("UpperBound", LADSPA_Data),
    ]


class Descriptor(ctypes.Structure):
    """`LADSPA_Descriptor` (its function pointers are declared below, once it exists)."""


_DescriptorPtr = ctypes.POINTER(Descriptor)
INSTANTIATE = ctypes.CFUNCTYPE(LADSPA_Handle, _DescriptorPtr, ctypes.c_ulong)
CONNECT_PORT = ctypes.CFUNCTYPE(None, LADSPA_Handle, ctypes.c_ulong, ctypes.POINTER(LADSPA_Data))
HANDLE_CALL = ctypes.CFUNCTYPE(None, LADSPA_Handle)
RUN = ctypes.CFUNCTYPE(None, LADSPA_Handle, ctypes.c_ulong)
SET_GAIN = ctypes.CFUNCTYPE(None, LADSPA_Handle, LADSPA_Data)

Descriptor._fields_ = [
    ("UniqueID", ctypes.c_ulong),
    ("Label", ctypes.c_char_p),
    ("Properties", ctypes.c_int),
    ("Name", ctypes.c_char_p),
    ("Maker", ctypes.c_char_p),
    ("Copyright", ctypes.c_char_p),
    ("PortCount", ctypes.c_ulong),
    ("PortDescriptors", ctypes.POINTER(ctypes.c_int)),
    ("PortNames", ctypes.POINTER(ctypes.c_char_p)),
    ("PortRangeHints", ctypes.POINTER(PortRangeHint)),
    ("ImplementationData", ctypes.c_void_p),
    ("instantiate", INSTANTIATE),
    ("connect_port", CONNECT_PORT),
    ("activate", HANDLE_CALL),
    ("run", RUN),
    ("run_adding", RUN),
    ("set_run_adding_gain", SET_GAIN),
    ("deactivate", HANDLE_CALL),
    ("cleanup", HANDLE_CALL),
]

_DESCRIPTOR_FUNCTION = ctypes.CFUNCTYPE(_DescriptorPtr, ctypes.c_ulong)
MAX_DESCRIPTORS = 4096
"""A library that claims more descriptors than this is taken to be broken."""


def open_library(path: str) -> ctypes.CDLL:
    """dlopen the library at `path` (locally: its symbols stay its own). Raises `OSError`."""
    return ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)


def descriptors(library: ctypes.CDLL) -> list[Descriptor]:
    """Every descriptor the library gives, in index order (the library must stay open while
    they are used). Raises `OSError` if it exports no `ladspa_descriptor`."""
    try:
        address = ctypes.cast(library.ladspa_descriptor, ctypes.c_void_p).value
    except AttributeError:
        raise OSError("not a LADSPA library: no ladspa_descriptor function") from None
    if address is None:
        raise OSError("not a LADSPA library: ladspa_descriptor is NULL")
    function = _DESCRIPTOR_FUNCTION(address)
    found: list[Descriptor] = []
    for index in range(MAX_DESCRIPTORS):
        pointer = function(index)
        if not pointer:
            break
        found.append(pointer.contents)
    return found


def text(value: bytes | None) -> str:
    """A C string of a descriptor as text ("" for NULL; undecodable bytes replaced)."""
    return "" if value is None else value.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Hint:
    """A port's range hint, read: its bounds (scaled by the sample rate where it says so),
    default and scale."""

    minimum: float
    maximum: float
    default: float
    logarithmic: bool = False
    integer: bool = False
    toggled: bool = False
    bounded: bool = True
    """Whether both bounds came from the plugin (else a range was made up around the default)."""


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One port of a descriptor, read into plain data."""

    index: int
    name: str
    input: bool
    audio: bool
    hint: Hint


def _guessed_default(flags: int, low: float, high: float, log: bool) -> float | None:
    """The default a hint asks for (ladspa.h's rules), or None if it names none."""
    which = flags & HINT_DEFAULT_MASK
    fixed = {
        HINT_DEFAULT_0: 0.0,
        HINT_DEFAULT_1: 1.0,
        HINT_DEFAULT_100: 100.0,
        HINT_DEFAULT_440: 440.0,
        HINT_DEFAULT_MINIMUM: low,
        HINT_DEFAULT_MAXIMUM: high,
    }
    if which in fixed:
        return fixed[which]
    weights = {HINT_DEFAULT_LOW: 0.25, HINT_DEFAULT_MIDDLE: 0.5, HINT_DEFAULT_HIGH: 0.75}
    if which not in weights:
        return None
    w = weights[which]
    if log and low > 0.0 and high > 0.0:
        return math.exp(math.log(low) * (1.0 - w) + math.log(high) * w)
    return low * (1.0 - w) + high * w


def _short(value: float) -> float:
    """A C float as the shortest decimal that reads back as it (42.1, not 42.099998…)."""
    return float(f"{value:.7g}")


def read_hint(raw: PortRangeHint, sample_rate: int) -> Hint:
    """A port's hint as numbers: missing bounds are made up (0 below, 1 above, widened to
    take the default), toggles are 0–1."""
    flags = int(raw.HintDescriptor)
    scale = float(sample_rate) if flags & HINT_SAMPLE_RATE else 1.0
    toggled = bool(flags & HINT_TOGGLED)
    low = _short(raw.LowerBound) * scale if flags & HINT_BOUNDED_BELOW else None
    high = _short(raw.UpperBound) * scale if flags & HINT_BOUNDED_ABOVE else None
    if toggled:
        low, high = 0.0, 1.0
    bounded = low is not None and high is not None
    lo = 0.0 if low is None else low
    hi = (max(lo, 0.0) + 1.0) if high is None else high
    log = bool(flags & HINT_LOGARITHMIC)
    default = _guessed_default(flags, lo, hi, log)
    if default is None or not math.isfinite(default):
        default = lo if lo > 0.0 or hi <= 0.0 else min(max(0.0, lo), hi)
    if low is None:
        lo = min(lo, default)
    if high is None:
        hi = max(hi, default)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        lo, hi = sorted((lo, hi)) if math.isfinite(lo) and math.isfinite(hi) else (0.0, 1.0)
    default = min(max(default, lo), hi)
    if flags & HINT_INTEGER:
        default = float(round(default))
    return Hint(lo, hi, default, log, bool(flags & HINT_INTEGER), toggled, bounded)


def port_info(descriptor: Descriptor, sample_rate: int) -> list[PortInfo]:
    """Every port of `descriptor`, in port order."""
    ports = []
    for index in range(int(descriptor.PortCount)):
        kind = int(descriptor.PortDescriptors[index])
        ports.append(
            PortInfo(
                index=index,
                name=text(descriptor.PortNames[index]),
                input=bool(kind & PORT_INPUT),
                audio=bool(kind & PORT_AUDIO),
                hint=read_hint(descriptor.PortRangeHints[index], sample_rate),
            )
        )
    return ports
