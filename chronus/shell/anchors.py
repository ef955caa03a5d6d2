"""Where each track's cycle 0 lies, followed from the commands this shell sends.

The engine's dump gives a track's pattern but not where its cycles start, and without that an
alternation (`<a b>`) or a pattern whose cycle is not a whole bar cannot be placed. The
sequencer's rule is simple, so the shell follows it (`chronus.seq.sequencer`): a transport
that starts puts every track's cycle 0 on beat 0; a pattern sent with `now` starts on the bar
it comes in; any other pattern, step, swing or start waits for the next bar line and starts
there. The beat at which a command was sent comes from the engine (`beat_now`, None while
stopped). A command sent by another client (a script, a second shell) is not seen: such a
track falls back to beat 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from chronus.protocol import Message
from chronus.seq.transport import BEATS_PER_BAR

__all__ = ["Anchors"]

_REANCHOR = ("pattern", "step", "swing", "start")
_SETTINGS = {"pattern": "pattern", "step": "division", "swing": "swing"}
"""A command → the field of a dump's track entry it sets."""


@dataclass(frozen=True, slots=True)
class _Placed:
    at: Fraction
    """The beat of cycle 0 from `since` on."""
    since: Fraction
    """The bar line where this placement begins (the change waits until then)."""
    before: tuple[Fraction, dict[str, Any]] | None
    """The anchor, and the settings this shell sent before (pattern, division, swing), that
    play until `since`."""


class Anchors:
    """Each track's anchor, as the sequencer will set it, from the commands sent."""

    def __init__(self) -> None:
        self._placed: dict[str, _Placed] = {}
        self._settings: dict[str, dict[str, Any]] = {}

    def sent(self, messages: Iterable[Message], beat: float | None) -> None:
        """Messages sent together (one stamp) when the transport was at `beat` (None: it was
        stopped)."""
        now = None if beat is None else Fraction(beat)
        for message in messages:
            parts = message.address.split("/")
            if message.address == "/seq/start" and now is None:
                self._placed.clear()  # every track from beat 0
                now = Fraction(0)
            elif message.address == "/seq/stop":
                now = None
            elif len(parts) == 4 and parts[1] == "seq":
                now = self._track(parts[2], parts[3], message.args, now)

    def _track(
        self, module_id: str, action: str, args: tuple[Any, ...], now: Fraction | None
    ) -> Fraction | None:
        """One track command at `now`; returns the transport's beat after it."""
        if action == "clear":
            self._placed.pop(module_id, None)
            self._settings.pop(module_id, None)
            return now
        settings = self._settings.setdefault(module_id, {})
        old = dict(settings)
        if action in _SETTINGS:
            settings[_SETTINGS[action]] = args[0]
        if action not in _REANCHOR:
            return now
        if now is None:
            if action in ("pattern", "start"):  # the transport starts with it: all from 0
                self._placed.clear()
                return Fraction(0)
            return None
        if action == "pattern" and len(args) > 1 and int(args[1]) == 1:
            bar = Fraction(math.floor(now / BEATS_PER_BAR) * BEATS_PER_BAR)
            self._placed[module_id] = _Placed(bar, bar, None)
            return now
        bar = Fraction(math.ceil(now / BEATS_PER_BAR) * BEATS_PER_BAR)
        previous = self._placed.get(module_id)
        before = (previous.at if previous else Fraction(0), old)
        if previous is not None and previous.since > now:  # two changes before one bar line
            before = previous.before or before
        self._placed[module_id] = _Placed(bar, bar, before)
        return now

    def placed(self, dump: dict[str, Any], beat: float | None) -> dict[str, Any]:
        """`dump` with each known track's `anchor` at `beat` (and, until a change waiting for
        its bar line comes in, the pattern, step and swing that still play)."""
        tracks = dump.get("tracks")
        if not isinstance(tracks, dict) or not self._placed:
            return dump
        out = dict(tracks)
        for module_id, placed in self._placed.items():
            entry = out.get(module_id)
            if not isinstance(entry, dict):
                continue
            if beat is not None and Fraction(beat) < placed.since and placed.before:
                anchor, old = placed.before
                entry = {**entry, **old, "anchor": float(anchor)}
            else:
                entry = {**entry, "anchor": float(placed.at)}
            out[module_id] = entry
        return {**dump, "tracks": out}
