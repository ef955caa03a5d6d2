"""One line in, one `Interpretation` out: parse, resolve against the context, map to OSC.

A line is all or nothing: if any of its `;`-separated commands fails, nothing is sent and the
context is left exactly as it was. `Interpreter.interpret` never raises. A line that fails is
handed to the frame reader (`chronus.lang.frames`): if it reads the line one way only, that
command runs and the result says how the line was read; else the error offers what would work.

>>> interpreter = Interpreter()
>>> result = interpreter.interpret("add saw bass; cutoff 1.2 khz")
>>> result.ok, [m.to_list() for m in result.messages][-1]
(True, ['/mod/bass/cutoff', 1200.0])
>>> interpreter.interpret("set bass cutof 800").error.hint
'did you mean: set bass cutoff to 800?'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chronus.lang.context import Context
from chronus.lang.errors import BadValueError, ChronusSyntaxError, NoFocusError, UnknownModuleError
from chronus.lang.intents import Intent, Redo, Undo
from chronus.lang.mapper import HISTORY_LIMIT, TRACK_SETTINGS, Mapped, map_intents
from chronus.lang.modules import is_modulator, module_types, param_names
from chronus.lang.parser import keywords, parse
from chronus.lang.resolve import MAX_OFFERED, absent_hint, focus_hint
from chronus.lang.sounds import find_sound, made_by, played_as
from chronus.protocol import Message

if TYPE_CHECKING:
    from chronus.lang.frames import Reading

__all__ = ["Interpretation", "Interpreter"]

_PIECES = re.compile(r"\s*;\s*|\s+(?:then|and)\s+", re.IGNORECASE)
"""Where a line splits into commands, for reading its pieces one by one."""
_MAX_PIECES = 8
_MAX_FOCUS_TRIALS = 8
"""Modules tried in focus for a line that needs one (an error path: kept short)."""

_PLUGIN_LINE = re.compile(r"\s*(?:load\s+module|unload|reload|watch|unwatch)\b", re.IGNORECASE)
"""A line about plugins: files and names the frame reader cannot know; the grammar's own
error is the precise one."""

_NOTE = re.compile(r"[a-g](?:#|b)?(?:-?[0-9]{1,2})?")
"""A note or a pitch: a word the grammar knows though the frame reader does not."""


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
    read_as: str = ""
    """The command the frame reader read the line as ("" when the grammar took it)."""

    @property
    def notes(self) -> list[str]:
        """What the musician should be told (how the line was read, what a change, a
        transposition or an undo did)."""
        heard = [f"read as: {self.read_as}"] if self.read_as else []
        return heard + [m.note for m in self.mapped if m.note]

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
        names = self._known_names()
        result, scratch = self._interpret(line, names)
        if result.error is None:
            if scratch is not None:
                self.context.assign(scratch)
            return result
        if _PLUGIN_LINE.match(line):
            return result
        # `808 x . . .`, `make the 303 darker`: a named sound is the module it made, read so
        # before the frame reader, which does not know such words and would guess.
        named = _by_sound_names(line, self.context) or _by_singular(line, result, self.context)
        if named is not None:
            again, scratch = self._interpret(named, names)
            again.input, again.read_as = line, named
            if again.ok:
                if scratch is not None:
                    self.context.assign(scratch)
                return again
            if isinstance(result.error, UnknownModuleError) and again.error is not None:
                result = again  # its error says what is wrong with the module meant
        said = named or line  # `turn the bass down`: the frame reader knows tb303, not bass
        tried: dict[str, tuple[Interpretation, Context | None]] = {}

        def works(command: str) -> bool:
            tried[command] = self._interpret(command, names)
            return tried[command][0].ok

        from chronus.lang.frames import read_frame  # only for a line the grammar refused

        try:
            reading = read_frame(said, self.context, works)
        except Exception:  # a bug in the reader must not hide the grammar's own answer
            return result
        if reading.command is not None:
            again, scratch = tried.get(reading.command) or self._interpret(reading.command, names)
            if again.ok:
                if scratch is not None:
                    self.context.assign(scratch)  # the very reading that was tried
                again.input, again.read_as = line, reading.command
                return again
        pieces = self._read_in_pieces(line)
        if pieces is not None:
            return pieces
        error = result.error
        assert error is not None  # only a refused line comes this far
        result.error = _advise(error, reading)
        if isinstance(result.error, NoFocusError) and not reading.suggestions:
            result.error.hint = focus_hint(self.context, self._focus_fits(line, names), line)
        return result

    def _focus_fits(self, line: str, names: frozenset[str]) -> list[str]:
        """The modules of the patch the line works on once in focus (a few tried)."""
        fits: list[str] = []
        for module_id, kind in list(self.context.modules.items())[:_MAX_FOCUS_TRIALS]:
            if is_modulator(kind):
                continue
            trial = Interpreter(self.context.copy())
            trial.context.focus = module_id
            if trial._interpret(line, names)[0].ok:
                fits.append(module_id)
            if len(fits) == MAX_OFFERED:
                break
        return fits

    def _read_in_pieces(self, line: str) -> Interpretation | None:
        """`add some hats and turn them up`: each command of the line on its own (the grammar's
        or the frame reader's), all or nothing, undone as one line. None unless every piece
        works and one of them needed the frame reader."""
        pieces = [piece for piece in _PIECES.split(line) if piece.strip()]
        if not 2 <= len(pieces) <= _MAX_PIECES:
            return None
        trial = Interpreter(self.context.copy())
        results = []
        for piece in pieces:
            result = trial.interpret(piece)
            if not result.ok or any(isinstance(i, Undo | Redo) for i in result.intents):
                return None
            results.append(result)
        if not any(result.read_as for result in results):
            return None  # the grammar takes every piece alone, not the line: leave it so
        before = self.context.state()
        trial.context.history = list(self.context.history)
        trial.context.future = list(self.context.future)
        if trial.context.state() != before:
            trial.context.history = [*self.context.history, before][-HISTORY_LIMIT:]
            trial.context.future = []
        self.context.assign(trial.context)
        return Interpretation(
            line,
            True,
            [intent for result in results for intent in result.intents],
            [message for result in results for message in result.messages],
            None,
            [mapped for result in results for mapped in result.mapped],
            "; ".join(result.read_as or result.input.strip() for result in results),
        )

    def _interpret(self, line: str, names: frozenset[str]) -> tuple[Interpretation, Context | None]:
        """The line mapped on a copy of the context, and that copy (None if nothing to keep).
        `names` are the words of the patch an error must not call misspelt."""
        if not line.strip() or line.lstrip().startswith("#"):
            return Interpretation(line, True), None
        try:
            intents = parse(line, names)
            scratch = self.context.copy()
            before = scratch.state()
            mapped = map_intents(intents, scratch)
            if not any(isinstance(i, Undo | Redo) for i in intents) and scratch.state() != before:
                # A line that changed the patch can be undone; it forgets what was undone.
                scratch.history = [*scratch.history, before][-HISTORY_LIMIT:]
                scratch.future = []
        except ChronusSyntaxError as exc:
            return Interpretation(line, False, error=exc.with_line(line)), None
        except Exception as exc:
            error = ChronusSyntaxError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="this is a bug in chronus; please report the line",
                line=line,
            )
            return Interpretation(line, False, error=error), None
        messages = [message for m in mapped for message in m.messages]
        return Interpretation(line, True, intents, messages, None, mapped), scratch

    def _known_names(self) -> frozenset[str]:
        """Module ids and their parameter names: words an error must not call misspelt."""
        names = set(self.context.modules)
        for kind in set(self.context.modules.values()):
            names.update(param_names(kind))
        return frozenset(names)


_WORD = re.compile(r"[A-Za-z0-9_]+")


def _by_sound_names(line: str, context: Context) -> str | None:
    """The line with each named sound (`808`, `the 303`, `wobble bass`) replaced by the one
    module `add <sound>` made of it (`tr808 x . . .`), and each sound's role (`bass`) by the
    one sound made with it (`give me a 303`, then `bass: c2 c2 eb2 g2`); None if it names
    none such."""
    words = list(_WORD.finditer(line))
    parts: list[str] = []
    done = 0
    index = 0
    while index < len(words):
        said = tuple(match.group().lower() for match in words[index : index + 2])
        found = None if said[0] in context.modules else find_sound(said)
        heads = [] if found is None else made_by(found[0], context.modules)
        if found is None and said[0] not in context.modules:
            heads, found = played_as(said[0], context.modules), (said[0], 1)
        if found is None or len(heads) != 1:
            index += 1
            continue
        parts += [line[done : words[index].start()], heads[0]]
        done = words[index + found[1] - 1].end()
        index += found[1]
    return "".join(parts) + line[done:] if parts else None


def _by_singular(line: str, result: Interpretation, context: Context) -> str | None:
    """The line with the module it named in the plural named as it is (`pan the hats left`
    when the module is called hat, `mute the basses`), when that plural is why it failed."""
    if not isinstance(result.error, UnknownModuleError):
        return None
    word = _WORD.match(line, result.error.column - 1)
    if word is None:
        return None
    plural = word.group()
    for singular in (plural.removesuffix("es"), plural.removesuffix("s")):
        if singular != plural and singular in context.modules:
            return line[: word.start()] + singular + line[word.end() :]
    return None


def _settings() -> set[str]:
    """Parameter and track-setting words (`swing`, `cutoff`): known to the language though
    the frame reader may not read them where they stand."""
    words = set(TRACK_SETTINGS)
    for kind in module_types():
        words.update(param_names(kind))
    return words


def _advise(error: ChronusSyntaxError, reading: Reading) -> ChronusSyntaxError:
    """The error with what the frame reader offers: commands that would work (except after a
    bad value, whose own hint is precise), or the words nobody knows — when the grammar had
    no hint, or when several such words show the line is outside the language."""
    if reading.suggestions and not isinstance(error, BadValueError):
        *first, last = reading.suggestions
        offer = f"{', '.join(first)} or {last}" if first else last
        error.hint = f"did you mean: {offer}?"
        return error
    if reading.absent and not isinstance(error, BadValueError):
        kind = reading.absent[0]
        error.hint = absent_hint(kind)
        return error
    unknown = [
        word
        for word in dict.fromkeys(reading.unknown)
        if word not in keywords() and not _NOTE.fullmatch(word) and word not in _settings()
    ]
    if unknown and (not error.hint or len(unknown) > 1):
        words = ", ".join(f'"{word}"' for word in unknown)
        noun = "words" if len(unknown) > 1 else "word"
        error.hint = f"I do not know the {noun} {words}; `help` shows what I know"
    return error
