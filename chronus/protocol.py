"""The canonical OSC address space of chronus, defined once, as data.

Every other part reads this table: the shell's mapper emits these messages, the engine's
dispatcher validates incoming packets against it, and the docs and tests enumerate it.

>>> msg = validate("/mod/bass/cutoff", (800,))
>>> msg.address, msg.args, msg.fields["id"], msg.fields["param"]
('/mod/bass/cutoff', (800.0,), 'bass', 'cutoff')
>>> decode(encode(msg)) == [msg]
True
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass, field
from typing import Final, Literal

from pythonosc import osc_bundle, osc_message
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

__all__ = [
    "ADDRESS_ALIASES",
    "ADDRESS_SPACE",
    "ENGINE_ONLY",
    "FLOAT32_MAX",
    "ID_PATTERN",
    "IMMEDIATELY",
    "MASTER",
    "MAX_ARGS",
    "MAX_ELEMENTS",
    "MAX_NESTING",
    "MAX_RECORD_FRAMES",
    "MIDI_EVENTS",
    "NTP_UNIX_OFFSET_S",
    "PARAM_ALIASES",
    "SLOT_ONLY",
    "AddressSpec",
    "Arg",
    "ArgSpec",
    "Message",
    "ProtocolError",
    "as_wire",
    "canonical_param",
    "decode",
    "encode",
    "encode_raw",
    "find_spec",
    "ntp_of_unix",
    "on_the_wire",
    "parse_packet",
    "parse_timed",
    "spec_index",
    "unix_ns_of_ntp",
    "validate",
]

Arg = float | int | str
ArgKind = Literal["f", "i", "s"]

MASTER = "master"
"""The id of the output bus; `/patch/connect <src> master` routes a module to the speakers."""

FLOAT32_MAX = float(struct.unpack(">f", b"\x7f\x7f\xff\xff")[0])
"""The largest number OSC's 32-bit float carries (3.4028e38): the wire cannot hold more."""
MAX_RECORD_FRAMES = 2**31 - 1
"""The longest recording a length can ask for: OSC's int32 (12.4 hours at 48 kHz)."""

ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""Module ids and parameter names: lower-case identifiers of at most 32 characters."""

PARAM_ALIASES: dict[str, str] = {
    "frequency": "freq",
    "resonance": "res",
    "q": "res",
    "squelch": "res",
    "volume_db": "volume",
    "gain": "volume",
    "atk": "attack",
    "rel": "release",
    "dec": "decay",
    "sus": "sustain",
    "amplitude": "amp",
}
"""Compatibility names and musicians' words for parameters → canonical names (resolved in
one place: `squelch` is what an acid filter's resonance is called at the prompt)."""

ADDRESS_ALIASES: dict[str, str] = {
    "/note_on": "/note",
    "/noteon": "/note",
    "/bpm": "/tempo",
    "/status": "/engine/status",
    "/quit": "/engine/quit",
}
"""Compatibility addresses → canonical addresses (the `/<id>` part is kept)."""


class ProtocolError(ValueError):
    """A message that is not part of the address space, or whose arguments are wrong."""


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """One argument of an address: its OSC type tag, range and meaning."""

    name: str
    kind: ArgKind
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False

    def coerce(self, value: object) -> Arg:
        """Return `value` converted to this argument's type, or raise `ProtocolError`."""
        if self.kind == "s":
            if not isinstance(value, str):
                raise ProtocolError(f"{self.name} must be a string, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{self.name} must be a number, got {value!r}")
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ProtocolError(f"{self.name} must be finite, got {value!r}")
        if self.minimum is not None and number < self.minimum:
            raise ProtocolError(f"{self.name} must be ≥ {self.minimum:g}, got {number:g}")
        if self.maximum is not None and number > self.maximum:
            raise ProtocolError(f"{self.name} must be ≤ {self.maximum:g}, got {number:g}")
        if self.kind == "i" and not -(2**31) <= number < 2**31:
            raise ProtocolError(f"{self.name} must fit in 32 bits, got {number:g}")
        if abs(number) > FLOAT32_MAX:  # what the wire (and the slots) cannot carry
            raise ProtocolError(f"{self.name} must be within ±{FLOAT32_MAX:.4g}, got {number:g}")
        if self.kind == "i":
            if number != int(number):
                raise ProtocolError(f"{self.name} must be a whole number, got {number:g}")
            return int(number)
        return number


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """One address pattern. `{id}` and `{param}` segments match identifiers."""

    pattern: str
    args: tuple[ArgSpec, ...]
    doc: str
    reply: str | None = None
    _segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_segments", tuple(self.pattern.strip("/").split("/")))

    def match(self, address: str) -> dict[str, str] | None:
        """The path fields (`id`, `param`) if `address` fits this pattern, else None."""
        parts = address.strip("/").split("/")
        if len(parts) != len(self._segments):
            return None
        fields: dict[str, str] = {}
        for want, got in zip(self._segments, parts, strict=True):
            if want.startswith("{"):
                if not ID_PATTERN.fullmatch(got):
                    return None
                fields[want[1:-1]] = got
            elif want != got:
                return None
        return fields

    @property
    def signature(self) -> str:
        """A human-readable form such as `/note/<id> <midi> <velocity> [<seconds>]`."""
        path = re.sub(r"\{(\w+)\}", r"<\1>", self.pattern)
        args = [f"[<{a.name}>]" if a.optional else f"<{a.name}>" for a in self.args]
        return " ".join([path, *args])


def _id(name: str, doc: str) -> ArgSpec:
    return ArgSpec(name, "s", doc)


ADDRESS_SPACE: tuple[AddressSpec, ...] = (
    AddressSpec(
        "/patch/create",
        (_id("id", "new module id"), _id("type", "module type, e.g. saw, sine, kick")),
        "Create a module. It makes no sound until connected (usually to `master`).",
    ),
    AddressSpec(
        "/patch/connect",
        (_id("src", "source module id"), _id("dst", "destination id; `master` is the output")),
        "Route the output of `src` into `dst`.",
    ),
    AddressSpec(
        "/patch/disconnect",
        (_id("src", "source module id"), _id("dst", "destination id")),
        "Remove a route.",
    ),
    AddressSpec("/patch/remove", (_id("id", "module id"),), "Remove a module and its routes."),
    AddressSpec(
        "/patch/modulate",
        (
            _id("src", "modulation source id (an lfo)"),
            _id("dst", "module id whose parameter is modulated"),
            _id("param", "parameter name"),
        ),
        "Patch a modulation source to one parameter of one module (depth set on the source).",
    ),
    AddressSpec(
        "/mod/{id}/{param}",
        (ArgSpec("value", "f", "new value, in the parameter's unit"),),
        "Set one parameter of one module (smoothed where the parameter is continuous).",
    ),
    AddressSpec(
        "/gate/{id}",
        (ArgSpec("gate", "i", "1 opens, 0 closes", 0, 1),),
        "Open or close a module's gate (note held at its last pitch).",
    ),
    AddressSpec(
        "/note/{id}",
        (
            ArgSpec("midi", "f", "MIDI note number (60 = middle C)", 0, 127),
            ArgSpec("velocity", "f", "MIDI velocity", 0, 127),
            ArgSpec("seconds", "f", "length; held until /gate 0 when omitted", 0, 3600, True),
        ),
        "Play a note on a module.",
    ),
    AddressSpec(
        "/patch/begin",
        (),
        "Stage a change: until `/patch/commit` or `/patch/abort`, `/patch/*`, `/mod/*`, "
        "`/seq/*` and `/tempo` commands are checked and held, not played.",
    ),
    AddressSpec(
        "/patch/commit",
        (
            ArgSpec("crossfade_ms", "f", "equal-power crossfade (default 50)", 1, 2000, True),
            ArgSpec("silence_ok", "i", "1: it may be silent at first (a snapshot)", 0, 1, True),
        ),
        "Build the staged change in the standby slot, warm it, test it (finite, within the "
        "CPU budget, not silent where the old sound was not, unless `silence_ok` is 1) and "
        "crossfade to it at a block boundary. A failed test changes nothing and says why.",
        reply="/patch/committed",
    ),
    AddressSpec("/patch/abort", (), "Drop the staged change.", reply="/patch/aborted"),
    AddressSpec(
        "/tempo",
        (
            ArgSpec("bpm", "f", "beats per minute", 20, 400),
            ArgSpec("now", "i", "1: change at once, not at the next bar", 0, 1, True),
        ),
        "Set the tempo. While the transport runs it changes on the next bar line.",
    ),
    AddressSpec(
        "/link",
        (ArgSpec("on", "i", "1: join the Ableton Link session; 0: leave it", 0, 1),),
        "Ableton Link: while on, the tempo follows the session and a tempo set here reaches "
        "every peer, bar lines fall on the session's phase at the quantum, and a start of "
        "the transport waits for the session's next bar line.",
        reply="/link",
    ),
    AddressSpec(
        "/link/quantum",
        (ArgSpec("beats", "i", "the phase peers agree on (default 4)", 1, 64),),
        "Ableton Link's quantum: bar lines fall on the session's phase at this many beats.",
        reply="/link",
    ),
    AddressSpec(
        "/link/sync",
        (ArgSpec("on", "i", "1: share start/stop with the session; 0: not", 0, 1),),
        "Ableton Link's start/stop sync: chronus's start and stop reach the session, and the "
        "session's start and stop start and stop chronus's transport on its next bar line.",
        reply="/link",
    ),
    AddressSpec("/seq/start", (), "Start the transport: beat 0 is this sample."),
    AddressSpec("/seq/stop", (), "Stop the transport and release every sounding note."),
    AddressSpec(
        "/seq/{id}/pattern",
        (
            ArgSpec("pattern", "s", "mini-notation, e.g. `c2 eb2 g2 c3` or `x . x(3,8) [x x]`"),
            ArgSpec("now", "i", "1: switch at once, not at the next bar", 0, 1, True),
        ),
        "Give module `id` a pattern and start its track (and the transport if it is stopped).",
    ),
    AddressSpec(
        "/seq/{id}/step",
        (
            ArgSpec(
                "division", "i", "steps per whole note: 4, 8, 16, 32; 12 or 24 for triplets", 1, 64
            ),
        ),
        "The length of one step of the track (default 16: a 16th note).",
    ),
    AddressSpec(
        "/seq/{id}/gate",
        (ArgSpec("fraction", "f", "note length as a fraction of its step", 0.01, 1),),
        "How long each note of the track sounds (default 0.5).",
    ),
    AddressSpec(
        "/seq/{id}/swing",
        (ArgSpec("amount", "f", "delay of every off-beat step, as a fraction of a step", 0, 0.75),),
        "Swing: off-beat steps come later; every beat and bar stays where it was.",
    ),
    AddressSpec(
        "/seq/{id}/transpose",
        (ArgSpec("semitones", "i", "added to every note of the track", -48, 48),),
        "Transpose the track's notes.",
    ),
    AddressSpec(
        "/seq/{id}/lane",
        (
            _id("param", "parameter of the module set on each step"),
            ArgSpec(
                "values",
                "s",
                "one value per step, `.` or `~` keeps the last, e.g. `400 800 . 1600`",
            ),
        ),
        "A parameter lane: on each step, set `param` of module `id` to the step's value.",
    ),
    AddressSpec("/seq/{id}/start", (), "Start the track again (on the next bar)."),
    AddressSpec("/seq/{id}/stop", (), "Stop the track (on the next bar) and release its note."),
    AddressSpec("/seq/{id}/clear", (), "Remove the track: its pattern, lanes and settings."),
    AddressSpec("/panic", (), "Silence everything at once: all notes off, no release."),
    AddressSpec("/engine/status", (), "Health as one JSON string.", reply="/engine/status"),
    AddressSpec(
        "/engine/now",
        (),
        "What plays now, cheaply, for a live toolbar: one small JSON string with the sample "
        "at the output, the transport's beat and tempo, the output level (peak and RMS per "
        "channel over the last 100 ms, dBFS), DSP load, xruns, underruns, failovers, the "
        "active slot, the recording and the latest engine events (each with a rising serial).",
        reply="/engine/now",
    ),
    AddressSpec(
        "/engine/dump",
        (),
        "The whole engine state (modules, connections, parameters, tempo, sample rate) as one "
        "JSON string.",
        reply="/engine/dump",
    ),
    AddressSpec(
        "/engine/sync",
        (ArgSpec("token", "i", "echoed back"),),
        "Reply once every earlier message from this sender has been handled; the reply "
        "carries the sample at which those messages apply.",
        reply="/engine/synced",
    ),
    AddressSpec("/engine/quit", (), "Stop the engine and all its processes.", reply="/engine/quit"),
    AddressSpec(
        "/notify",
        (
            ArgSpec("on", "i", "1 subscribes (or renews), 0 ends it", 0, 1),
            ArgSpec("name", "s", "the name others see this client by", optional=True),
            ArgSpec(
                "commands_port",
                "i",
                "the port this client sends its commands from",
                0,
                65535,
                True,
            ),
        ),
        "Hear of every change another client makes: `/changed <seq> <client> <address> "
        "<args…>`, numbered per subscriber. Renew within 30 s (as scsynth's `/notify`).",
        reply="/notify",
    ),
    AddressSpec(
        "/clients",
        (),
        "The subscribed clients (name, address, since, idle seconds) as one JSON string.",
        reply="/clients",
    ),
    AddressSpec(
        "/plugins",
        (),
        "Every user plugin the engine knows (state, version, counts, CPU) as one JSON string.",
        reply="/plugins",
    ),
    AddressSpec(
        "/plugins/{name}/health",
        (),
        "One plugin in detail (its metrics, last validation and every transition) as one "
        "JSON string; an unknown name is an error.",
        reply="/plugins/health",
    ),
    AddressSpec(
        "/record/start",
        (
            ArgSpec("path", "s", "WAV file to write (32-bit float), on the engine's machine"),
            ArgSpec(
                "frames",
                "i",
                "length: the engine stops by itself after exactly this many "
                "frames; until /record/stop when omitted",
                1,
                MAX_RECORD_FRAMES,
                True,
            ),
        ),
        "Record what the device plays, from the next block; the reply gives the first sample "
        "(and the length). A recording with a length ends by itself and then sends its "
        "starter `/record/stopped`.",
        reply="/record/started",
    ),
    AddressSpec(
        "/record/stop",
        (),
        "Stop recording; the reply gives the path and the frames written.",
        reply="/record/stopped",
    ),
    AddressSpec(
        "/plugins/load",
        (
            ArgSpec("path", "s", "a .py file, or a module name found in the module folders"),
            ArgSpec(
                "name",
                "s",
                "the plugin's name, its module type (default: the file's stem)",
                optional=True,
            ),
            ArgSpec(
                "force", "i", "1: skip validation (for tests of faulty modules only)", 0, 1, True
            ),
            ArgSpec(
                "hosting",
                "s",
                "`isolated` (a host process per module, its output one block late; the "
                "default) or `inline` (in the slots)",
                optional=True,
            ),
        ),
        "Validate a user module in the sandbox and load it into every engine process; the "
        "reply comes once its type can be created.",
        reply="/plugins/loaded",
    ),
    AddressSpec(
        "/plugins/reload",
        (
            ArgSpec("name", "s", "a loaded plugin"),
            ArgSpec(
                "force", "i", "1: skip validation (for tests of faulty modules only)", 0, 1, True
            ),
        ),
        "Validate the plugin's file again and swap the new version in through a commit (its "
        "modules keep their parameters; equal-power crossfade); a failure keeps the old one.",
        reply="/plugins/loaded",
    ),
    AddressSpec(
        "/plugins/unload",
        (ArgSpec("name", "s", "a loaded plugin"),),
        "Remove every module of the plugin's type (with their fades), then forget the type.",
        reply="/plugins/unloaded",
    ),
    AddressSpec(
        "/plugins/use",
        (
            ArgSpec("name", "s", "plugin name"),
            ArgSpec("version", "s", "plugin version (12 hex digits)"),
            ArgSpec("path", "s", "the store's copy of that version"),
            ArgSpec("hosting", "s", "`inline` (the default) or `isolated`", optional=True),
        ),
        "Internal (the supervisor to the slots, and the session log): from this sample on, "
        "the plugin's type is this version; its modules are swapped to it.",
    ),
    AddressSpec(
        "/plugins/forget",
        (ArgSpec("name", "s", "plugin name"),),
        "Internal (the supervisor to the slots, and the session log): the type is gone.",
    ),
    AddressSpec(
        "/midi/ports",
        (),
        "The MIDI sources this machine has (JACK MIDI outputs, and ALSA ones JACK bridges) as "
        "one JSON list of `[number, name]`; the answer comes once the MIDI process has looked.",
        reply="/midi/ports",
    ),
    AddressSpec(
        "/midi/in",
        (
            ArgSpec("port", "s", "a number from `/midi/ports`, part of a port's name, or `off`"),
            ArgSpec(
                "to",
                "s",
                "the module its notes play (default: the one named before)",
                optional=True,
            ),
            ArgSpec(
                "latency_ms",
                "f",
                "how long after it came an event plays (default: the least the engine "
                "can take on time: device latency + lead + 1 block + 0.5 ms; shorter: late)",
                1,
                500,
                True,
            ),
        ),
        "Connect a MIDI source: its notes play a module, its CCs move mapped parameters, its "
        "pitch bend moves `bend`; each event is stamped at the sample it arrived at, plus a "
        "fixed latency (`/midi/in` replies with the port and that latency, in ms).",
        reply="/midi/in",
    ),
    AddressSpec("/midi/to", (_id("id", "module id"),), "The module MIDI notes play."),
    AddressSpec(
        "/midi/map",
        (
            ArgSpec("cc", "i", "controller number", 0, 127),
            _id("id", "module id"),
            _id("param", "parameter name"),
        ),
        "Map a MIDI CC over a parameter's whole range (frequencies on a log scale).",
        reply="/midi/mapped",
    ),
    AddressSpec(
        "/midi/learn",
        (_id("id", "module id"), _id("param", "parameter name")),
        "Map the next CC that moves to this parameter; the reply names it.",
        reply="/midi/mapped",
    ),
    AddressSpec(
        "/midi/note",
        (
            ArgSpec("note", "i", "MIDI note number", 0, 127),
            ArgSpec("velocity", "i", "MIDI velocity; 0 is a note off", 0, 127),
        ),
        "A note event from a MIDI source (the MIDI process sends these, dated): it becomes "
        "`/note` (or, when the last held key is let go, `/gate 0`) on the module MIDI plays.",
    ),
    AddressSpec(
        "/midi/cc",
        (
            ArgSpec("cc", "i", "controller number", 0, 127),
            ArgSpec("value", "i", "controller value", 0, 127),
        ),
        "A CC event from a MIDI source: it becomes `/mod/<id>/<param>` where it is mapped.",
    ),
    AddressSpec(
        "/midi/bend",
        (ArgSpec("value", "i", "pitch bend, 0 is the centre", -8192, 8191),),
        "A pitch bend event: it becomes the MIDI module's `bend` (±2 semitones).",
    ),
    AddressSpec(
        "/midi/outs",
        (),
        "The MIDI destinations this machine has (JACK MIDI inputs, and ALSA ones JACK bridges) "
        "as one JSON list of `[number, name]`.",
        reply="/midi/outs",
    ),
    AddressSpec(
        "/midi/out",
        (
            _id("id", "the track (module id) whose pattern's notes go out"),
            ArgSpec("port", "s", "a number from `/midi/outs`, part of a port's name, or `off`"),
            ArgSpec("channel", "i", "MIDI channel (default 1)", 1, 16, True),
        ),
        "Send a track's pattern notes to a MIDI port as note on/off, each at the frame its "
        "sample plays at (`off`: stop, its sounding notes let go); the reply names the port.",
        reply="/midi/out",
    ),
    AddressSpec(
        "/midi/clock",
        (ArgSpec("to", "s", "`on` (to every port a track plays to), a port, or `off`"),),
        "Send MIDI clock (24 per beat, at the tempo, Link's nudges included) and Start/Stop "
        "with the transport; the reply names the ports.",
        reply="/midi/clock",
    ),
    AddressSpec(
        "/midi/bridge",
        (ArgSpec("kind", "s", "ports, ready or failed"), ArgSpec("text", "s", "its detail")),
        "Internal (the MIDI process to the engine): what it found or why it stopped.",
    ),
)
"""Every canonical address. Replies to anything go to the sender; errors come as `/error`."""

ENGINE_ONLY = frozenset({
    "/engine/status", "/engine/dump", "/engine/sync", "/engine/quit", "/engine/now",
    "/notify", "/clients",
    "/patch/begin", "/patch/commit", "/patch/abort", "/record/start", "/record/stop",
    "/plugins", "/plugins/{name}/health", "/plugins/load", "/plugins/reload", "/plugins/unload",
    "/midi/ports", "/midi/in", "/midi/to", "/midi/map", "/midi/learn", "/midi/bridge",
    "/midi/outs", "/midi/out", "/midi/clock",
    "/link", "/link/quantum", "/link/sync",
})  # fmt: skip
"""Addresses (or patterns, for those with path fields) the supervisor answers itself;
everything else is a command for the slots."""

MIDI_EVENTS = frozenset({"/midi/note", "/midi/cc", "/midi/bend"})
"""Events from a MIDI source: the supervisor turns each into the canonical commands it
means (`/note`, `/gate`, `/mod`) before they are stamped, so the slots and the session log
never see MIDI."""

SLOT_ONLY = frozenset({"/plugins/use", "/plugins/forget"})
"""Commands only the supervisor sends the slots (and the session log holds); refused from a
client: code is loaded by `/plugins/load`, never by a command that names a file."""


@dataclass(frozen=True, slots=True)
class Message:
    """A validated canonical message: its address, typed arguments and path fields."""

    address: str
    args: tuple[Arg, ...]
    fields: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def pattern(self) -> str:
        """The address pattern this message matched, e.g. `/mod/{id}/{param}`."""
        return find_spec(self.address)[0].pattern

    def to_list(self) -> list[Arg]:
        """`[address, arg, ...]`, the form `chronus parse --json` prints."""
        return [self.address, *self.args]


def spec_index(address: str) -> int:
    """The index in `ADDRESS_SPACE` of the pattern `address` matches (-1 if none)."""
    try:
        return ADDRESS_SPACE.index(find_spec(address)[0])
    except ProtocolError:
        return -1


def _resolve_alias(address: str) -> str:
    for old, new in ADDRESS_ALIASES.items():
        if address == old or address.startswith(old + "/"):
            return new + address[len(old) :]
    return address


def canonical_param(name: str) -> str:
    """The canonical name of a parameter (`frequency` → `freq`)."""
    lowered = name.lower()
    return PARAM_ALIASES.get(lowered, lowered)


def find_spec(address: str) -> tuple[AddressSpec, dict[str, str]]:
    """The spec an address matches and its path fields; `ProtocolError` if none."""
    spec, fields = _find_spec_cached(address)
    return spec, dict(fields)


@functools.lru_cache(maxsize=4096)
def _find_spec_cached(address: str) -> tuple[AddressSpec, tuple[tuple[str, str], ...]]:
    # A session uses few distinct addresses many times (every note of a bass line is
    # /note/bass); matching each against the whole space costs more than the rest of validate.
    for spec in ADDRESS_SPACE:
        fields = spec.match(address)
        if fields is not None:
            return spec, tuple(fields.items())
    raise ProtocolError(f"unknown address {address}")


def validate(address: str, args: tuple[object, ...] | list[object]) -> Message:
    """Check an address and its arguments against the address space.

    Aliases are resolved first (`/mod/x/frequency` → `/mod/x/freq`). Returns the canonical
    `Message`; raises `ProtocolError` with a message a user can act on.
    """
    if not isinstance(address, str) or not address.startswith("/"):
        raise ProtocolError(f"an OSC address starts with '/', got {address!r}")
    address = _resolve_alias(address)
    if address.startswith("/mod/"):
        parts = address.split("/")
        if len(parts) == 4:
            parts[3] = canonical_param(parts[3])
            address = "/".join(parts)
    spec, fields = find_spec(address)
    required = sum(1 for a in spec.args if not a.optional)
    if not required <= len(args) <= len(spec.args):
        want = " ".join(f"<{a.name}>" for a in spec.args) or "no arguments"
        raise ProtocolError(f"{address} takes {want}, got {len(args)} argument(s)")
    typed = tuple(a.coerce(v) for a, v in zip(spec.args, args, strict=False))
    for a, v in zip(spec.args, typed, strict=False):
        if (
            a.kind == "s"
            and a.name in ("id", "src", "dst", "type", "param")
            and not ID_PATTERN.fullmatch(str(v))
        ):
            raise ProtocolError(f"{a.name} must be a lower-case identifier, got {v!r}")
    return Message(address, typed, fields)


_INT32 = struct.Struct(">i")
_FLOAT32 = struct.Struct(">f")


def as_wire(value: float) -> float:
    """`value` as a slot gets it: a 32-bit OSC float. A value the engine makes itself (a
    Link tempo, a MIDI controller's) must be logged as this, or the offline render of the log
    would differ from what played by the rounding.

    >>> as_wire(133.126), as_wire(0.5)
    (133.12600708007812, 0.5)
    """
    result: float = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    return result


def on_the_wire(message: Message) -> Message:
    """`message` with its floats as the slots get them (`as_wire`); itself if it has none."""
    if not any(isinstance(value, float) for value in message.args):
        return message
    args = tuple(as_wire(value) if isinstance(value, float) else value for value in message.args)
    return Message(message.address, args, message.fields)


def encode(message: Message) -> bytes:
    """The OSC datagram of a message (floats as `f`, ints as `i`, strings as `s`)."""
    builder = OscMessageBuilder(address=message.address)
    for value in message.args:
        if isinstance(value, str):
            builder.add_arg(value, "s")
        elif isinstance(value, int):
            builder.add_arg(value, "i")
        else:
            builder.add_arg(float(value), "f")
    return builder.build().dgram


def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def encode_raw(address: str, *args: Arg) -> bytes:
    """An OSC datagram for any address (replies such as `/error` are not commands).

    Strings, floats and 32-bit ints are written here, byte for byte as python-osc writes
    them: its builder parses what it built again, which costs milliseconds on a large dump.
    """
    tags = [","]
    parts = [b""]
    try:
        parts[0] = _osc_string(address)
        for value in args:
            if isinstance(value, str):
                tags.append("s")
                parts.append(_osc_string(value))
            elif isinstance(value, float):
                tags.append("f")
                parts.append(_FLOAT32.pack(value))
            elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 32:
                tags.append("i")
                parts.append(_INT32.pack(value))
            else:
                raise TypeError(value)
    except (TypeError, UnicodeEncodeError):
        builder = OscMessageBuilder(address=address)  # other types, and its errors
        for value in args:
            builder.add_arg(value)
        return builder.build().dgram
    parts.insert(1, _osc_string("".join(tags)))
    return b"".join(parts)


_PARSE_ERRORS = (
    osc_types.ParseError,
    osc_message.ParseError,
    osc_bundle.ParseError,
    IndexError,
    ValueError,
    TypeError,
    UnicodeDecodeError,
)


def parse_packet(data: bytes) -> list[tuple[str, tuple[Arg, ...]]]:
    """The raw (address, args) pairs in an OSC packet, bundles flattened in order.

    Raises `ProtocolError` if the bytes are not OSC, or if bundles nest deeper than
    `MAX_NESTING` levels (a bundle in a bundle is two) or hold more than `MAX_ELEMENTS`
    messages: the whole packet is refused.
    """
    return [(address, args) for _, address, args in parse_timed(data)]


NTP_UNIX_OFFSET_S: Final = 2_208_988_800
"""Seconds from the NTP epoch (1900) to the Unix epoch (1970)."""


def unix_ns_of_ntp(tag: int) -> int:
    """The Unix time (ns) an NTP time tag names.

    >>> unix_ns_of_ntp((NTP_UNIX_OFFSET_S + 2) << 32 | 1 << 31)
    2500000000
    """
    seconds, fraction = tag >> 32, tag & 0xFFFF_FFFF
    return (seconds - NTP_UNIX_OFFSET_S) * 1_000_000_000 + (fraction * 1_000_000_000 >> 32)


def ntp_of_unix(seconds: float) -> int:
    """The NTP time tag of a Unix time in seconds (for clients and tests).

    >>> unix_ns_of_ntp(ntp_of_unix(1.25))
    1250000000
    """
    return round((seconds + NTP_UNIX_OFFSET_S) * 2**32)


def parse_timed(data: bytes) -> list[tuple[int, str, tuple[Arg, ...]]]:
    """`parse_packet`'s messages, each with the time tag it is due at (NTP, 64 bits).

    A message outside any bundle, or in bundles all tagged immediately, gets `IMMEDIATELY`.
    In nested bundles the inner tag applies if it is later than the outer one (OSC 1.0 asks
    that it be; an earlier one is taken as the outer). Errors as `parse_packet`.

    >>> from pythonosc.osc_bundle_builder import OscBundleBuilder
    >>> outer = OscBundleBuilder(5.0)  # Unix time 5 s
    >>> inner = OscBundleBuilder(4.0)  # earlier than the outer: the outer's applies
    >>> inner.add_content(OscMessageBuilder("/a").build())
    >>> outer.add_content(inner.build())
    >>> outer.add_content(OscMessageBuilder("/b").build())
    >>> [((tag >> 32) - 2208988800, a) for tag, a, _ in parse_timed(outer.build().dgram)]
    [(5, '/a'), (5, '/b')]
    """
    out: list[tuple[int, str, tuple[Arg, ...]]] = []
    _parse_into(data, 0, IMMEDIATELY, out)
    return out


def _parse_into(
    data: bytes, depth: int, tag: int, out: list[tuple[int, str, tuple[Arg, ...]]]
) -> None:
    """Append what `data` holds to `out`; the recursion is bounded by `MAX_NESTING`."""
    if data.startswith(_BUNDLE):
        if depth >= MAX_NESTING:
            raise ProtocolError(f"bundles nested deeper than {MAX_NESTING} levels are refused")
        if len(data) < _BUNDLE_HEAD:
            raise ProtocolError("malformed OSC bundle: no time tag")
        tag = max(tag, _TIME_TAG.unpack_from(data, len(_BUNDLE))[0])
        index = _BUNDLE_HEAD
        while index < len(data):
            if index + 4 > len(data):
                raise ProtocolError("malformed OSC bundle: an element's size is cut off")
            size = _INT32.unpack_from(data, index)[0]
            index += 4
            if size <= 0 or index + size > len(data):
                raise ProtocolError(f"malformed OSC bundle: an element of {size} bytes")
            _parse_into(data[index : index + size], depth + 1, tag, out)
            index += size
        return
    if len(out) >= MAX_ELEMENTS:
        raise ProtocolError(f"a packet of more than {MAX_ELEMENTS} messages is refused")
    out.append((tag, *_parse_message(data)))


def _parse_message(data: bytes) -> tuple[str, tuple[Arg, ...]]:
    try:
        if not data.startswith(b"/"):
            raise ProtocolError("not an OSC packet (it must start with '/' or '#bundle')")
        simple = _parse_simple(data)
        if simple is not None:
            return simple
        _check_tags(data)
        msg = OscMessage(data)
        return msg.address, tuple(msg.params)
    except ProtocolError:
        raise
    except _PARSE_ERRORS as exc:
        raise ProtocolError(f"malformed OSC packet: {exc}") from exc


_BUNDLE = b"#bundle\0"
_BUNDLE_HEAD = len(_BUNDLE) + 8
"""The bundle's tag and its time tag: its elements follow."""
_TIME_TAG = struct.Struct(">Q")
IMMEDIATELY = 1
"""The time tag that means "at once" (OSC 1.0); 0, which some senders write for it, and
which no clock reads as a real time (1900), is read the same way."""
MAX_NESTING = 8
"""The deepest nesting of bundles a packet may have (a message in a bundle is at level 1)."""
MAX_ELEMENTS = 4096
"""The most messages one packet may hold (a 64 KB datagram of the smallest has ~4,000)."""


MAX_ARGS = 64
"""The most arguments one message may carry (the address space takes at most 3)."""
_KNOWN_TAGS = frozenset("ihfdsbrmtTFN[]")
"""The type tags python-osc reads; it logs a line for each other one, so they are refused."""


def _check_tags(data: bytes) -> None:
    """Refuse, before python-osc reads it, a message with too many arguments or a type tag
    it does not know (a 60 KB packet of unknown tags wrote 3.4 MB of log lines)."""
    found = _string_at(data, 0)
    tags = _string_at(data, found[1]) if found is not None else None
    if tags is None or not tags[0].startswith(","):
        return  # no type tags: python-osc reads an address alone or refuses it
    if len(tags[0]) - 1 > MAX_ARGS:
        raise ProtocolError(f"a message of more than {MAX_ARGS} arguments is refused")
    if unknown := set(tags[0][1:]) - _KNOWN_TAGS:
        raise ProtocolError(f"unknown OSC type tag {sorted(unknown)[0]!r}")


def _string_at(data: bytes, start: int) -> tuple[str, int] | None:
    end = data.find(b"\0", start)
    after = (end + 4) & ~3
    if end < 0 or after > len(data):
        return None
    try:
        return data[start:end].decode("utf-8"), after
    except UnicodeDecodeError:
        return None


def _parse_simple(data: bytes) -> tuple[str, tuple[Arg, ...]] | None:
    """A well-formed message of `s`, `i` and `f` arguments, read as python-osc reads it;
    None for anything else, which python-osc then reads (or rejects).

    python-osc looks for a string's end one byte at a time: 14 ms for a 400 KB dump.
    """
    found = _string_at(data, 0)
    if found is None:
        return None
    address, index = found
    if index == len(data):
        return address, ()
    found = _string_at(data, index)
    if found is None or not found[0].startswith(",") or found[0][1:].strip("sif"):
        return None
    tags, index = found
    args: list[Arg] = []
    for tag in tags[1:]:
        if tag == "s":
            found = _string_at(data, index)
            if found is None:
                return None
            text, index = found
            args.append(text)
        elif index + 4 > len(data):
            return None
        else:
            number = (_INT32 if tag == "i" else _FLOAT32).unpack_from(data, index)[0]
            args.append(number)
            index += 4
    return address, tuple(args)


def decode(data: bytes) -> list[Message]:
    """Decode and validate an OSC packet into canonical messages."""
    return [validate(address, args) for address, args in parse_packet(data)]
