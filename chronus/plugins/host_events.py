"""What the graph does to an isolated module between its calls, carried to its host.

Between two render calls the graph may call a module's hooks: a note now (`note_on`) or at a
sample of the next block (`note_at`), the notes the block did not reach (`flush_notes`), a
gate, a release, a panic (`silence`), a tempo, a parameter. A stand-in cannot run them: it
records each as a row of numbers (`EventRecorder`), in order, and offers the rows with its
next call; the host replays them on its instance (`replay`) before and inside that call's
render, in the same order. So the host's instance is given what an inline module would have
been given, at the same samples, and renders what it would have rendered (a block late).

A note inside the block (`note_at`) is the one hook that answers: the graph asks first
whether the module can take one (`can_note_at`), and a stand-in cannot ask its host. It says
yes when the hosted type has `note_at` at all (and rows are left); in the host, a note its
instance cannot take then is played as the graph would have played it: the render is split
at the note's sample and the note started there (`note_on`), as is every later note of the
call — what an inline module is given when the graph holds the note and splits the block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Module, Processor

__all__ = [
    "EVENTS",
    "FLUSH",
    "GATE",
    "NOTE_AT",
    "NOTE_ON",
    "PARAM",
    "RELEASE",
    "SILENCE",
    "TEMPO",
    "WIDTH",
    "EventRecorder",
    "hooks_of",
    "replay",
]

EVENTS: Final = 64
"""Rows one call carries at most; more are dropped (and counted by the stand-in)."""
WIDTH: Final = 5
"""A row: the kind, then up to four numbers (see each kind)."""
NOTE_ON, NOTE_AT, FLUSH, GATE, RELEASE, SILENCE, TEMPO, PARAM = range(1, 9)
"""The kinds: `NOTE_ON` (midi, velocity, length), `NOTE_AT` (at, midi, velocity, length),
`FLUSH`, `GATE` (1 open, 0 closed), `RELEASE`, `SILENCE`, `TEMPO` (bpm), `PARAM` (index,
value)."""

_HOOKS: Final = {
    NOTE_ON: "note_on",
    NOTE_AT: "note_at",
    FLUSH: "flush_notes",
    GATE: "gate",
    RELEASE: "release_all",
    SILENCE: "silence",
    TEMPO: "tempo_changed",
}


def hooks_of(cls: type[Module]) -> frozenset[int]:
    """The kinds of rows worth sending to `cls`: the hooks it defines itself (the base
    classes' do nothing), and parameters always."""
    bases = (Module, Processor)
    return frozenset(
        kind
        for kind, name in _HOOKS.items()
        if all(getattr(cls, name) is not getattr(base, name) for base in bases)
    ) | {PARAM}


class EventRecorder:
    """A stand-in's rows for its next call: an array of `EVENTS` rows and a count, both the
    stand-in's state (a joining slot offers the same rows)."""

    def __init__(self, counts: npt.NDArray[np.int64], pending: int, dropped: int) -> None:
        self.rows = np.zeros((EVENTS, WIDTH))
        self._counts = counts
        self._pending = pending
        self._dropped = dropped

    @property
    def count(self) -> int:
        """Rows recorded since the last call."""
        return int(self._counts[self._pending])

    def room(self, rows: int) -> bool:
        """Whether `rows` more fit."""
        return int(self._counts[self._pending]) + rows <= EVENTS

    def record(
        self, kind: int, a: float = 0.0, b: float = 0.0, c: float = 0.0, d: float = 0.0
    ) -> None:
        """Add a row (or count it dropped, with no room left)."""
        counts = self._counts
        i = int(counts[self._pending])
        if i >= EVENTS:
            counts[self._dropped] += 1
            return
        row = self.rows[i]
        row[0], row[1], row[2], row[3], row[4] = kind, a, b, c, d
        counts[self._pending] = i + 1

    def sent(self) -> None:
        """The rows went with a call: start again."""
        self._counts[self._pending] = 0


def replay(
    instance: Module,
    rows: npt.NDArray[np.float64],
    count: int,
    n: int,
    render: Callable[[int, int], None],
    set_param: Callable[[int, float], None],
) -> None:
    """Give `instance` the call's `count` rows and render its `n` frames through `render(start,
    stop)`, in pieces where a note inside the block could not be taken (see the docstring)."""
    done = 0
    split = ahead = False
    for i in range(count):
        kind = int(rows[i, 0])
        a, b, c, d = float(rows[i, 1]), float(rows[i, 2]), float(rows[i, 3]), float(rows[i, 4])
        if kind == NOTE_AT:
            if not split and instance.can_note_at():
                instance.note_at(int(a), b, c, int(d))
                ahead = True
                continue
            split = True
            cut = min(max(int(a), done), n)
            if cut > done:  # the graph would have rendered up to the note, then flushed
                render(done, cut)
                done = cut
                if ahead:
                    instance.flush_notes()
                    ahead = False
            instance.note_on(b, c, int(d))
        elif kind == NOTE_ON:
            instance.note_on(a, b, int(c))
        elif kind == FLUSH:
            instance.flush_notes()
        elif kind == GATE:
            instance.gate(a >= 0.5)
        elif kind == RELEASE:
            instance.release_all()
        elif kind == SILENCE:
            instance.silence()
        elif kind == TEMPO:
            instance.tempo_changed(a)
        elif kind == PARAM:
            set_param(int(a), b)
    if done < n:
        render(done, n)
