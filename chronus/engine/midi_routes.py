"""What MIDI events mean: the module notes play, which CC moves which parameter, a pending
learn. Pure state, no MIDI and no sockets: the supervisor feeds it `/midi/note`, `/midi/cc`
and `/midi/bend` messages and stamps the canonical commands it gives back, so the slots and
the session log hold only `/note`, `/gate` and `/mod` (and `chronus render` needs no MIDI).

>>> from chronus.dsp.patch import Patch
>>> from chronus.protocol import validate
>>> patch = Patch()
>>> _ = patch.apply(validate("/patch/create", ("bass", "saw")))
>>> routes = MidiRoutes()
>>> routes.play("bass", patch)
>>> routes.map(74, "bass", "cutoff", patch)
>>> [m.to_list() for m in routes.translate(validate("/midi/note", (48, 100)), patch)]
[['/note/bass', 48.0, 100.0]]
>>> [m.to_list() for m in routes.translate(validate("/midi/cc", (74, 127)), patch)]
[['/mod/bass/cutoff', 20000.0]]
>>> [m.to_list() for m in routes.translate(validate("/midi/note", (48, 0)), patch)]
[['/gate/bass', 0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from chronus.dsp.errors import PatchError
from chronus.dsp.params import ParamSpec
from chronus.dsp.patch import Patch
from chronus.dsp.specs import param_specs
from chronus.protocol import Message, as_wire, validate

__all__ = ["BEND_CENTS", "Learned", "MidiError", "MidiRoutes", "cc_value"]

BEND_CENTS: Final = 200.0
"""How far a full pitch bend moves `bend`: ±2 semitones, the General MIDI default."""


class MidiError(ValueError):
    """A MIDI event or setting that cannot apply (no module to play, an unknown parameter)."""


@dataclass(frozen=True, slots=True)
class Learned:
    """A learn that a CC completed: who asked, and what is now mapped."""

    addr: Any
    cc: int
    module: str
    param: str


def cc_value(spec: ParamSpec, value: int) -> float:
    """A CC value (0–127) over a parameter's range: frequencies on a log scale, the rest
    linear.

    >>> spec = ParamSpec("cutoff", 2000.0, 20.0, 20000.0, "hz")
    >>> [round(cc_value(spec, v), 3) for v in (0, 127)]
    [20.0, 20000.0]
    >>> round(cc_value(ParamSpec("res", 0.2, 0.0, 1.0), 64), 4)
    0.5039
    """
    share = min(max(value, 0), 127) / 127.0
    if spec.unit == "hz" and spec.minimum > 0.0:
        return float(spec.minimum * (spec.maximum / spec.minimum) ** share)
    return spec.minimum + share * (spec.maximum - spec.minimum)


def _spec(patch: Patch, module: str, param: str) -> ParamSpec:
    """The spec of `module`'s `param`; `MidiError` if either is unknown."""
    try:
        entry = patch.module(module)
    except PatchError as exc:
        raise MidiError(str(exc)) from None
    for spec in param_specs(entry["type"]):
        if spec.name == param:
            return spec
    raise MidiError(f"{entry['type']} {module!r} has no parameter {param!r}")


class MidiRoutes:
    """The supervisor's MIDI routing: set by `/midi/to`, `/midi/map`, `/midi/learn`, read by
    `translate`."""

    def __init__(self) -> None:
        self.target: str | None = None
        """The module notes play (None: not chosen yet)."""
        self.maps: dict[int, tuple[str, str]] = {}
        """CC number → (module, parameter)."""
        self._learning: tuple[Any, str, str] | None = None
        self._held: list[int] = []
        self._learned: Learned | None = None
        self.no_bend: str | None = None
        """The last target found without a `bend` (told once, not at every bend)."""

    def play(self, module: str, patch: Patch) -> None:
        """Notes play `module` from now on."""
        try:
            patch.module(module)
        except PatchError as exc:
            raise MidiError(str(exc)) from None
        self.target = module
        self._held.clear()

    def map(self, cc: int, module: str, param: str, patch: Patch) -> None:
        """CC `cc` moves `module`'s `param` over its range."""
        _spec(patch, module, param)
        self.maps[cc] = (module, param)

    def learn(self, addr: Any, module: str, param: str, patch: Patch) -> None:
        """The next CC that moves is mapped to `module`'s `param` (and `addr` is told)."""
        _spec(patch, module, param)
        self._learning = (addr, module, param)

    @property
    def learning(self) -> tuple[Any, str, str] | None:
        """The learn waiting for a CC: who asked, the module, the parameter (None: none)."""
        return self._learning

    def restore(
        self, target: str | None, maps: dict[int, tuple[str, str]],
        learning: tuple[Any, str, str] | None,
    ) -> None:  # fmt: skip
        """The routes a supervisor that died had (checked against its patch then; a module
        gone since is told when an event reaches it)."""
        self.target, self.maps, self._learning = target, dict(maps), learning
        self._held.clear()

    def take_learned(self) -> Learned | None:
        """The learn the last CC completed, once."""
        learned, self._learned = self._learned, None
        return learned

    def translate(self, event: Message, patch: Patch) -> list[Message]:
        """The canonical commands a MIDI event means (none for an unmapped CC)."""
        if event.address == "/midi/cc":
            return self._cc(int(event.args[0]), int(event.args[1]), patch)
        target = self._target(patch)
        if event.address == "/midi/note":
            return self._note(target, int(event.args[0]), int(event.args[1]))
        return self._bend(target, int(event.args[0]), patch)

    def _target(self, patch: Patch) -> str:
        if self.target is None:
            raise MidiError("MIDI notes play no module yet: `midi in to <module>` names one")
        try:
            patch.module(self.target)
        except PatchError:
            raise MidiError(f"MIDI notes play {self.target!r}, which is gone") from None
        return self.target

    def _note(self, target: str, note: int, velocity: int) -> list[Message]:
        if note in self._held:
            self._held.remove(note)
        if velocity > 0:
            self._held.append(note)
            return [validate(f"/note/{target}", (note, velocity))]
        if self._held:  # the synths release every voice at once: wait for the last key
            return []
        return [validate(f"/gate/{target}", (0,))]

    def _cc(self, cc: int, value: int, patch: Patch) -> list[Message]:
        if self._learning is not None:
            addr, module, param = self._learning
            self._learning = None
            self.maps[cc] = (module, param)
            self._learned = Learned(addr, cc, module, param)
        mapped = self.maps.get(cc)
        if mapped is None:
            return []
        module, param = mapped
        spec = _spec(patch, module, param)
        return [validate(f"/mod/{module}/{param}", (as_wire(cc_value(spec, value)),))]

    def _bend(self, target: str, value: int, patch: Patch) -> list[Message]:
        try:
            spec = _spec(patch, target, "bend")
        except MidiError:
            if self.no_bend == target:
                return []
            self.no_bend = target
            kind = patch.module(target)["type"]
            raise MidiError(f"{kind} {target!r} has no bend: pitch bend does nothing") from None
        cents = spec.clamp(value / 8192.0 * BEND_CENTS)[0]
        return [validate(f"/mod/{target}/bend", (as_wire(cents),))]
