"""The pattern mini-notation: Tidal/Strudel-like text to exact, per-cycle events.

Each top-level element of a pattern is one step of its track: notes (`c3`, `eb2`, `f#3`, `36`),
hits (`x`, accent `X`), rests (`.`, `~`), subdivision `[a b]`, stacks `[c3,eb3,g3]`, repeat `a*2`,
alternation per cycle `<a b>`, Euclid `x(3,8)` / `x(3,8,2)` and velocity `c3:80`.
`parse` checks a pattern and precomputes every cycle of its period, so `Pattern.events` is a lookup.

>>> p = parse("c3 [eb3 g3]")
>>> p.steps, p.period
(2, 1)
>>> [(str(e.onset), str(e.length), e.notes) for e in p.events(0)]
[('0', '1', (48,)), ('1', '1/2', (51,)), ('3/2', '1/2', (55,))]
>>> [e.velocity for e in parse("<x X>").events(1)]
[127]
>>> try:
...     parse("c3 h3")
... except PatternError as err:
...     print(err)
'h' is not a note
  c3 h3
     ^
hint: notes are a–g with an optional # or b and an octave, e.g. c3, eb2, f#3
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from chronus.seq.pattern import Event, Pattern, Raw

__all__ = [
    "ACCENT_VELOCITY",
    "HIT_VELOCITY",
    "MAX_GRID",
    "MAX_PATTERN_CHARS",
    "NOTE_VELOCITY",
    "Event",
    "Pattern",
    "PatternError",
    "cached",
    "clear_cache",
    "parse",
    "parse_cached",
    "remember",
]

HIT_VELOCITY = 100
ACCENT_VELOCITY = 127
NOTE_VELOCITY = 100
MAX_PATTERN_CHARS = 512
MAX_PERIOD = 1024
MAX_WORK = 4096  # element visits over a whole period: bounds the work `parse` does
MAX_DEPTH = 32
MAX_GRID = 1 << 62
"""A cycle is timed in at most this many parts (onsets are int64 in `Pattern`'s tables)."""
CACHE_SIZE = 128

NOTE_HINT = "notes are a–g with an optional # or b and an octave, e.g. c3, eb2, f#3"
STEP_HINT = "steps are x or X (hits), . or ~ (rests), notes like c3 or MIDI numbers like 36"
EUCLID_HINT = "Euclid takes (hits,steps) or (hits,steps,rotation), e.g. x(3,8) or x(3,8,2)"
SPACE_HINT = "separate steps with spaces, e.g. x . . x"
_PITCH = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_DIGITS = "0123456789"
_OPENERS = {"[": "]", "<": ">"}
_AFTER_STEP = ",]>"
_LONE_HINTS = {
    ":": "a velocity follows its step, e.g. c3:80",
    "*": "a repeat follows its step, e.g. x*2",
    "(": "Euclid follows its step, e.g. x(3,8)",
    "#": "# follows a note letter, e.g. f#3",
    "-": "only an octave can be negative, e.g. c-1",
}


class PatternError(ValueError):
    """A pattern that does not parse.

    `.column` is 1-based into `.text`; str() is a friendly message: what was wrong, the pattern
    with a caret under the column, and a suggestion (`.hint`) where one helps.
    """

    def __init__(self, message: str, text: str, column: int, hint: str = "") -> None:
        super().__init__(message, text, column, hint)
        self.message = message
        self.text = text
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        shown = "".join(" " if c.isspace() else c if c.isprintable() else "?" for c in self.text)
        start = max(0, min(self.column - 1 - 36, len(shown) - 72))
        line = ("…" if start else "") + shown[start : start + 72]
        line += "…" if start + 72 < len(shown) else ""
        caret = " " * (self.column - 1 - start + (1 if start else 0)) + "^"
        hint = f"\nhint: {self.hint}" if self.hint else ""
        return f"{self.message}\n  {line}\n  {caret}{hint}"


# The syntax tree. `emit` appends (onset, length, notes, velocity) for one visit in integer units
# of a grid fine enough for every onset (see `_measure`), so evaluation needs no Fractions.

_Out = list[Raw]


@dataclass(frozen=True, slots=True)
class _Rest:
    column: int

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Atom:
    column: int
    notes: tuple[int, ...]
    velocity: int

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        out.append((at, span, self.notes, self.velocity if vel is None else vel))


@dataclass(frozen=True, slots=True)
class _Seq:
    column: int
    items: tuple[_Node, ...]

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        each = span // len(self.items)
        for i, item in enumerate(self.items):
            item.emit(visit, at + i * each, each, vel, out)


@dataclass(frozen=True, slots=True)
class _Stack:
    column: int
    items: tuple[_Node, ...]

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        for item in self.items:
            item.emit(visit, at, span, vel, out)


@dataclass(frozen=True, slots=True)
class _Alt:
    column: int
    items: tuple[_Node, ...]

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        chosen, inner = visit % len(self.items), visit // len(self.items)
        self.items[chosen].emit(inner, at, span, vel, out)


@dataclass(frozen=True, slots=True)
class _Repeat:
    column: int
    item: _Node
    times: int

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        each = span // self.times
        for i in range(self.times):
            self.item.emit(visit * self.times + i, at + i * each, each, vel, out)


@dataclass(frozen=True, slots=True)
class _Velocity:
    column: int
    item: _Node
    velocity: int

    def emit(self, visit: int, at: int, span: int, vel: int | None, out: _Out) -> None:
        self.item.emit(visit, at, span, self.velocity, out)


_Node = _Rest | _Atom | _Seq | _Stack | _Alt | _Repeat | _Velocity


class _Measure(NamedTuple):
    period: int  # visits after which the node's output repeats
    work: int  # elements one visit touches, at most
    grid: int  # parts its span needs for every onset and length to be a whole part


def _measure(node: _Node) -> _Measure:
    if isinstance(node, _Rest | _Atom):
        return _Measure(1, 1, 1)
    if isinstance(node, _Repeat | _Velocity):
        inner = _measure(node.item)
        if isinstance(node, _Velocity):
            return inner
        period = inner.period // math.gcd(inner.period, node.times)
        return _Measure(period, node.times * inner.work, node.times * inner.grid)
    parts = [_measure(item) for item in node.items]
    period = math.lcm(*(m.period for m in parts))
    grid = math.lcm(*(m.grid for m in parts))
    if isinstance(node, _Alt):
        return _Measure(len(parts) * period, max(m.work for m in parts), grid)
    if isinstance(node, _Seq):
        grid *= len(parts)
    return _Measure(period, sum(m.work for m in parts), grid)


def bjorklund(hits: int, steps: int) -> tuple[bool, ...]:
    """The Euclidean rhythm E(hits, steps) as Bjorklund/Toussaint spread it.

    >>> "".join("x" if hit else "." for hit in bjorklund(3, 8))
    'x..x..x.'
    """
    if hits == 0:
        return (False,) * steps
    heads: list[list[bool]] = [[True] for _ in range(hits)]
    tails: list[list[bool]] = [[False] for _ in range(steps - hits)]
    while min(len(heads), len(tails)) > 1:
        n = min(len(heads), len(tails))
        merged = [a + b for a, b in zip(heads[:n], tails[:n], strict=True)]
        heads, tails = merged, heads[n:] if len(heads) > n else tails[n:]
    return tuple(b for group in heads + tails for b in group)


class _Parser:
    """Recursive descent over the characters of one pattern."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, message: str, pos: int, hint: str = "") -> PatternError:
        return PatternError(message, self.text, pos + 1, hint)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def top(self) -> list[_Node]:
        steps: list[_Node] = []
        while True:
            self.skip_space()
            ch = self.peek()
            if not ch:
                return steps
            if ch in "]>)":
                raise self.error(f"'{ch}' closes nothing", self.pos, "remove it")
            if ch == ",":
                raise self.error("',' stacks only inside brackets", self.pos, "e.g. [c3,eb3,g3]")
            steps.extend(self.element())

    def element(self) -> list[_Node]:
        """One element with its postfixes; a Euclid expands into its steps."""
        start = self.pos
        node = self.primary()
        euclid: tuple[bool, ...] | None = None
        while (ch := self.peek()) in (":", "*", "("):
            at = self.pos
            self.pos += 1
            if ch == ":":
                node = _Velocity(at + 1, node, self.number(1, 127, "a velocity"))
            elif euclid is not None:
                what = "repeat" if ch == "*" else "give Euclid twice to"
                raise self.error(f"cannot {what} a Euclid step", at, "bracket it: [x(3,8)]*2")
            elif ch == "*":
                node = _Repeat(at + 1, node, self.number(1, 16, "a repeat count"))
            else:
                euclid = self.euclid(at)
        ch = self.peek()
        if ch and not ch.isspace() and ch not in _AFTER_STEP:
            where = self.text[start : self.pos]
            raise self.error(f"unexpected {ch!r} after {where!r}", self.pos, SPACE_HINT)
        if euclid is None:
            return [node]
        return [node if hit else _Rest(node.column) for hit in euclid]

    def primary(self) -> _Node:
        ch, at = self.peek(), self.pos
        if ch in _OPENERS:
            return self.group(ch)
        self.pos += 1
        if ch in ".~":
            return _Rest(at + 1)
        if ch == "x":
            return _Atom(at + 1, (), HIT_VELOCITY)
        if ch == "X":
            return _Atom(at + 1, (), ACCENT_VELOCITY)
        if ch in _DIGITS:
            self.pos = at
            return _Atom(at + 1, (self.number(0, 127, "a MIDI note"),), NOTE_VELOCITY)
        if ch.lower() in _PITCH:
            return self.note(at)
        if ch.isascii() and ch.isalpha():
            follows = self.peek()
            hint = NOTE_HINT if follows and follows in _DIGITS + "#-" else STEP_HINT
            raise self.error(f"{ch!r} is not a note", at, hint)
        raise self.error(f"unexpected character {ch!r}", at, _LONE_HINTS.get(ch, STEP_HINT))

    def note(self, at: int) -> _Atom:
        pitch = _PITCH[self.text[at].lower()]
        if self.peek() == "#":
            pitch, self.pos = pitch + 1, self.pos + 1
        elif self.peek() in ("b", "B"):
            pitch, self.pos = pitch - 1, self.pos + 1
        sign = -1 if self.peek() == "-" else 1
        self.pos += sign < 0
        digits = self.digits()
        if not digits:
            raise self.error("a note needs an octave", self.pos, NOTE_HINT)
        midi = 12 * (sign * int(digits) + 1) + pitch
        if not 0 <= midi <= 127:
            name = self.text[at : self.pos]
            raise self.error(f"{name} is MIDI note {midi}, outside 0..127", at, NOTE_HINT)
        return _Atom(at + 1, (midi,), NOTE_VELOCITY)

    def digits(self) -> str:
        start = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        return self.text[start : self.pos]

    def number(self, lo: int, hi: int, what: str, hint: str = "") -> int:
        at = self.pos
        sign = -1 if lo < 0 and self.peek() == "-" else 1
        self.pos += sign < 0
        digits = self.digits()
        if not digits:
            raise self.error(f"expected {what} ({lo}..{hi})", self.pos, hint)
        value = sign * int(digits)
        if not lo <= value <= hi:
            raise self.error(f"{what} must be {lo}..{hi}, not {value}", at, hint)
        return value

    def euclid(self, paren: int) -> tuple[bool, ...]:
        args: list[int] = []
        while True:
            self.skip_space()
            if len(args) == 3:
                raise self.error("Euclid takes at most three numbers", self.pos, EUCLID_HINT)
            what = ("a hit count", "a step count", "a rotation")[len(args)]
            low, high = (-64, 64) if len(args) == 2 else (0, 64)
            args.append(self.number(low, high, what, EUCLID_HINT))
            self.skip_space()
            ch = self.peek()
            self.pos += 1
            if ch == ")":
                break
            if ch != ",":
                self.pos -= 1
                if not ch:
                    raise self.error("'(' is never closed", paren, EUCLID_HINT)
                raise self.error(f"unexpected {ch!r} in Euclid", self.pos, EUCLID_HINT)
        if len(args) < 2:
            raise self.error("Euclid needs hits and steps", paren, EUCLID_HINT)
        hits, steps, rotation = args[0], args[1], args[2] if len(args) == 3 else 0
        if steps == 0 or hits > steps:
            raise self.error(
                f"Euclid cannot spread {hits} hits over {steps} steps",
                paren,
                "hits must be 0..steps and steps 1..64, e.g. x(3,8)",
            )
        spread = bjorklund(hits, steps)
        rotation %= steps
        return spread[rotation:] + spread[:rotation]

    def group(self, opener: str) -> _Node:
        closer, at = _OPENERS[opener], self.pos
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"brackets nested deeper than {MAX_DEPTH}", at)
        self.pos += 1
        layers: list[list[_Node]] = [[]]
        comma = at
        while True:
            self.skip_space()
            ch = self.peek()
            if not ch:
                raise self.error(f"'{opener}' is never closed", at, f"close it with '{closer}'")
            if ch == closer:
                self.pos += 1
                break
            if ch in "]>":
                raise self.error(f"'{opener}' is closed by '{ch}'", at, f"close it with '{closer}'")
            if ch == ")":
                raise self.error("')' closes nothing", self.pos, "remove it")
            if ch == ",":
                if not layers[-1]:
                    raise self.error("nothing before ','", self.pos, "e.g. [c3,eb3,g3]")
                comma = self.pos
                layers.append([])
                self.pos += 1
                continue
            layers[-1].extend(self.element())
        self.depth -= 1
        if not layers[-1]:
            if len(layers) == 1:
                raise self.error(f"empty '{opener}{closer}'", at, "put at least one step inside")
            raise self.error("nothing after ','", comma, "e.g. [c3,eb3,g3]")
        kind = _Seq if opener == "[" else _Alt
        parts: list[_Node] = [kind(at + 1, tuple(layer)) for layer in layers]
        return parts[0] if len(parts) == 1 else _Stack(at + 1, tuple(parts))


def _culprit(node: _Node) -> int:
    """The column to blame for a period over MAX_PERIOD: the first place it crosses the limit."""
    children: tuple[_Node, ...] = ()
    if isinstance(node, _Seq | _Stack | _Alt):
        children = node.items
    elif isinstance(node, _Repeat | _Velocity):
        children = (node.item,)
    for child in children:
        if _measure(child).period > MAX_PERIOD:
            return _culprit(child)
    if isinstance(node, _Seq | _Stack):
        running = 1
        for child in children:
            running = math.lcm(running, _measure(child).period)
            if running > MAX_PERIOD:
                return child.column
    return node.column


def _raw_cycle(root: _Seq, unit: int, cycle: int) -> tuple[Raw, ...]:
    """One cycle in `unit`ths of a step: notes sharing onset, length and velocity merge."""
    raw: _Out = []
    root.emit(cycle, 0, len(root.items) * unit, None, raw)
    merged: dict[tuple[int, int, int, bool], set[int]] = {}
    for onset, length, notes, velocity in raw:
        merged.setdefault((onset, length, velocity, not notes), set()).update(notes)
    events = [(on, ln, tuple(sorted(ns)), vel) for (on, ln, vel, _), ns in merged.items()]
    return tuple(sorted(events, key=lambda e: (e[0], e[2], e[1], e[3])))


def _tree(text: str) -> _Seq:
    """The syntax tree of a pattern that parses."""
    return _Seq(1, tuple(_Parser(text).top()))


def _evaluate(root: _Seq, cycle: int) -> tuple[Event, ...]:
    """Evaluate one cycle from scratch (no table): what `Pattern.events` must agree with."""
    unit = _measure(root).grid // len(root.items)
    return tuple(
        Event(Fraction(on, unit), Fraction(ln, unit), ns, vel)
        for on, ln, ns, vel in _raw_cycle(root, unit, cycle)
    )


def parse(text: str) -> Pattern:
    """Parse a pattern; raises PatternError (and nothing else) for any text that is not one."""
    if len(text) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"a pattern is at most {MAX_PATTERN_CHARS} characters",
            text,
            MAX_PATTERN_CHARS + 1,
            "split it over several tracks",
        )
    steps = _Parser(text).top()
    if not steps:
        raise PatternError("a pattern needs at least one step", text, 1, "e.g. x . . . x . . .")
    root = _Seq(1, tuple(steps))
    bound, work, grid = _measure(root)
    if bound > MAX_PERIOD:
        raise PatternError(
            f"this pattern repeats only every {bound} cycles (at most {MAX_PERIOD})",
            text,
            _culprit(root),
            "use fewer or shorter <…> alternations",
        )
    if bound * work > MAX_WORK:
        raise PatternError(
            f"too busy: up to {work} elements a cycle over {bound} cycles",
            text,
            1,
            "use fewer repeats, subdivisions or alternations",
        )
    if grid > MAX_GRID:
        raise PatternError(
            f"subdivided too finely: a cycle in {grid} parts (at most 2^62)",
            text,
            1,
            "nest fewer groups of different sizes inside each other",
        )
    unit = grid // len(steps)
    cycles = [_raw_cycle(root, unit, c) for c in range(bound)]
    period = next(
        d
        for d in range(1, bound + 1)
        if bound % d == 0 and all(cycles[c] == cycles[c % d] for c in range(bound))
    )
    return Pattern.build(text, len(steps), unit, cycles[:period])


_cache: OrderedDict[str, Pattern] = OrderedDict()


def parse_cached(text: str) -> Pattern:
    """`parse`, remembering the last `CACHE_SIZE` patterns (a `Pattern` never changes).

    In a slot the patch's check and the sequencer both need the pattern of one command; a
    pattern prepared elsewhere and handed over with `remember` is never parsed here at all.
    """
    found = _cache.get(text)
    if found is None:
        found = parse(text)
    remember(found)
    return found


def cached(text: str) -> Pattern | None:
    """The remembered pattern of `text`, if there is one (never parses)."""
    return _cache.get(text)


def remember(pattern: Pattern) -> None:
    """Make `parse_cached(pattern.text)` return `pattern` (one parsed elsewhere, or loaded)."""
    _cache[pattern.text] = pattern
    _cache.move_to_end(pattern.text)
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every remembered pattern (benchmarks time fresh parses with it)."""
    _cache.clear()
