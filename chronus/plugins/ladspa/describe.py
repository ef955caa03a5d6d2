"""A LADSPA descriptor as plain data: chronus names, parameters and audio layout.

`describe` reads a descriptor (from `chronus.plugins.ladspa.abi`) into a `PluginInfo`: the
type name made from its label (`tap_reverb`), the maker and its slug (the plugin's host
group), the audio ports it has, and its control input ports as `ParamSpec`s named from the
port names (`Decay [ms]` becomes `decay` in ms). A `PluginInfo` is JSON-ready, so that a
scan's child process can hand it to its parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chronus.dsp.params import ParamSpec, mix_specs
from chronus.plugins.ladspa.abi import (
    PROPERTY_HARD_RT_CAPABLE,
    Descriptor,
    Hint,
    port_info,
    text,
)  # fmt: skip

__all__ = ["Control", "PluginInfo", "describe", "slug", "specs_of"]

MIX_NAMES = frozenset(spec.name for spec in mix_specs(0.0))
"""Parameters the graph gives every module: a port of the same name is renamed."""
UNITS = {"hz": "hz", "khz": "khz", "ms": "ms", "s": "s", "db": "db", "%": "%",
         "sec": "s", "secs": "s", "seconds": "s", "msec": "ms", "bpm": "bpm", "cents": "cents",
         "semitones": "semitones", "deg": "deg", "degrees": "deg"}  # fmt: skip
"""Units a port name may end with (in brackets or parentheses), as chronus writes them."""
_UNIT_AT_END = re.compile(r"^(.*?)\s*[\[(]([^\])]*)[\])]\s*$")


def slug(words: str, limit: int = 32) -> str:
    """`words` as lower_snake: letters and digits, runs of anything else one `_`.

    >>> slug("Steve Harris <steve@plugin.org>")
    'steve_harris'
    >>> slug("Decay [ms]")
    'decay_ms'
    """
    words = re.sub(r"<[^>]*>", "", words)
    out = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")[:limit].strip("_")
    return out


def _param_name(port: str, taken: set[str]) -> tuple[str, str]:
    """A parameter name and unit for a control port named `port`, unique among `taken`."""
    unit = ""
    found = _UNIT_AT_END.match(port)
    if found and found.group(2).strip().lower() in UNITS:
        port, unit = found.group(1), UNITS[found.group(2).strip().lower()]
    name = slug(port, 24) or "control"
    if not name[0].isalpha():
        name = "p_" + name
    if name in MIX_NAMES:
        name = "plugin_" + name
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name, unit


@dataclass(frozen=True, slots=True)
class Control:
    """A control input port: its port index, chronus name, unit, hint and the port's name."""

    port: int
    name: str
    unit: str
    hint: Hint
    label: str


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One plugin of one library, as chronus sees it."""

    path: str
    label: str
    unique_id: int
    title: str
    maker: str
    copyright: str
    audio_in: tuple[int, ...]
    """Port indices of the audio inputs, in port order."""
    audio_out: tuple[int, ...]
    controls: tuple[Control, ...]
    control_out: tuple[int, ...]
    """Port indices of control outputs (connected to scratch, never read)."""
    port_count: int
    hard_rt: bool = False
    name: str = ""
    """The chronus type name; `describe` sets it from the label, a scan makes it unique."""
    notes: tuple[str, ...] = field(default=())
    """What chronus changed or cannot do (extra audio ports left unplayed…)."""

    @property
    def maker_name(self) -> str:
        """The maker, short: without addresses, remarks in parentheses or co-authors
        (`CMT (http://…, plugin by …)` is `CMT`)."""
        short = re.sub(r"<[^>]*>|\([^)]*\)", "", self.maker).split(",")[0]
        return " ".join(short.split()) or "unknown"

    @property
    def maker_slug(self) -> str:
        """The maker as lower_snake (`steve_harris`): the host group its plugins share."""
        return slug(self.maker_name) or "unknown"

    @property
    def source(self) -> bool:
        """Whether it makes sound without an audio input (a module, not a processor)."""
        return not self.audio_in

    @property
    def layout(self) -> str:
        """Its audio ports as chronus plays them: `mono`, `stereo`, `mono→stereo`…"""
        kinds = {0: "none", 1: "mono", 2: "stereo"}
        ins, outs = (
            kinds.get(len(self.audio_in), "stereo"),
            kinds.get(len(self.audio_out), "stereo"),
        )
        return outs if self.source else (ins if ins == outs else f"{ins}→{outs}")

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data (`from_dict` reads it back)."""
        return {
            "path": self.path, "label": self.label, "unique_id": self.unique_id,
            "title": self.title, "maker": self.maker, "copyright": self.copyright,
            "audio_in": list(self.audio_in), "audio_out": list(self.audio_out),
            "controls": [
                {"port": c.port, "name": c.name, "unit": c.unit, "label": c.label,
                 "hint": [c.hint.minimum, c.hint.maximum, c.hint.default, c.hint.logarithmic,
                          c.hint.integer, c.hint.toggled, c.hint.bounded]}
                for c in self.controls
            ],
            "control_out": list(self.control_out), "port_count": self.port_count,
            "hard_rt": self.hard_rt, "name": self.name, "notes": list(self.notes),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PluginInfo:
        """Read back what `to_dict` wrote (`KeyError`, `TypeError` or `ValueError` if it is
        not that)."""
        controls = tuple(
            Control(int(c["port"]), str(c["name"]), str(c["unit"]), _hint(c["hint"]),
                    str(c["label"]))
            for c in data["controls"]
        )  # fmt: skip
        return cls(
            path=str(data["path"]), label=str(data["label"]), unique_id=int(data["unique_id"]),
            title=str(data["title"]), maker=str(data["maker"]),
            copyright=str(data["copyright"]),
            audio_in=tuple(int(p) for p in data["audio_in"]),
            audio_out=tuple(int(p) for p in data["audio_out"]), controls=controls,
            control_out=tuple(int(p) for p in data["control_out"]),
            port_count=int(data["port_count"]), hard_rt=bool(data["hard_rt"]),
            name=str(data["name"]), notes=tuple(str(n) for n in data["notes"]),
        )  # fmt: skip


def _hint(data: list[Any]) -> Hint:
    low, high, default, log, integer, toggled, bounded = data
    return Hint(float(low), float(high), float(default), bool(log), bool(integer),
                bool(toggled), bool(bounded))  # fmt: skip


def describe(descriptor: Descriptor, path: str, sample_rate: int = 48000) -> PluginInfo:
    """What `descriptor` (of the library at `path`) is; ranges marked relative to the sample
    rate are scaled by `sample_rate`."""
    ports = port_info(descriptor, sample_rate)
    taken: set[str] = set()
    controls = tuple(
        Control(p.index, *_param_name(p.name, taken), p.hint, p.name)
        for p in ports
        if not p.audio and p.input
    )
    audio_in = tuple(p.index for p in ports if p.audio and p.input)
    audio_out = tuple(p.index for p in ports if p.audio and not p.input)
    notes = _notes(audio_in, audio_out)
    label = text(descriptor.Label)
    return PluginInfo(
        path=path, label=label, unique_id=int(descriptor.UniqueID),
        title=text(descriptor.Name), maker=text(descriptor.Maker),
        copyright=text(descriptor.Copyright), audio_in=audio_in, audio_out=audio_out,
        controls=controls, control_out=tuple(p.index for p in ports if not p.audio and not p.input),
        port_count=len(ports), hard_rt=bool(descriptor.Properties & PROPERTY_HARD_RT_CAPABLE),
        name=slug(label), notes=notes,
    )  # fmt: skip


def _notes(audio_in: tuple[int, ...], audio_out: tuple[int, ...]) -> tuple[str, ...]:
    notes = []
    if len(audio_in) > 2:
        notes.append(
            f"{len(audio_in)} audio inputs: the first two are played, the rest get silence"
        )
    if len(audio_out) > 2:
        notes.append(f"{len(audio_out)} audio outputs: the first two are played")
    if not audio_out:
        notes.append("no audio output: it makes no sound chronus can play")
    return tuple(notes)


def specs_of(info: PluginInfo) -> tuple[ParamSpec, ...]:
    """The module type's parameters: one per control input port, then the mix's."""
    specs = []
    for control in info.controls:
        hint = control.hint
        scale = ("toggle" if hint.toggled else "integer" if hint.integer
                 else "log" if hint.logarithmic else "")  # fmt: skip
        doc = f"{control.label}" + (f" ({scale})" if scale else "")
        specs.append(ParamSpec(control.name, hint.default, hint.minimum, hint.maximum,
                               control.unit, 0.0, doc))  # fmt: skip
    return (*specs, *mix_specs(0.0))
