"""Errors of the language pipeline, with enough detail to point at the mistake.

Every failure between the text a musician typed and the OSC it becomes is a
`ChronusSyntaxError` (or a subclass): the grammar's complaints, unknown modules or parameters,
a value in the wrong unit, a command with nothing in focus.

>>> err = ChronusSyntaxError('unknown parameter "cutof"', column=10, hint='did you mean "cutoff"?')
>>> print(err.with_line("set bass cutof 800").render())
set bass cutof 800
         ^
unknown parameter "cutof"
hint: did you mean "cutoff"?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "BadValueError",
    "ChronusSyntaxError",
    "NoFocusError",
    "UnknownModuleError",
    "UnknownParamError",
    "did_you_mean",
]


class ChronusSyntaxError(ValueError):
    """A line that cannot become OSC: what is wrong, where (1-based column) and what would fit."""

    def __init__(
        self,
        message: str,
        column: int = 1,
        expected: Iterable[str] = (),
        hint: str = "",
        line: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.column = max(1, column)
        self.expected = list(expected)
        self.hint = hint
        self.line = line

    def __str__(self) -> str:
        return self.message

    def with_line(self, line: str) -> ChronusSyntaxError:
        """Attach the source line (the mapper does not know it) and return self."""
        self.line = line
        return self

    def render(self) -> str:
        """The line, a caret under the column, the message, what was expected and the hint."""
        out: list[str] = []
        if self.line:
            shown = self.line.expandtabs(1)
            out.append(shown)
            out.append(" " * (min(self.column, len(shown) + 1) - 1) + "^")
        out.append(self.message)
        if self.expected:
            out.append("expected: " + ", ".join(self.expected))
        if self.hint:
            out.append("hint: " + self.hint)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by `Interpretation.to_json_dict()`."""
        return {
            "message": self.message,
            "column": self.column,
            "expected": list(self.expected),
            "hint": self.hint,
        }


class UnknownModuleError(ChronusSyntaxError):
    """A module id that is not in the patch."""


class UnknownParamError(ChronusSyntaxError):
    """A parameter the module's type does not have."""


class NoFocusError(ChronusSyntaxError):
    """A command that needs a module when no module has been named or created yet."""


class BadValueError(ChronusSyntaxError):
    """A value out of range, in the wrong unit, or a note outside MIDI."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`did you mean "x"?` for the closest candidate, or "" when none is close."""
    matches = difflib.get_close_matches(word.lower(), sorted(set(candidates)), n=1, cutoff=0.6)
    return f'did you mean "{matches[0]}"?' if matches else ""
