"""Text → intents: the grammar, loaded once, and a stateless transformer.

The grammar lives in `grammar/chronus.lark` (shipped in the wheel as `chronus/grammar/`).
It is parsed with LALR(1) and the transformer runs inline, so no parse tree is built.
Every failure comes out as a `ChronusSyntaxError` with a column, what would have fitted there
and a hint: a "did you mean" for a near-miss keyword, or the label of the bad example in
`grammar/chronus_errors.toml` that fails in the same parser state.

>>> parse("set bass cutoff to 1.2 khz")
[SetParam(module='bass', param='cutoff', value=1.2, unit='khz')]
>>> parse("play eb2 on bass for 2 beats")[0].note
39.0
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

import chronus
from chronus.lang.errors import BadValueError, ChronusSyntaxError, did_you_mean
from chronus.lang.intents import (
    TIME_UNITS,
    AddModule,
    Duration,
    Intent,
    Panic,
    PlayNote,
    RawOsc,
    SetParam,
    SetTempo,
    ShellCommand,
    Stop,
    Wait,
)

__all__ = [
    "COMMAND_KEYWORDS",
    "GRAMMAR_FILE",
    "UNIT_WORDS",
    "grammar_dir",
    "keywords",
    "load_parser",
    "note_to_midi",
    "parse",
]

GRAMMAR_FILE = "chronus.lark"
ERRORS_FILE = "chronus_errors.toml"

COMMAND_KEYWORDS: tuple[str, ...] = (
    "add", "create", "exit", "health", "help", "panic", "play", "quit", "set", "show",
    "status", "stop", "tempo", "wait",
)  # fmt: skip
"""Words that can open a command; the candidates for "did you mean" on a first word."""

UNIT_WORDS: dict[str, str] = {
    "hz": "hz", "khz": "khz",
    "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "db": "db", "%": "%",
    "beat": "beats", "beats": "beats", "bar": "bars", "bars": "bars",
    "step": "steps", "steps": "steps", "16th": "steps", "16ths": "steps",
}  # fmt: skip
"""Every unit spelling the grammar accepts → its canonical name."""

_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_NOTE_RE = re.compile(r"([a-g])(#|b|s)?(-?[0-9]{1,2})", re.IGNORECASE)
_INT_RE = re.compile(r"[+-]?[0-9]{1,18}")

# Terminal names → how an error message names them.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "NOTE": "a note (c4, eb2, f#3)",
    "MIDDLE_C": '"middle c"',
    "UNIT": "a unit (hz, khz, ms, s, db, %, beats, bars, steps)",
    "OSC_ADDRESS": "an OSC address (/…)",
    "OSC_WORD": "a word",
    "ESCAPED_STRING": 'a "quoted string"',
    "$END": "end of line",
    "_SEMI": '";"',
}


def grammar_dir() -> Path:
    """Where the .lark files are: inside the installed package, else the repo's `grammar/`."""
    package = Path(chronus.__file__).resolve().parent
    shipped = package / "grammar"
    if (shipped / GRAMMAR_FILE).is_file():
        return shipped
    return package.parent / "grammar"


@dataclass(frozen=True, slots=True)
class _Value:
    number: float
    unit: str | None
    column: int
    unit_column: int


@dataclass(frozen=True, slots=True)
class _Timed:
    duration: Duration
    column: int


@dataclass(frozen=True, slots=True)
class _Note:
    midi: float
    column: int


def note_to_midi(text: str) -> int:
    """MIDI number of a note name, c4 = 60 (`eb2` → 39, `f#3` → 54); may fall outside 0–127.

    >>> note_to_midi("C#4"), note_to_midi("bb1"), note_to_midi("c-1")
    (61, 34, 0)
    """
    match = _NOTE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a note: {text!r}")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "s": 1, "b": -1}.get((accidental or "").lower(), 0)
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter.lower()] + shift


def _number(token: Token) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise BadValueError(f"{token} is too large a number", column=_col(token))
    return value


def _col(token: Token) -> int:
    return token.column if isinstance(token.column, int) else 1


def _name(token: Token) -> str:
    return str(token).lower()


class _Builder(Transformer[Token, Any]):
    """Parse tree → intents. Stateless: resolving the focus or "it" is the context's job."""

    def start(self, items: list[Intent | None]) -> list[Intent]:
        return [item for item in items if item is not None]

    def set_tempo(self, items: list[Token]) -> SetTempo:
        (bpm,) = items
        return SetTempo(_number(bpm), at=(("bpm", _col(bpm)),))

    def add_module(self, items: list[Token]) -> AddModule:
        kind = items[0]
        name = items[1] if len(items) > 1 else None
        at = [("type", _col(kind))]
        if name is not None:
            at.append(("name", _col(name)))
        return AddModule(_name(kind), None if name is None else _name(name), at=tuple(at))

    def value(self, items: list[Token]) -> _Value:
        number = items[0]
        unit = items[1] if len(items) > 1 else None
        return _Value(
            _number(number),
            None if unit is None else UNIT_WORDS[unit.lower()],
            _col(number),
            _col(unit) if unit is not None else _col(number),
        )

    def set_module_param(self, items: list[Any]) -> SetParam:
        module, param, value = items
        return self._set_param(module, param, value)

    def set_focus_param(self, items: list[Any]) -> SetParam:
        param, value = items
        return self._set_param(None, param, value)

    @staticmethod
    def _set_param(module: Token | None, param: Token, value: _Value) -> SetParam:
        at = [("param", _col(param)), ("value", value.column), ("unit", value.unit_column)]
        if module is not None:
            at.append(("module", _col(module)))
        return SetParam(
            None if module is None else _name(module),
            _name(param),
            value.number,
            value.unit,
            at=tuple(at),
        )

    def note(self, items: list[Token]) -> _Note:
        (token,) = items
        if token.type == "MIDDLE_C":
            return _Note(60.0, _col(token))
        midi = note_to_midi(token)
        if not 0 <= midi <= 127:
            raise BadValueError(
                f'note "{token}" is outside MIDI (c-1 to g9)',
                column=_col(token),
                hint="c4 is middle C (MIDI 60); octaves run from -1 to 9",
            )
        return _Note(float(midi), _col(token))

    def duration(self, items: list[Token]) -> _Timed:
        amount, unit = items
        return _Timed(Duration(*self._time(amount, unit, "a duration")), _col(amount))

    @staticmethod
    def _time(amount: Token, unit: Token, what: str) -> tuple[float, str]:
        canonical = UNIT_WORDS[unit.lower()]
        if canonical not in TIME_UNITS:
            raise BadValueError(
                f'{what} is a time, not "{unit}"',
                column=_col(unit),
                expected=list(TIME_UNITS),
                hint=f"e.g. {amount} ms, {amount} s, {amount} beats",
            )
        value = _number(amount)
        if value < 0:
            raise BadValueError(f"{what} cannot be negative", column=_col(amount))
        return value, canonical

    def play_note(self, items: list[Any]) -> PlayNote:
        note: _Note = items[0]
        module = next((i for i in items[1:] if isinstance(i, Token)), None)
        duration = next((i for i in items[1:] if isinstance(i, _Timed)), None)
        return self._play(module, note, duration)

    def play_module(self, items: list[Any]) -> PlayNote:
        module: Token = items[0]
        duration = items[1] if len(items) > 1 else None
        return self._play(module, _Note(60.0, _col(module)), duration)

    def module_plays(self, items: list[Any]) -> PlayNote:
        module, note = items[0], items[1]
        duration = items[2] if len(items) > 2 else None
        return self._play(module, note, duration)

    @staticmethod
    def _play(module: Token | None, note: _Note, duration: _Timed | None) -> PlayNote:
        at = [("note", note.column)]
        if module is not None:
            at.append(("module", _col(module)))
        if duration is not None:
            at.append(("duration", duration.column))
        return PlayNote(
            None if module is None else _name(module),
            note.midi,
            duration=None if duration is None else duration.duration,
            at=tuple(at),
        )

    def stop(self, items: list[Any]) -> Stop:
        return Stop()

    def panic(self, items: list[Any]) -> Panic:
        return Panic()

    def wait(self, items: list[Token]) -> Wait:
        amount, unit = items
        value, canonical = self._time(amount, unit, "a wait")
        return Wait(value, canonical, at=(("amount", _col(amount)), ("unit", _col(unit))))

    def raw_osc(self, items: list[Token]) -> RawOsc:
        address, *args = items
        values: list[float | int | str] = []
        for arg in args:
            if arg.type == "NUMBER":
                values.append(int(arg) if _INT_RE.fullmatch(arg) else _number(arg))
            elif arg.type == "ESCAPED_STRING":
                values.append(_unquote(arg))
            else:
                values.append(str(arg))
        return RawOsc(str(address), tuple(values), at=(("address", _col(address)),))

    def help(self, items: list[Token]) -> ShellCommand:
        topic = _name(items[1]) if len(items) > 1 else None
        return ShellCommand("help", topic, at=(("name", _col(items[0])),))

    def health(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("health", at=(("name", _col(items[0])),))

    def status(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("status", at=(("name", _col(items[0])),))

    def quit(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("quit", at=(("name", _col(items[0])),))

    def show(self, items: list[Token]) -> ShellCommand:
        what = _name(items[1]) if len(items) > 1 else "patch"
        return ShellCommand("show", what, at=(("name", _col(items[0])),))


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@cache
def load_parser() -> Lark:
    """The LALR parser with the transformer inlined; built once per process."""
    text = (grammar_dir() / GRAMMAR_FILE).read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        lexer="contextual",
        transformer=_Builder(),
        maybe_placeholders=True,
    )


@cache
def keywords() -> frozenset[str]:
    """Every keyword of the grammar (lower case): reserved, never a module name."""
    words = set()
    for terminal in load_parser().terminals:
        value = terminal.pattern.value
        if terminal.pattern.type == "str" and value.isalpha():
            words.add(value.lower())
    return frozenset(words)


def parse(text: str, names: Collection[str] = ()) -> list[Intent]:
    """The intents of one line (commands split by ";"); `ChronusSyntaxError` if it is wrong.

    `names` are words the caller knows to be right (module ids, parameter names): a failing
    command that starts with one of them is not blamed on a misspelt keyword.
    Nothing but `ChronusSyntaxError` escapes: lark's exceptions are translated.
    """
    try:
        # The transformer is inlined, so parse() returns its result, not a Tree.
        result = cast(list[Intent], load_parser().parse(text))
    except ChronusSyntaxError as exc:
        raise exc.with_line(text) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, ChronusSyntaxError):
            raise exc.orig_exc.with_line(text) from None
        raise _internal(exc.orig_exc, text) from exc
    except UnexpectedInput as exc:
        raise _from_lark(exc, text, names) from None
    except Exception as exc:
        # A bug, but the contract holds: callers only ever catch ChronusSyntaxError.
        raise _internal(exc, text) from exc
    return result


def _internal(exc: BaseException, text: str) -> ChronusSyntaxError:
    return ChronusSyntaxError(
        f"internal error: {type(exc).__name__}: {exc}",
        hint="this is a bug in chronus; please report the line",
        line=text,
    )


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    try:
        pattern = load_parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    if pattern.type == "str":
        return f'"{pattern.value}"'
    return terminal.lower().lstrip("_")


def _expected_words(terminals: set[str]) -> list[str]:
    if "_SEMI" in terminals:
        # The lexer's "allowed" set never names the end of input, though it fits wherever ";" does.
        terminals = terminals | {"$END"}
    described = {_describe(t) for t in terminals if t not in ("FILLER", "WS", "COMMENT")}
    # Keywords first (alphabetical), then the classes of words.
    return sorted(described, key=lambda word: (not word.startswith('"'), word))


def _keyword_candidates(terminals: set[str]) -> list[str]:
    words: list[str] = []
    for terminal in terminals:
        if terminal == "UNIT":
            words.extend(UNIT_WORDS)
            continue
        try:
            pattern = load_parser().get_terminal(terminal).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isalpha():
            words.append(pattern.value)
    return words


def _from_lark(exc: UnexpectedInput, text: str, names: Collection[str]) -> ChronusSyntaxError:
    terminals: set[str]
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        terminals = set(exc.expected)
        if token.type == "$END":
            # lark gives $END the position of the last real token: point just past it, not
            # past a trailing comment.
            end = token.end_column
            column = end if isinstance(end, int) else len(text.rstrip()) + 1
            message = "this command is not finished"
            word = ""
        else:
            column = _col(token)
            word = str(token)
            kind = "number" if token.type == "NUMBER" else "word"
            message = f'unexpected {kind} "{word}"' if word != ";" else 'unexpected ";"'
    elif isinstance(exc, UnexpectedCharacters):
        terminals = set(exc.allowed or ())
        column = exc.column if isinstance(exc.column, int) else 1
        pos = exc.pos_in_stream
        char = text[pos] if pos is not None and 0 <= pos < len(text) else "?"
        message = f"unexpected character {char!r}"
        word = ""
    else:
        terminals = set(getattr(exc, "expected", ()) or ())
        column = len(text) + 1
        message = "this command is not finished"
        word = ""
    misspelt = _misspelt_command(text, column, names)
    if misspelt is not None:
        # The grammar notices late (`plya c3 on bass` fails at "on"), but the mistake is
        # the first word: point there.
        first, first_column, hint = misspelt
        expected = [*sorted(f'"{word}"' for word in COMMAND_KEYWORDS), "a module name"]
        return ChronusSyntaxError(f'unknown command "{first}"', first_column, expected, hint, text)
    hint = ""
    if word and word[0].isalpha():
        hint = did_you_mean(word, _keyword_candidates(terminals))
    if not hint:
        hint = _example_hint(exc)
    return ChronusSyntaxError(message, column, _expected_words(terminals), hint, text)


_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILLERS = frozenset({"a", "an", "the", "please", "now"})


def _misspelt_command(
    text: str, column: int, names: Collection[str]
) -> tuple[str, int, str] | None:
    """(word, column, hint) if the failing command opens with a near-miss of a command word."""
    start = text.rfind(";", 0, max(0, column - 1)) + 1
    for match in _WORD_RE.finditer(text, start, max(start, column - 1)):
        word = match.group().lower()
        if word in _FILLERS:
            continue
        if word in keywords() or word in names:
            return None
        hint = did_you_mean(word, COMMAND_KEYWORDS)
        return (match.group(), match.start() + 1, hint) if hint else None
    return None


def _state_key(exc: UnexpectedInput) -> tuple[int, object] | None:
    state = exc.state
    if state is None:
        return None
    stack = getattr(state, "state_stack", None)
    position = getattr(state, "position", state)
    return (len(stack) if stack is not None else 0, position)


@cache
def _examples() -> dict[tuple[object, ...], str]:
    """(parser state, token type) → label, from the labelled bad examples; built on first use."""
    path = grammar_dir() / ERRORS_FILE
    table: dict[tuple[object, ...], str] = {}
    if not path.is_file():
        return table
    for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("hint", []):
        label = str(entry["label"])
        for example in entry["examples"]:
            key = _example_key(str(example))
            if key is not None:
                table.setdefault(key, label)
                table.setdefault(key[:1], label)
    return table


def _example_key(example: str) -> tuple[object, ...] | None:
    try:
        load_parser().parse(example)
    except UnexpectedInput as exc:
        state = _state_key(exc)
        token = exc.token.type if isinstance(exc, UnexpectedToken) else "<char>"
        return None if state is None else (state, token)
    except (ChronusSyntaxError, VisitError):
        return None
    return None


def _example_hint(exc: UnexpectedInput) -> str:
    state = _state_key(exc)
    if state is None:
        return ""
    token = exc.token.type if isinstance(exc, UnexpectedToken) else "<char>"
    table = _examples()
    return table.get((state, token)) or table.get((state,), "")


def example_label(text: str) -> str:
    """The hint the example table gives for a bad line ("" if none, or if the line parses)."""
    try:
        load_parser().parse(text)
    except UnexpectedInput as exc:
        return _example_hint(exc)
    except (ChronusSyntaxError, VisitError):
        return ""
    return ""
