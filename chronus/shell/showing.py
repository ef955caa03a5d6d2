"""`show …`: which picture a line asks for, drawn once or, for patterns playing, live."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group

from chronus.engine.client import EngineError
from chronus.protocol import Message
from chronus.shell.anchors import Anchors
from chronus.shell.feedback import BeatNow
from chronus.shell.live import LiveRunner, ansi_lines
from chronus.shell.pictures import module_bars, patch_tree, pattern_grid, render

__all__ = ["Show"]

"""The transport's beat now (None when it is stopped): `EngineClient.now()["beat"]`."""

_PATTERNS = ("patterns", "pattern", "grid", "steps")
_ONCE = "once"


class Show:
    """Answers `show`, `show patch`, `show patterns [once]` and `show <module>`.

    `beat_now` says where the transport is (None until wired: no playhead, one frame);
    `live` shows frames until a key is pressed (None: not a terminal, one frame is written).
    """

    def __init__(
        self,
        write: Callable[[str], None],
        beat_now: BeatNow | None = None,
        live: LiveRunner | None = None,
    ) -> None:
        self.write = write
        self.beat_now = beat_now
        self.live = live
        self.anchors = Anchors()

    def sent(self, messages: Sequence[Message]) -> None:
        """Messages about to go to the engine: a sequencer command moves a track's cycles
        (asks the engine for its beat, so only then)."""
        if any(message.address.startswith("/seq/") for message in messages):
            self.anchors.sent(messages, self._beat())

    def __call__(self, what: str | None, dump: dict[str, Any]) -> None:
        """Draw what `show <what>` asks for, from the engine's `dump`."""
        words = (what or "patch").split()
        once = words[-1] == _ONCE and len(words) > 1
        name = words[0]
        width = shutil.get_terminal_size((100, 24)).columns
        if name == "patch":
            self.write(render(patch_tree(dump), width))
        elif name in _PATTERNS and name not in (dump.get("modules") or {}):
            if once or self.live is None or self.beat_now is None or not dump.get("transport"):
                self.write(render(self._grid(dump, False, width, None), width))
            else:
                self.live(lambda columns, rows: self._frame(dump, columns, rows))
        else:
            self.write(render(module_bars(dump, name), width))

    def _frame(self, dump: dict[str, Any], columns: int, rows: int) -> list[str]:
        """One frame of the live grid, in colour, at the beat of now."""
        return ansi_lines(self._grid(dump, True, columns, rows), columns)

    def _grid(self, dump: dict[str, Any], color: bool, width: int, height: int | None) -> Group:
        """The grid at the beat of now, each track's cycles placed as this shell sent them."""
        beat = self._beat()
        return pattern_grid(self.anchors.placed(dump, beat), beat, color, width, height)

    def _beat(self) -> float | None:
        if self.beat_now is None:
            return None
        try:
            return self.beat_now()
        except (EngineError, OSError):
            return None
