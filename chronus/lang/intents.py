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
    "AddSound",
    "Adjust",
    "ChangeTempo",
    "Clear",
    "Connect",
    "Disconnect",
    "Duration",
    "Intent",
    "Link",
    "LinkQuantum",
    "LinkSession",
    "LinkStartStop",
    "Midi",
    "Modulate",
    "Panic",
    "PlayChord",
    "PlayNote",
    "Plugin",
    "RawOsc",
    "Record",
    "Redo",
    "Remove",
    "Replay",
    "Route",
    "SetKey",
    "SetLane",
    "SetParam",
    "SetPattern",
    "SetStep",
    "SetTempo",
    "ShellCommand",
    "Snapshot",
    "Start",
    "Stop",
    "StopRecording",
    "Transpose",
    "Undo",
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
            if isinstance(value, Duration | Link):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [v.to_dict() if isinstance(v, Link) else v for v in value]
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
    now: bool = False
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class AddModule(_IntentBase):
    """`add a saw called bass`: create a module; `name` None means "name it after its type".

    `through` chains processors after it (`add a saw bass through an acid filter`); `after`
    inserts it behind an existing module (`add a reverb after lead`).
    """

    kind: ClassVar[str] = "add_module"
    type: str
    name: str | None = None
    through: tuple[Link, ...] = ()
    after: str | None = None
    size: str | None = None
    """A word of size for an effect (`add a big reverb`): the values `SIZES` gives it."""
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class AddSound(_IntentBase):
    """`add a 303 called acid`: build a named sound (`chronus.lang.sounds`), its head called
    `name` (None: the sound's own id), then `through` a chain as `AddModule` does.
    """

    kind: ClassVar[str] = "add_sound"
    sound: str
    name: str | None = None
    through: tuple[Link, ...] = ()
    after: str | None = None
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
    """`stop`: stop the transport and release every note; `stop bass`: stop one track."""

    kind: ClassVar[str] = "stop"
    module: str | None = None
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


@dataclass(frozen=True, slots=True)
class Link:
    """One module of a `through` chain: an existing module, or a type to create (`called`)."""

    name: str
    called: str | None = None
    column: int = field(default=1, compare=False)
    second: str | None = None
    """A word after the first: the rest of a type's name (`tap reverb` is `tap_reverb`) or,
    as after `add`, the new module's name (`through a reverb hall`)."""

    def to_dict(self) -> dict[str, Any]:
        """`{"name": "acid", "called": None}` (and `"second"` when there is one)."""
        out: dict[str, Any] = {"name": self.name, "called": self.called}
        if self.second is not None:
            out["second"] = self.second
        return out


@dataclass(frozen=True, slots=True)
class ChangeTempo(_IntentBase):
    """`faster`, `a bit slower`, `twice as fast`: multiply the tempo by `factor`."""

    kind: ClassVar[str] = "change_tempo"
    factor: float
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Route(_IntentBase):
    """`bass through distortion then delay`: insert a chain right after `source`."""

    kind: ClassVar[str] = "route"
    source: str
    through: tuple[Link, ...]
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Connect(_IntentBase):
    """`connect bass to f1`: add one route (nothing else changes)."""

    kind: ClassVar[str] = "connect"
    source: str
    destination: str
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Disconnect(_IntentBase):
    """`disconnect bass from f1`; without `from`, every route out of `source`."""

    kind: ClassVar[str] = "disconnect"
    source: str
    destination: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Remove(_IntentBase):
    """`remove f1`: remove a module; what fed it is linked to where it went."""

    kind: ClassVar[str] = "remove"
    module: str | None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Adjust(_IntentBase):
    """`make it darker`, `much brighter`, `more resonance`, `longer release`: a relative change.

    `word` is the comparative (darker, louder, more, longer…), `param` the parameter named
    after more/less/longer/shorter, `degree` "bit" or "much" (None: the normal step).
    """

    kind: ClassVar[str] = "adjust"
    module: str | None
    word: str
    param: str | None = None
    degree: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class PlayChord(_IntentBase):
    """`play c minor chord on pad`: one note per chord tone, together."""

    kind: ClassVar[str] = "play_chord"
    module: str | None
    notes: tuple[float, ...]
    velocity: float = 100.0
    duration: Duration | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SetPattern(_IntentBase):
    """`kick x . . . x . . .`, `play c2 eb2 every 16th on bass`: give a module's track a pattern.

    `text` is the mini-notation exactly as typed; `division` the step (None keeps it).
    """

    kind: ClassVar[str] = "set_pattern"
    module: str | None
    text: str
    division: int | None = None
    now: bool = False
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SetStep(_IntentBase):
    """`bass every 8th`: the step length of a track (steps per whole note; 12, 24 triplets)."""

    kind: ClassVar[str] = "set_step"
    module: str | None
    division: int
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SetLane(_IntentBase):
    """`lane bass cutoff 400 800 . 1600`: one parameter value per step of the track."""

    kind: ClassVar[str] = "set_lane"
    module: str | None
    param: str
    values: str
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Start(_IntentBase):
    """`start`: start the transport; `start bass`: start one track again; `restart`: the
    transport from its first beat, running or not (`again`)."""

    kind: ClassVar[str] = "start"
    module: str | None = None
    again: bool = False
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Clear(_IntentBase):
    """`clear bass`: remove a module's track (pattern, lanes and settings)."""

    kind: ClassVar[str] = "clear"
    module: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Modulate(_IntentBase):
    """`lfo on bass cutoff at 1/8 depth 50%`, `wobble the bass`, `vibrato on lead`.

    `param` None means the style's default target (cutoff for lfo and wobble, pitch for
    vibrato); `sync` is a cycle in beats, `rate` in hz (one of them, or neither for the
    style's default); `depth` a fraction of the target's range.
    """

    kind: ClassVar[str] = "modulate"
    module: str | None
    param: str | None = None
    style: str = "lfo"
    rate: float | None = None
    sync: float | None = None
    depth: float | None = None
    shape: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Transpose(_IntentBase):
    """`up an octave`, `down 3 semitones`, `transpose bass +5`: shift by `semitones`."""

    kind: ClassVar[str] = "transpose"
    module: str | None
    semitones: int
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Undo(_IntentBase):
    """`undo`, `undo 3`: go back `steps` lines that changed something."""

    kind: ClassVar[str] = "undo"
    steps: int = 1
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Redo(_IntentBase):
    """`redo`, `redo 2`: take back `steps` undos."""

    kind: ClassVar[str] = "redo"
    steps: int = 1
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Snapshot(_IntentBase):
    """`snapshot save intro`, `load snapshot intro`, `snapshots`, `snapshot diff intro verse`:
    for the shell (no OSC)."""

    kind: ClassVar[str] = "snapshot"
    action: str
    name: str | None = None
    other: str | None = None
    """What `diff` compares `name` with: another snapshot (None: the patch now)."""
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Record(_IntentBase):
    """`record 30 seconds to take1.wav`, `record 8 bars`: record what plays.

    The mapper sends `/record/start` with `length` in frames at the tempo of the moment;
    the engine stops the recording by itself after it.
    """

    kind: ClassVar[str] = "record"
    length: Duration | None = None
    path: str | None = None
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StopRecording(_IntentBase):
    """`stop recording`."""

    kind: ClassVar[str] = "stop_recording"
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class LinkSession(_IntentBase):
    """`link on` / `link off`: join or leave the Ableton Link session."""

    kind: ClassVar[str] = "link_session"
    on: bool
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class LinkStartStop(_IntentBase):
    """`link sync on` / `link sync off`: share start/stop with the Link session or not."""

    kind: ClassVar[str] = "link_start_stop"
    on: bool
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class LinkQuantum(_IntentBase):
    """`link quantum 8`: bar lines fall on the Link session's phase at this many beats."""

    kind: ClassVar[str] = "link_quantum"
    beats: int
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Replay(_IntentBase):
    """`replay song.chr`: play a script through the engine (the shell does it)."""

    kind: ClassVar[str] = "replay"
    path: str
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SetKey(_IntentBase):
    """`key c minor`: the key and scale the context remembers; sends nothing."""

    kind: ClassVar[str] = "set_key"
    root: int
    scale: str = "major"
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Plugin(_IntentBase):
    """`load module ./fold.py as fold`, `load module fold isolated`, `load plugin
    tap_reverb`, `reload fold`, `unload fold`.

    `action` is load, reload or unload; `name` the module type the plugin is (or becomes);
    for a load, `source` is the file as typed (`file`), or the name of a plugin the engine
    finds in its module folders.
    """

    kind: ClassVar[str] = "plugin"
    action: str
    name: str
    source: str | None = None
    file: bool = False
    native: bool = False
    """`load plugin NAME`: `source` names a native (LADSPA) plugin the scan found."""
    hosting: str = ""
    """`isolated` or `inline` if the load said so ("": the engine's default, isolated)."""
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Midi(_IntentBase):
    """`midi in`, `midi in 1`, `midi in keys to lead`, `midi in to lead`, `midi in off`,
    `map cc 74 to bass cutoff`, `learn bass cutoff`; `midi out`, `bass plays to midi out 1
    channel 2`, `bass stops midi out`, `midi clock out [on|off|port]`.

    `action` is ports, in, to, map, learn, outs, out or clock; `port` what `midi in`, `midi
    out` or `midi clock out` named (`off` to stop); `module` the module its notes play (or
    whose parameter a CC moves, or whose track goes out), `param` that parameter, `cc` the
    controller or the MIDI channel (1–16) of `out`.
    """

    kind: ClassVar[str] = "midi"
    action: str
    port: str = ""
    module: str | None = None
    param: str = ""
    cc: int = 0
    at: Columns = field(default=(), compare=False, repr=False, kw_only=True)


Intent = (
    SetTempo | ChangeTempo | AddModule | AddSound | Route | Connect | Disconnect | Remove
    | SetParam | Adjust | PlayNote | PlayChord | SetPattern | SetStep | SetLane | Start | Stop
    | Clear | Panic | Modulate | Transpose | Undo | Redo | Snapshot | Record | StopRecording
    | Replay | SetKey | RawOsc | Wait | ShellCommand | Plugin | Midi | LinkSession | LinkQuantum
    | LinkStartStop
)  # fmt: skip
"""Any intent."""
