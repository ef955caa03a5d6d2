"""Text → intents: the grammar, loaded once, with the stateless transformer of `builder`.

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

import hashlib
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Collection, Iterable
from functools import cache
from pathlib import Path
from typing import cast

import lark
from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

import chronus
from chronus.dsp.specs import PROCESSOR_TYPES
from chronus.lang.builder import Builder
from chronus.lang.errors import ChronusSyntaxError, did_you_mean
from chronus.lang.intents import Intent
from chronus.lang.modules import builtin_types, param_names
from chronus.lang.music import UNIT_WORDS, note_to_midi
from chronus.lang.vocabulary import MODULE_WORDS, grammar_terminals, known_words

__all__ = [
    "COMMAND_KEYWORDS",
    "GRAMMAR_FILE",
    "UNIT_WORDS",
    "grammar_dir",
    "keywords",
    "load_parser",
    "note_to_midi",
    "parse",
    "warm_up",
]

GRAMMAR_FILE = "chronus.lark"
ERRORS_FILE = "chronus_errors.toml"

COMMAND_KEYWORDS: tuple[str, ...] = (
    "add", "brighter", "clear", "connect", "create", "darker", "delete", "diff",
    "disconnect", "drop", "exit", "faster", "focus", "health", "help", "key", "kill", "lane",
    "lfo", "load", "louder", "make", "modules", "more", "less", "mute", "panic", "pattern", "play",
    "quieter", "quit", "record", "redo", "reload", "remove", "replay", "run", "save", "send",
    "sessions", "set", "show", "slower", "snapshot", "snapshots", "solo", "speed", "start",
    "status", "stop", "tempo", "transpose", "undo", "unload", "unmute", "unsolo", "unwatch",
    "vibrato", "wait", "watch", "what", "who", "wobble",
)  # fmt: skip
"""Words that can open a command; the candidates for "did you mean" on a first word."""

# Regex terminals that are keywords (lark only folds plain strings into NAME): their words
# are reserved too, and offered by "did you mean".
_WORD_TERMINALS = (
    "BIT", "MUCH", "COMPARATIVE", "AMOUNT", "DIRECTION", "INTERVAL", "TRIPLET", "_SEP",
    "MIX_WORD", "_ROUTE", "_TEMPO", "_THROUGH",
)  # fmt: skip

# Terminal names → how an error message names them.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "SHORT_NAME": "a name",
    "PAIR_NAME": "a name",
    "NUMBER": "a number",
    "NOTE": "a note (c4, eb2, f#3)",
    "MIDDLE_C": '"middle c"',
    "UNIT": "a unit (hz, khz, ms, s, db, %, beats, bars, steps)",
    "OSC_ADDRESS": "an OSC address (/…)",
    "OSC_WORD": "a word",
    "ESCAPED_STRING": 'a "quoted string"',
    "$END": "end of line",
    "_SEP": '";", "then" or "and"',
    "PATTERN": "a pattern (x . x ., c2 eb2 g2)",
    "PITCH": "a note name (c, eb, f#)",
    "QUALITY": "a chord quality (major, minor, 7…)",
    "DIVISION": "a note value (16th, 8th, 1/4)",
    "FRACTION": "a note value (1/8)",
    "LANE": "lane values (400 800 . 1600)",
    "PATH": "a file name",
    "MODULE_FILE": "a module file (./fold.py) or a plugin's name",
    "COMPARATIVE": "darker, brighter, louder, quieter, wetter, drier, faster, slower",
    "AMOUNT": "more, less, longer, shorter",
    "DIRECTION": "up or down",
    "INTERVAL": "octave or semitones",
    "QUIT_HOW": "--stop or --leave",
    "RHYTHM": "a rhythm (four on the floor, backbeat, off-beats)",
    "_LINK": '"then", "through" or ","',
}


def grammar_dir() -> Path:
    """Where the .lark files are: inside the installed package, else the repo's `grammar/`."""
    package = Path(chronus.__file__).resolve().parent
    shipped = package / "grammar"
    if (shipped / GRAMMAR_FILE).is_file():
        return shipped
    return package.parent / "grammar"


TABLES_DIR = "tables"
"""Under `grammar_dir()`: parser tables built for the shipped grammar, so that even the first
start of a fresh install loads tables instead of building them."""


def grammar_text() -> str:
    """The grammar as lark reads it: the module types and the word tables of
    `chronus.lang.vocabulary` filled into its `@NAME@` slots."""
    text = (grammar_dir() / GRAMMAR_FILE).read_text(encoding="utf-8")
    # Words for effects and filters continue a chain after "then" like their types do,
    # unless they are also parameter names (`then room 0.8` sets a parameter).
    params = {name for kind in builtin_types() for name in param_names(kind)}
    synonyms = (w for w, kind in MODULE_WORDS.items()
                if w.isalpha() and kind in PROCESSOR_TYPES and w not in params)  # fmt: skip
    words = [*builtin_types(), *synonyms]
    types = "|".join(sorted(words, key=lambda w: (-len(w), w)))
    text = text.replace("@TYPES@", types)
    for slot, regex in grammar_terminals().items():
        text = text.replace(f"@{slot}@", regex)
    return text


def tables_name(text: str) -> str:
    """The file name of the built tables of a grammar text under this lark and Python."""
    version = f"{lark.__version__}\0{sys.version_info[0]}.{sys.version_info[1]}"
    digest = hashlib.sha256(f"{version}\0{text}".encode()).hexdigest()[:16]
    return f"grammar-{digest}.lark-tables"


def _build(text: str) -> Lark:
    return Lark(text, parser="lalr", lexer="contextual", transformer=Builder(),
                maybe_placeholders=True)  # fmt: skip


@cache
def load_parser() -> Lark:
    """The LALR parser with the transformer inlined; built once per process.

    Building the tables takes ~120 ms, loading them ~10 ms: they are loaded from the user's
    cache folder, else from the ones shipped in `grammar/tables`, else built and cached.
    """
    text = grammar_text()
    name = tables_name(text)
    cached = _cache_folder()
    for path in ([cached / name] if cached else []) + [grammar_dir() / TABLES_DIR / name]:
        try:
            with path.open("rb") as tables:
                # Lark.load takes no transformer; _load is what lark's own cache calls.
                return Lark.__new__(Lark)._load(tables, transformer=Builder())
        except FileNotFoundError:
            continue
        except Exception:  # a damaged or foreign file: build the tables instead
            continue
    parser = _build(text)
    if cached is not None:
        _save(parser, cached / name)
    return parser


def _cache_folder() -> Path | None:
    """The user's cache folder for chronus, if it can be written."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "chronus"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _save(parser: Lark, target: Path) -> None:
    """Write the tables beside `target`, then rename: a reader never sees half a file."""
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temp:
            parser.save(temp)
        os.replace(temp.name, target)
    except OSError:
        pass


def write_shipped_tables() -> Path:
    """Build the tables of the current grammar into `grammar/tables` (after a grammar change).

    Removes the tables of older grammars and records the versions they are for. Run
    `python -c "from chronus.lang.parser import write_shipped_tables as w; print(w())"`.
    """
    text = grammar_text()
    folder = grammar_dir() / TABLES_DIR
    folder.mkdir(exist_ok=True)
    for old in folder.glob("grammar-*"):
        old.unlink()
    target = folder / tables_name(text)
    _save(_build(text), target)
    versions = f"lark {lark.__version__}, python {sys.version_info[0]}.{sys.version_info[1]}\n"
    (folder / "VERSIONS").write_text(versions, encoding="utf-8")
    return target


@cache
def keywords() -> frozenset[str]:
    """Every keyword of the grammar (lower case): reserved, never a module name."""
    words = set()
    for terminal in load_parser().terminals:
        value = terminal.pattern.value
        if terminal.pattern.type == "str" and value.isalpha():
            words.add(value.lower())
        elif terminal.name in _WORD_TERMINALS:
            found = _regex_words(value)
            if terminal.name == "INTERVAL":
                # "tone" is a kick's parameter and a fine module name: the lexer only
                # reads it as an interval after "up" or "down".
                params = {name for kind in builtin_types() for name in param_names(kind)}
                found = [word for word in found if word not in params]
            words.update(found)
    return frozenset(words)


def _regex_words(pattern: str) -> list[str]:
    """The words of a keyword regex such as `(?:up|down)(?![A-Za-z0-9_])`: up, down."""
    body = pattern.split("(?!")[0].split("(?=")[0]
    body = re.sub(r"\\[a-z]|\[[^\]]*\]|\(\?:|[()?*+]", " ", body)
    return [w.lower() for w in re.split(r"[|\s;]+", body) if w.isalpha() and len(w) > 1]


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


def _col(token: Token) -> int:
    return token.column if isinstance(token.column, int) else 1


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
    if "_SEP" in terminals:
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
        elif terminal in _WORD_TERMINALS and terminal != "_SEP":
            words.extend(_regex_words(pattern.value))
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
_SEP_RE = re.compile(r";|\b(?:then|and)\b", re.IGNORECASE)
_FILLERS = frozenset({
    "a", "an", "the", "please", "now", "just", "could", "would", "you", "let", "lets", "some",
})  # fmt: skip


def _misspelt_command(
    text: str, column: int, names: Collection[str]
) -> tuple[str, int, str] | None:
    """(word, column, hint) if the failing command opens with a near-miss of a command word."""
    starts = [m.end() for m in _SEP_RE.finditer(text, 0, max(0, column - 1))]
    start = starts[-1] if starts else 0
    for match in _WORD_RE.finditer(text, start, max(start, column - 1)):
        word = match.group().lower()
        if word in _FILLERS:
            continue
        if word in keywords() or word in names or word in known_words():
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


def warm_up(lines: Iterable[str] = ()) -> None:
    """Build now what the parser otherwise builds on first use, so that no line typed later
    pays for it: the table of bad examples behind the hints (built by the first error that
    needs one: ~75 ms on a quiet machine, 1.8 s seen in a shell on a loaded one) and, by
    parsing the examples and `lines`, the lexer's scanner of each parser state they reach (a
    regular expression compiled on its first visit). Lines that fail are fine."""
    _examples()
    parser = load_parser()
    for line in lines:
        try:
            parser.parse(line)
        except (UnexpectedInput, ChronusSyntaxError, VisitError):
            pass


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
