"""One line in, one `Interpretation` out: parse, resolve against the context, map to OSC.

A line is all or nothing: if any of its `;`-separated commands fails, nothing is sent and the
context is left exactly as it was. `Interpreter.interpret` never raises.

>>> interpreter = Interpreter()
>>> result = interpreter.interpret("add saw bass; cutoff 1.2 khz")
>>> result.ok, [m.to_list() for m in result.messages][-1]
(True, ['/mod/bass/cutoff', 1200.0])
>>> interpreter.interpret("set bass cutof 800").error.hint
'did you mean "cutoff"?'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chronus.lang.context import Context
from chronus.lang.errors import ChronusSyntaxError
from chronus.lang.intents import Intent, Redo, Undo
from chronus.lang.mapper import HISTORY_LIMIT, Mapped, map_intents
from chronus.lang.modules import param_names
from chronus.lang.parser import parse
from chronus.protocol import Message

__all__ = ["Interpretation", "Interpreter"]


@dataclass
class Interpretation:
    """The outcome of one line. On failure `intents`, `messages` and `mapped` are empty."""

    input: str
    ok: bool
    intents: list[Intent] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    error: ChronusSyntaxError | None = None
    mapped: list[Mapped] = field(default_factory=list)
    """Each intent with its own messages and, for a wait, the time it spans."""

    @property
    def notes(self) -> list[str]:
        """What the musician should be told (what a change, a transposition or an undo did)."""
        return [m.note for m in self.mapped if m.note]

    def to_json_dict(self) -> dict[str, Any]:
        """`{"input", "ok", "intents", "osc": [[address, arg, ...]], "error"}` for `--json`,
        plus `"notes"` when there is something to tell."""
        out = {
            "input": self.input,
            "ok": self.ok,
            "intents": [intent.to_dict() for intent in self.intents],
            "osc": [message.to_list() for message in self.messages],
            "error": None if self.error is None else self.error.to_dict(),
        }
        if self.notes:
            out["notes"] = self.notes
        return out


class Interpreter:
    """Turns lines into OSC against a `Context` that only successful lines update."""

    def __init__(self, context: Context | None = None) -> None:
        self.context = context if context is not None else Context()

    def interpret(self, line: str) -> Interpretation:
        """Parse, resolve and map one line; errors go into the result, never raised."""
        if not line.strip() or line.lstrip().startswith("#"):
            return Interpretation(line, True)
        try:
            intents = parse(line, self._known_names())
            scratch = self.context.copy()
            before = scratch.state()
            mapped = map_intents(intents, scratch)
            if not any(isinstance(i, Undo | Redo) for i in intents) and scratch.state() != before:
                # A line that changed the patch can be undone; it forgets what was undone.
                scratch.history = [*scratch.history, before][-HISTORY_LIMIT:]
                scratch.future = []
        except ChronusSyntaxError as exc:
            return Interpretation(line, False, error=exc.with_line(line))
        except Exception as exc:
            error = ChronusSyntaxError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="this is a bug in chronus; please report the line",
                line=line,
            )
            return Interpretation(line, False, error=error)
        self.context.assign(scratch)
        messages = [message for m in mapped for message in m.messages]
        return Interpretation(line, True, intents, messages, None, mapped)

    def _known_names(self) -> frozenset[str]:
        """Module ids and their parameter names: words an error must not call misspelt."""
        names = set(self.context.modules)
        for kind in set(self.context.modules.values()):
            names.update(param_names(kind))
        return frozenset(names)
