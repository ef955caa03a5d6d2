"""A performer for tests that play the real sequencer: it keeps what it was asked to do."""

from __future__ import annotations


class Heard:
    """Notes and parameter changes, each with the sample `sample` was set to when it came."""

    def __init__(self) -> None:
        self.sample = 0
        self.notes: list[tuple[int, str, float]] = []
        self.params: list[tuple[int, str, float]] = []

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        self.notes.append((self.sample, module_id, midi))

    def release(self, module_id: str) -> None:
        pass

    def set_param(self, module_id: str, param: str, value: float) -> None:
        self.params.append((self.sample, param, value))

    def set_tempo(self, bpm: float) -> None:
        pass

    def of(self, module_id: str) -> list[tuple[int, float]]:
        """The notes of one module: (sample, MIDI note)."""
        return [(sample, midi) for sample, mid, midi in self.notes if mid == module_id]
