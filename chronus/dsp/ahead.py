"""The sequencer fired ahead of the render: notes inside a block without splitting it.

A block split at a note's sample renders the whole patch twice, each piece paying every
module's fixed cost; with 64 tracks starting notes at once that was a third of the block.
Fired ahead, at the start of the piece the note falls in, the sequencer plays on `Ahead`:
each note goes to its modules with its sample inside the block (`Graph.note_at`), and the
modules' kernels start it there — the same samples as the split block, which every module's
block-size invariance makes exact. What cannot wait inside a kernel (a lane's parameter, a
release, the tempo, a note on a module without `note_at`) is held, with every later action
on the same modules, and done at its sample after the block is rendered up to it: the
block is split there as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chronus.dsp.graph import Graph

__all__ = ["Ahead"]


class Ahead:
    """The performer (`chronus.seq.track.Performer`) of a sequencer firing at `at` samples
    into the block the graph renders next."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.at = 0
        self._held: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._held_ids: set[str] = set()

    @property
    def held(self) -> bool:
        """Whether something must be done at the sample itself (the block splits there)."""
        return bool(self._held)

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        """Into the modules' next block at `at`, or held."""
        if not self.graph.note_at(module_id, self.at, midi, velocity, length, self._held_ids):
            self._held.append((self.graph.note, (module_id, midi, velocity, length)))

    def release(self, module_id: str) -> None:
        """Held."""
        self._held_ids.add(module_id)
        self._held.append((self.graph.release, (module_id,)))

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Held."""
        self._held_ids.add(module_id)
        self._held.append((self.graph.set_param, (module_id, param, value)))

    def set_tempo(self, bpm: float) -> None:
        """Held."""
        self._held.append((self.graph.set_tempo, (bpm,)))

    def take_held(self) -> list[tuple[Callable[..., None], tuple[Any, ...]]]:
        """What was held, in order, to be called on the graph once it has rendered up to
        the sample (graph methods and their arguments); forgotten here."""
        held, self._held = self._held, []
        self._held_ids.clear()
        return held
