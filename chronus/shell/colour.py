"""Colour as typed: the prompt's line coloured by what the grammar reads in it.

Verbs (the word that opens a command) are bold, other keywords plain; modules of the patch,
their parameters, numbers with their units, notes and patterns, files and raw OSC each have
a style class; what stops fitting the grammar is marked as an error, unless it is the word
still being typed. The classes map to ANSI colour names, which every terminal theme shows
in its own palette, so the line reads on dark and light backgrounds alike.

>>> from chronus.lang.context import Context
>>> lexer = CommandLexer(lambda: Context(modules={"bass": "saw"}))
>>> [style for style, text in lexer.fragments("set bass cutoff 800 hz") if text.strip()]
['class:verb', 'class:module', 'class:param', 'class:number', 'class:unit']
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Token
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from chronus.lang.context import Context
from chronus.lang.modules import param_names
from chronus.shell.scanning import scan

__all__ = ["STYLE", "CommandLexer", "token_style"]

STYLE = Style.from_dict(
    {
        "verb": "bold",
        "keyword": "",
        "module": "ansigreen bold",
        "name": "ansigreen",
        "param": "ansicyan",
        "number": "ansimagenta",
        "unit": "ansimagenta",
        "pattern": "ansiblue bold",
        "path": "underline",
        "osc": "ansicyan",
        "separator": "bold",
        "comment": "ansibrightblack italic",
        "error": "ansired underline",
    }
)
"""The prompt's colours: ANSI names only (no white, black or yellow, which vanish on one
background or the other), bold and underline for what must stand out without colour."""

_STYLES = {
    "NUMBER": "number", "UNIT": "unit", "PATTERN": "pattern", "NOTE": "pattern",
    "PITCH": "pattern", "MIDDLE_C": "pattern", "RHYTHM": "pattern", "LANE": "pattern",
    "QUALITY": "pattern", "DIVISION": "pattern", "FRACTION": "pattern", "TRIPLET": "pattern",
    "PATH": "path", "MODULE_FILE": "path", "ESCAPED_STRING": "path", "OSC_ADDRESS": "osc",
    "OSC_WORD": "osc", "_SEP": "separator", "_COLON": "separator", "_LINK": "separator",
    "TYPE_PHRASE": "name", "SHORT_NAME": "name", "PAIR_NAME": "name",
}  # fmt: skip
"""Token types → style classes (a NAME's depends on the patch; the rest are keywords)."""


def token_style(token: Token, previous: Token | None, context: Context) -> str:
    """The style class of one token; `previous` is the token before it in its command."""
    kind = token.type
    if kind in _STYLES:
        return _STYLES[kind]
    if kind != "NAME":
        return "verb" if previous is None else "keyword"
    word = str(token)
    if context.resolve(word) in context.modules:
        return "module"
    named = context.resolve(str(previous)) if previous is not None else context.focus
    kind_of = context.type_of(named) if named else None
    if kind_of is not None and word in param_names(kind_of):
        return "param"
    return "name"


class CommandLexer(Lexer):
    """prompt_toolkit lexer of the command language; `context` gives the live patch."""

    def __init__(self, context: Callable[[], Context]) -> None:
        self.context = context
        self._last: tuple[str, StyleAndTextTuples] = ("", [])

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        """Fragments for each line of the document (the prompt has one)."""
        lines = document.lines

        def line(number: int) -> StyleAndTextTuples:
            return self.fragments(lines[number]) if number < len(lines) else []

        return line

    def fragments(self, text: str) -> StyleAndTextTuples:
        """The line cut into (style, text) pieces; the last line's are kept for the next
        render of the same text."""
        if text == self._last[0] and self._last[1]:
            return self._last[1]
        read = scan(text)
        context = self.context()
        out: StyleAndTextTuples = []
        done = 0
        previous: Token | None = None
        for token in read.tokens:
            start, end = token.start_pos or 0, token.end_pos or 0
            out.extend(_gap(text[done:start]))
            out.append((f"class:{token_style(token, previous, context)}", text[start:end]))
            previous = None if token.type == "_SEP" else token
            done = end
        if read.error is not None and not _still_typing(text, read.error):
            out.extend(_gap(text[done : read.error]))
            out.append(("class:error", text[read.error :]))
        else:
            out.extend(_gap(text[done:]))
        self._last = (text, out)
        return out


def _gap(text: str) -> StyleAndTextTuples:
    """Text between tokens: blanks and filler words, and a trailing comment."""
    if not text:
        return []
    if "#" in text:
        cut = text.index("#")
        return [("", text[:cut]), ("class:comment", text[cut:])]
    return [("", text)]


def _still_typing(text: str, error: int) -> bool:
    """Whether the part that does not fit is only the last word, not finished yet."""
    rest = text[error:]
    return bool(rest) and not any(char.isspace() for char in rest)
