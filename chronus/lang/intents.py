"""Intents: the musician's vocabulary, one small frozen dataclass per kind of command.

The transformer builds them from the parse tree without looking at the patch; the mapper
resolves them against the `Context` and turns them into canonical OSC. Each intent remembers
the 1-based columns of its parts (`at`) so later stages can point at the word that is wrong;
the columns take no part in equality.

>>> SetParam("bass", "cutoff", 800.0, "hz").to_dict()
{'kind': 'set_param', 'module': 'bass', 'param': 'cutoff', 'value': 800.0, 'unit': 'hz'}
>>> Duration(2, "beats").seconds(tempo=120)
Fraction(1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar

__all__ = [
    "TIME_UNITS",
    "AddModule",
    "Duration",
    "Intent",
    "Panic",
    "PlayNote",
    "RawOsc",
    "SetParam",
    "SetTempo",
    "ShellCommand",
    "Stop",
    "Wait",
    "exact",
]

TIME_UNITS: tuple[str, ...] = ("ms", "s", "beats", "bars", "steps")
"""Units a duration or a wait may use. A bar is 4 beats, a step a 16th note (¼ beat)."""

_BEATS_PER_UNIT: dict[str, Fraction] = {
    "beats": Fraction(1),
    "bars": Fraction(4),
    "steps": Fraction(1, 4),
}
_SECONDS_PER_UNIT: dict[str, Fraction] = {"s": Fraction(1), "ms": Fraction(1, 1000)}


def exact(value: float) -> Fraction:
    """The decimal a float was typed as, as an exact Fraction (0.1 → 1/10, not 3602879…/2⁵⁵).

    Typed numbers reach us as floats; their shortest repr is the text the user wrote, so
    going through it keeps script times exact.
    """
    return Fraction(repr(float(value)))


class _IntentBase:
    """Shared behaviour: a `kind` name, JSON form and the column of each part."""

    __slots__ = ()
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: `{"kind": ..., <fields>}` (columns left out)."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "at":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Duration):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def column(self, part: str, default: int = 1) -> int:
        """The 1-based column where `part` (e.g. "module", "param", "unit") was written."""
        at: tuple[tuple[str, int], ...] = getattr(self, "at", ())
        for name, col in at:
            if name == part:
                return col
        return default


Columns = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Duration:
    """A length in ms, s, beats, bars or steps; beat-based units need a tempo."""

    amount: float
    unit: str

    def seconds(self, tempo: float) -> Fraction:
        """The length in seconds, exact, at `tempo` beats per minute."""
        amount = exact(self.amount)
        if self.unit in _SECONDS_PER_UNIT:
            return amount * _SECONDS_PER_UNIT[self.unit]
        return amount * _BEATS_PER_UNIT[self.unit] * 60 / exact(tempo)

    def to_dict(self) -> dict[str, Any]:
        """`{"amount": 0.5, "unit": "s"}`."""
        return {"amount": self.amount, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class SetTempo(_IntentBase):
    """`tempo 128`: set the tempo in beats per minute."""

    kind: ClassVar[str] = "set_tempo"
    bpm: float
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class AddModule(_IntentBase):
    """`add a saw called bass`: create a module; `name` None means "name it after its type"."""

    kind: ClassVar[str] = "add_module"
    type: str
    name: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SetParam(_IntentBase):
    """`set bass cutoff 800 hz`: `module` None means the module in focus; `unit` None = native."""

    kind: ClassVar[str] = "set_param"
    module: str | None
    param: str
    value: float
    unit: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class PlayNote(_IntentBase):
    """`play eb2 on bass for 2 beats`: a MIDI note (c4 = 60); `duration` None = held."""

    kind: ClassVar[str] = "play_note"
    module: str | None
    note: float
    velocity: float = 100.0
    duration: Duration | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Stop(_IntentBase):
    """`stop`: stop the transport and release every note."""

    kind: ClassVar[str] = "stop"
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Panic(_IntentBase):
    """`panic`: silence everything at once."""

    kind: ClassVar[str] = "panic"
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class RawOsc(_IntentBase):
    """`/mod/bass/cutoff 800`: an OSC message typed by hand, validated by the protocol."""

    kind: ClassVar[str] = "raw_osc"
    address: str
    args: tuple[float | int | str, ...] = ()
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Wait(_IntentBase):
    """`wait 2 beats`: advance script time; sends nothing."""

    kind: ClassVar[str] = "wait"
    amount: float
    unit: str
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)

    @property
    def duration(self) -> Duration:
        """The wait as a `Duration`."""
        return Duration(self.amount, self.unit)


@dataclass(frozen=True, slots=True)
class ShellCommand(_IntentBase):
    """`help`, `health`, `status`, `quit`: for the shell itself, no OSC."""

    kind: ClassVar[str] = "shell"
    name: str
    arg: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


Intent = SetTempo | AddModule | SetParam | PlayNote | Stop | Panic | RawOsc | Wait | ShellCommand
"""Any intent."""
