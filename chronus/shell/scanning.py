"""A line read as far as it fits the grammar: its tokens, and what could come next.

The completer and the colouring lexer of the prompt both need to know, while a line is being
typed, what each word is and where the line stops making sense. Both come from the grammar's
own LALR parser, driven token by token (lark's interactive parser): the tokens it has read,
the offset where the line stopped fitting, and the terminals the parser would take next.
A half-typed line is no error, so an unfinished command stops nothing.

>>> [token.type for token in scan("set bass cutoff 800 hz").tokens]
['_SET', 'NAME', 'NAME', 'NUMBER', 'UNIT']
>>> sorted(scan("snapshot load ", expect=True).accepts)
['NAME', 'SHORT_NAME']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from chronus.lang.parser import load_parser

__all__ = ["Scan", "scan"]


@dataclass(frozen=True, slots=True)
class Scan:
    """What the grammar made of a line (or of the part of it that fits)."""

    tokens: tuple[Token, ...]
    """The tokens read before the line stopped fitting (ignored words are not tokens)."""
    error: int | None = None
    """The offset of the first character that does not fit; None if all of it fits so far."""
    accepts: frozenset[str] = frozenset()
    """The terminals that could come next (asked for with `expect`, and only if no error)."""

    def command(self) -> tuple[Token, ...]:
        """The tokens of the last command of the line (after its last `;`, `then`, `and`)."""
        for index in range(len(self.tokens) - 1, -1, -1):
            if self.tokens[index].type == "_SEP":
                return self.tokens[index + 1 :]
        return self.tokens


@lru_cache(maxsize=256)
def scan(text: str, expect: bool = False) -> Scan:
    """Read `text` with the grammar; with `expect`, also what could follow it.

    A pure function of the text (the grammar is loaded once), so it is cached: while a word
    is typed, the line before it is read once, not at every key.
    """
    tokens: list[Token] = []
    try:
        parser = load_parser().parse_interactive(text)
        for token in parser.iter_parse():
            tokens.append(token)
        accepts = frozenset(parser.accepts()) if expect else frozenset()  # type: ignore[no-untyped-call]
    except UnexpectedCharacters as exc:
        return Scan(tuple(tokens), _offset(exc.pos_in_stream, text))
    except UnexpectedToken as exc:
        if tokens and tokens[-1] is exc.token:
            tokens.pop()
        start = exc.token.start_pos
        return Scan(tuple(tokens), _offset(start, text))
    except UnexpectedInput:
        return Scan(tuple(tokens), len(text))
    except Exception:
        # The builder refused what it read (a bad pattern, say): the words are still words.
        return Scan(tuple(tokens), None)
    return Scan(tuple(tokens), None, accepts)


def _offset(position: int | None, text: str) -> int:
    return position if isinstance(position, int) and 0 <= position <= len(text) else len(text)
