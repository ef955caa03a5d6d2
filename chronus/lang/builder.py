"""Parse tree → intents: the stateless transformer behind `chronus.lang.parser`.

One small method per named alternative of `grammar/chronus.lark`. It only builds intents
(converting numbers, notes and note values, and the words of `chronus.lang.vocabulary` to
their canonical ones); what "it" is, or how dark "darker" is on this module, is the context's
and the mapper's job.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from lark import Token, Transformer, Tree

from chronus.lang.errors import BadValueError, ChronusSyntaxError, UnknownModuleError
from chronus.lang.intents import (
    TIME_UNITS,
    AddModule,
    AddSound,
    Adjust,
    ChangeTempo,
    Clear,
    Connect,
    Disconnect,
    Duration,
    Intent,
    Link,
    LinkQuantum,
    LinkSession,
    LinkStartStop,
    Midi,
    Modulate,
    Panic,
    PlayChord,
    PlayNote,
    Plugin,
    RawOsc,
    Record,
    Redo,
    Remove,
    Replay,
    Route,
    SetKey,
    SetLane,
    SetParam,
    SetPattern,
    SetStep,
    SetTempo,
    ShellCommand,
    Snapshot,
    Start,
    Stop,
    StopRecording,
    Transpose,
    Undo,
    Wait,
)
from chronus.lang.music import (
    CHORDS,
    SCALES,
    TEMPO_FACTORS,
    UNIT_WORDS,
    division_of,
    is_note,
    note_name,
    note_to_midi,
    pitch_class,
)
from chronus.lang.sounds import SOUNDS, find_sound
from chronus.lang.vocabulary import (
    SIZES,
    chord_quality,
    comparative,
    interval,
    module_type,
    mute_word,
    rhythm,
    tempo_change,
)
from chronus.protocol import ID_PATTERN

__all__ = ["Builder"]


_INT_RE = re.compile(r"[+-]?[0-9]{1,18}")
_SEVENTH_RE = re.compile(r"([a-g](?:#|b)?)7", re.IGNORECASE)


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


@dataclass(frozen=True, slots=True)
class _Every:
    division: int
    column: int


@dataclass(frozen=True, slots=True)
class _Velocity:
    value: float
    column: int


@dataclass(frozen=True, slots=True)
class _Chord:
    notes: tuple[float, ...]
    column: int


@dataclass(frozen=True, slots=True)
class _Rate:
    rate: float | None
    sync: float | None
    column: int


@dataclass(frozen=True, slots=True)
class _Sound:
    name: str
    called: Token | None
    column: int


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    column: int


def _number(token: Token) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise BadValueError(f"{token} is too large a number", column=_col(token))
    return value


_PAN_DEGREES = {"bit": 0.25, "much": 1.0}
"""How far `pan the hat a bit left` goes (a plain `left` is all the way, as is `way left`)."""
_COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(token: Token | None, what: str, low: int = 1, high: int = 1000) -> int:
    if token is None:
        return 1
    if token.type == "COUNT_WORD":
        return _COUNT_WORDS.index(token.lower()) + 1
    value = _number(token)
    if value != int(value) or not low <= value <= high:
        raise BadValueError(f"{what} takes a whole number from {low} to {high}", _col(token))
    return int(value)


def _col(token: Token) -> int:
    return token.column if isinstance(token.column, int) else 1


def _name(token: Token) -> str:
    return str(token).lower()


def _midi(token: Token) -> float:
    if token.type == "MIDDLE_C":
        return 60.0
    midi = note_to_midi(token)
    if not 0 <= midi <= 127:
        raise BadValueError(
            f'note "{token}" is outside MIDI (c-1 to g9)',
            column=_col(token),
            hint="c4 is middle C (MIDI 60); octaves run from -1 to 9",
        )
    return float(midi)


def _tokens(items: list[Any], *types: str) -> list[Token]:
    return [i for i in items if isinstance(i, Token) and i.type in types]


def _said_of(module: Token | None, text: str, word: Token, degree: _Word | None) -> Adjust:
    """A relative change said of a module (None: the focus) with no parameter named
    (`make the kick shorter`, `a bit darker`)."""
    return Adjust(
        None if module is None else _name(module),
        text,
        None,
        degree.text if degree else None,
        at=_at(word=_col(word), module=None if module is None else _col(module)),
    )


def _first(items: list[Any], kind: type[Any]) -> Any:
    return next((i for i in items if isinstance(i, kind)), None)


def _at(**columns: int | None) -> tuple[tuple[str, int], ...]:
    return tuple((name, col) for name, col in columns.items() if col is not None)


class Builder(Transformer[Token, Any]):
    """Parse tree → intents. Stateless: resolving the focus or "it" is the context's job."""

    def start(self, items: list[Intent | None]) -> list[Intent]:
        return [item for item in items if item is not None]

    # ---- tempo ------------------------------------------------------------------------
    def set_tempo(self, items: list[Token]) -> SetTempo:
        bpm = items[0]
        return SetTempo(_number(bpm), len(items) > 1, at=(("bpm", _col(bpm)),))

    def tempo_twice(self, items: list[Token]) -> ChangeTempo:
        return ChangeTempo(2.0 if items[0].lower() == "fast" else 0.5)

    def tempo_double(self, items: list[Token]) -> ChangeTempo:
        return ChangeTempo(2.0)

    def tempo_half(self, items: list[Token]) -> ChangeTempo:
        return ChangeTempo(0.5)

    def tempo_change(self, items: list[Any]) -> ChangeTempo:
        (phrase,) = _tokens(items, "TEMPO_CHANGE")
        degree: _Word | None = _first(items, _Word)
        key = (tempo_change(phrase), degree.text if degree else None)
        return ChangeTempo(TEMPO_FACTORS[key], at=_at(word=_col(phrase)))

    # ---- patch ------------------------------------------------------------------------
    def new_module(
        self, items: list[Token | None]
    ) -> tuple[Token, Token | None, str | None] | _Sound:
        kind, word, called = items
        assert kind is not None
        if word is not None and _name(kind) in SIZES.get(_type_word(word), {}):
            return word, called, _name(kind)  # `add a big reverb`: a reverb, big
        words = tuple(_name(kind).split()) + (() if word is None else (_name(word),))
        found = find_sound(words)
        if found is not None:
            sound, used = found
            if called is None and used < len(words):  # add an 808 kick: the 808, called kick
                called = (
                    word if word is not None else Token.new_borrow_pos("NAME", words[used], kind)
                )
            return _Sound(sound, called, _col(kind))
        if kind.type == "NUMBER":
            raise UnknownModuleError(
                f'there is no sound called "{kind}"',
                column=_col(kind),
                expected=list(SOUNDS),
                hint="sounds: " + ", ".join(SOUNDS) + " (help sounds)",
            )
        return kind, called or word, None

    def link(self, items: list[Token | None]) -> Link:
        name, second = items[0], items[1]
        assert name is not None
        called = _name(items[2]) if len(items) > 2 and items[2] is not None else None
        # A one-word module word may also be a module's name: the mapper decides those.
        word = _type_word(name) if name.type == "TYPE_PHRASE" else _name(name)
        return Link(word, called, _col(name), None if second is None else _name(second))

    def chain(self, items: list[Link]) -> tuple[Link, ...]:
        return tuple(items)

    def add_module(self, items: list[Any]) -> AddModule | AddSound:
        through = _first(items[1:], tuple) or ()
        after = next((i for i in items[1:] if isinstance(i, Token)), None)
        if isinstance(items[0], _Sound):
            sound = items[0]
            return AddSound(
                sound.name,
                None if sound.called is None else _name(sound.called),
                through,
                None if after is None else _name(after),
                at=_at(
                    type=sound.column,
                    name=None if sound.called is None else _col(sound.called),
                    after=None if after is None else _col(after),
                ),
            )
        kind, name, size = items[0]
        return AddModule(
            _type_word(kind),
            None if name is None else _name(name),
            through,
            None if after is None else _name(after),
            size,
            at=_at(
                type=_col(kind),
                name=None if name is None else _col(name),
                after=None if after is None else _col(after),
            ),
        )

    def through(self, items: list[Any]) -> Route:
        source, chain = items
        return Route(_name(source), chain, at=_at(module=_col(source)))

    def connect(self, items: list[Token]) -> Connect:
        src, dst = items
        return Connect(_name(src), _name(dst), at=_at(module=_col(src), destination=_col(dst)))

    def disconnect(self, items: list[Token]) -> Disconnect:
        src = items[0]
        dst = items[1] if len(items) > 1 else None
        return Disconnect(
            _name(src),
            None if dst is None else _name(dst),
            at=_at(module=_col(src), destination=None if dst is None else _col(dst)),
        )

    def remove(self, items: list[Token]) -> Remove:
        (module,) = items
        return Remove(_name(module), at=_at(module=_col(module)))

    # ---- parameters -------------------------------------------------------------------
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
        param, value = items[0], items[1]
        module = items[2] if len(items) > 2 else None
        return self._set_param(module, param, value)

    def set_none(self, items: list[Any]) -> SetParam:
        """`no swing on the hat`, `no drive`: the parameter (or track setting) set to 0."""
        param, module = items[0], items[1] if len(items) > 1 else None
        return self._set_param(module, param, _Value(0.0, None, _col(param), _col(param)))

    def set_param_of(self, items: list[Any]) -> SetParam:
        param, module, value = items
        return self._set_param(module, param, value)

    def side(self, items: list[Token]) -> _Word:
        return _Word(items[0].lower(), _col(items[0]))

    def pan(self, items: list[Any]) -> SetParam:
        module = _first(items, Token)
        value: _Value | None = _first(items, _Value)
        words = [item for item in items if isinstance(item, _Word)]
        side = next((word for word in words if word.text not in _PAN_DEGREES), None)
        degree = next((word for word in words if word.text in _PAN_DEGREES), None)
        sign = {"left": -1.0, "right": 1.0}.get(side.text if side else "", 0.0)
        if degree is not None and sign == 0.0:
            raise BadValueError(
                "the centre is one place; a bit or a lot of it makes no sense",
                column=degree.column,
                hint="pan the hat a bit left, pan center",
            )
        if value is None:
            assert side is not None
            far = _PAN_DEGREES[degree.text] if degree else 1.0
            number, unit, column = sign * far, None, side.column
        else:
            number = abs(value.number) * sign if side is not None else value.number
            unit, column = value.unit, value.column
            if side is not None and side.text not in ("left", "right"):
                raise BadValueError(
                    f"the centre is 0; a value with {side.text} makes no sense",
                    column=side.column,
                    hint="pan 30% left, pan 0.5 right, pan center",
                )
        at = _at(
            param=column,
            value=column,
            unit=value.unit_column if value else column,
            module=None if module is None else _col(module),
        )
        return SetParam(None if module is None else _name(module), "pan", number, unit, at=at)

    @staticmethod
    def _set_param(module: Token | None, param: Token, value: _Value) -> SetParam:
        at = _at(
            param=_col(param),
            value=value.column,
            unit=value.unit_column,
            module=None if module is None else _col(module),
        )
        return SetParam(
            None if module is None else _name(module),
            _name(param),
            value.number,
            value.unit,
            at=at,
        )

    # ---- relative changes ---------------------------------------------------------------
    def degree(self, items: list[Token]) -> _Word:
        token = items[0]
        return _Word("bit" if token.type == "BIT" else "much", _col(token))

    def make(self, items: list[Any]) -> Intent:
        module = next((i for i in items if isinstance(i, Token) and i.type == "NAME"), None)
        return self._compare(items, module)

    def compare(self, items: list[Any]) -> Intent:
        module = next((i for i in items if isinstance(i, Token) and i.type == "NAME"), None)
        return self._compare(items, module)

    @staticmethod
    def _compare(items: list[Any], module: Token | None) -> Intent:
        (word,) = _tokens(items, "COMPARATIVE")
        degree: _Word | None = _first(items, _Word)
        text = comparative(word)
        if text in ("faster", "slower"):
            factor = TEMPO_FACTORS[(text, degree.text if degree else None)]
            return ChangeTempo(factor, at=_at(word=_col(word)))
        return _said_of(module, text, word, degree)

    def make_length(self, items: list[Any]) -> Adjust:
        """`make the kick shorter`: a length said of a module (its decay or release: the
        mapper picks); `make it more` names nothing to change."""
        (word,) = _tokens(items, "AMOUNT")
        module = next((i for i in items if isinstance(i, Token) and i.type == "NAME"), None)
        text = word.lower()
        if text not in ("longer", "shorter"):
            raise BadValueError(
                f"{text} what? say which parameter",
                column=_col(word),
                hint=f"{text} resonance, make it longer, make it darker",
            )
        return _said_of(module, text, word, _first(items, _Word))

    def amount(self, items: list[Any]) -> Adjust:
        (word,) = _tokens(items, "AMOUNT")
        names = _tokens(items, "NAME")
        param = names[0]
        module = names[1] if len(names) > 1 else None
        degree: _Word | None = _first(items, _Word)
        text = {"increase": "more", "decrease": "less"}.get(word.lower(), word.lower())
        return Adjust(
            None if module is None else _name(module),
            text,
            _name(param),
            degree.text if degree else None,
            at=_at(
                word=_col(word),
                param=_col(param),
                module=None if module is None else _col(module),
            ),
        )

    # ---- notes --------------------------------------------------------------------------
    def note(self, items: list[Token]) -> _Note:
        (token,) = items
        return _Note(_midi(token), _col(token))

    def duration(self, items: list[Token]) -> _Timed:
        amount, unit = items
        return _Timed(Duration(*self._time(amount, unit, "a duration")), _col(amount))

    def velocity(self, items: list[Token]) -> _Velocity:
        (token,) = items
        value = _number(token)
        if not 0 <= value <= 127:
            raise BadValueError("velocity runs from 0 to 127", column=_col(token))
        return _Velocity(value, _col(token))

    def every(self, items: list[Token]) -> _Every:
        division = next((t for t in items if t.type == "DIVISION"), None)
        triplet = any(t.type == "TRIPLET" for t in items)
        text = "8th" if division is None else str(division)
        column = _col(division if division is not None else items[0])
        return _Every(division_of(text, triplet), column)

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

    def play_notes(self, items: list[Any]) -> Intent:
        head: Token = items[0]
        options = _Options(items[1:])
        text = str(head)
        if head.type == "PATTERN" and (len(text.split()) > 1 or options.every is not None
                                       or not is_note(text)):  # fmt: skip
            if options.duration is not None or options.velocity is not None:
                column = (options.duration or options.velocity).column  # type: ignore[union-attr]
                raise ChronusSyntaxError(
                    "a pattern takes no duration or velocity of its own",
                    column=column,
                    hint="play c3 on bass for 2 beats plays one note; a pattern loops; "
                    "accents go in the pattern (c3:120)",
                )
            return SetPattern(
                options.module_name,
                text,
                None if options.every is None else options.every.division,
                options.now,
                at=_at(pattern=_col(head), module=options.module_column),
            )
        note = _Note(_midi(head), _col(head))
        return options.play(note)

    def play_module(self, items: list[Any]) -> PlayNote:
        module: Token = items[0]
        options = _Options(items[1:])
        if options.module is not None:
            raise ChronusSyntaxError(
                f'play {module} on {options.module}: "{module}" is neither a note nor a pattern',
                column=_col(module),
                hint="notes look like c4, eb2, f#3 or middle c",
            )
        options.module = module
        return options.play(_Note(60.0, _col(module)))

    def module_plays(self, items: list[Any]) -> PlayNote:
        module, note = items[0], items[1]
        options = _Options(items[2:])
        if options.module is not None:
            raise ChronusSyntaxError(
                f'"{module} plays" already says which module plays',
                column=_col(options.module),
                hint=f"{module} plays {note_name(note.midi)}, or play … on {options.module}",
            )
        options.module = module
        return options.play(note)

    def chord(self, items: list[Token]) -> _Chord:
        if len(items) > 1 and items[1].type in ("PATTERN", "PITCH"):
            article, *items = items
            if article.lower() != "a":
                raise ChronusSyntaxError(
                    f'a chord has one root note, not "{article} {items[0]}"',
                    column=_col(article),
                    hint="play c minor chord, play a g major chord",
                )
        root = items[0]
        quality = items[1] if len(items) > 1 else None
        seventh = _SEVENTH_RE.fullmatch(str(root))
        if root.type == "PATTERN" and seventh is not None and quality is None:
            # "g7 chord" is G dominant seventh (around middle C), not a G in octave 7.
            base = 60 + pitch_class(seventh.group(1))
            quality = Token("QUALITY", "dom7")
        elif root.type == "PATTERN":
            if not is_note(str(root)):
                raise ChronusSyntaxError(
                    f'a chord has one root note, not "{root}"',
                    column=_col(root),
                    hint="play c minor chord, play eb3 major chord",
                )
            base = int(_midi(root))
        else:
            base = 60 + pitch_class(root)
        name = "major" if quality is None else chord_quality(quality)
        notes = tuple(float(base + step) for step in CHORDS[name])
        if notes[-1] > 127:
            raise BadValueError("that chord goes above MIDI 127", column=_col(root))
        return _Chord(notes, _col(root))

    def play_chord(self, items: list[Any]) -> PlayChord:
        chord: _Chord = items[0]
        options = _Options(items[1:])
        if options.every is not None:
            raise ChronusSyntaxError(
                "a chord is played once; patterns are notes in a row",
                column=options.every.column,
                hint="play c3 eb3 g3 every 8th on pad",
            )
        return PlayChord(
            options.module_name,
            chord.notes,
            100.0 if options.velocity is None else options.velocity.value,
            None if options.duration is None else options.duration.duration,
            at=_at(
                note=chord.column,
                module=options.module_column,
                duration=None if options.duration is None else options.duration.column,
            ),
        )

    # ---- sequencer ----------------------------------------------------------------------
    def pattern(self, items: list[Any]) -> SetPattern:
        module, text = items[0], items[1]
        every: _Every | None = _first(items[2:], _Every)
        now = any(isinstance(i, Token) and i.type == "NOW" for i in items[2:])
        return SetPattern(
            _name(module),
            str(text),
            None if every is None else every.division,
            now,
            at=_at(module=_col(module), pattern=_col(text)),
        )

    def rhythm(self, items: list[Token]) -> SetPattern:
        (idiom,) = _tokens(items, "RHYTHM")
        names = _tokens(items, "NAME")
        module = names[0] if names else None
        return SetPattern(
            None if module is None else _name(module),
            rhythm(idiom),
            16,
            bool(_tokens(items, "NOW")),
            at=_at(module=None if module is None else _col(module), pattern=_col(idiom)),
        )

    def step(self, items: list[Any]) -> SetStep:
        module, every = items
        return SetStep(_name(module), every.division, at=_at(module=_col(module)))

    def focus_step(self, items: list[Any]) -> SetStep:
        every: _Every = items[0]
        module = items[1] if len(items) > 1 else None
        return SetStep(
            None if module is None else _name(module),
            every.division,
            at=_at(module=None if module is None else _col(module), value=every.column),
        )

    def lane(self, items: list[Token]) -> SetLane:
        *names, values = items
        module = names[0] if len(names) > 1 else None
        param = names[-1]
        return SetLane(
            None if module is None else _name(module),
            _name(param),
            str(values),
            at=_at(
                module=None if module is None else _col(module),
                param=_col(param),
                values=_col(values),
            ),
        )

    def start_track(self, items: list[Token]) -> Start:
        module = items[0] if items else None
        return Start(
            None if module is None else _name(module),
            at=_at(module=None if module is None else _col(module)),
        )

    def restart(self, items: list[Token]) -> Start:
        return Start(None, again=True)

    def stop(self, items: list[Token]) -> Stop:
        module = items[0] if items else None
        return Stop(
            None if module is None else _name(module),
            at=_at(module=None if module is None else _col(module)),
        )

    def clear(self, items: list[Token]) -> Clear:
        module = items[0] if items else None
        return Clear(
            None if module is None else _name(module),
            at=_at(module=None if module is None else _col(module)),
        )

    # ---- mix ----------------------------------------------------------------------------
    def mute(self, items: list[Token]) -> SetParam:
        param, value = mute_word(items[0])
        module = items[1] if len(items) > 1 else None
        col = _col(items[0])
        return SetParam(
            None if module is None else _name(module),
            param,
            value,
            at=_at(param=col, value=col, module=None if module is None else _col(module)),
        )

    def panic(self, items: list[Any]) -> Panic:
        return Panic()

    # ---- lfo ----------------------------------------------------------------------------
    def rate(self, items: list[Token]) -> _Rate:
        token = items[0]
        if token.type == "FRACTION":
            top, bottom = (int(part) for part in str(token).split("/"))
            if top == 0 or bottom == 0:
                raise BadValueError(f"{token} is not a note value", column=_col(token))
            return _Rate(None, float(Fraction(4 * top, bottom)), _col(token))
        unit = UNIT_WORDS[items[1].lower()] if len(items) > 1 else "hz"
        value = _number(token)
        if unit == "hz":
            return _Rate(value, None, _col(token))
        if unit in ("khz",):
            return _Rate(value * 1000, None, _col(token))
        if unit in ("beats", "bars", "steps"):
            beats = {"beats": 1.0, "bars": 4.0, "steps": 0.25}[unit]
            return _Rate(None, value * beats, _col(token))
        if unit in ("s", "ms"):
            seconds = value / 1000 if unit == "ms" else value
            if seconds <= 0:
                raise BadValueError("an lfo cycle must be longer than 0", column=_col(token))
            return _Rate(1 / seconds, None, _col(token))
        raise BadValueError(
            f'an lfo runs at a rate (hz) or a note value (1/8, 2 beats), not "{items[1]}"',
            column=_col(items[1]),
        )

    def shape(self, items: list[Token]) -> _Word:
        return _Word(items[0].lower(), _col(items[0]))

    def lfo(self, items: list[Any]) -> Modulate:
        names = _tokens(items, "NAME")
        return self._modulate("lfo", names, items)

    def wobble(self, items: list[Any]) -> Modulate:
        return self._modulate("wobble", _tokens(items, "NAME"), items)

    def vibrato(self, items: list[Any]) -> Modulate:
        return self._modulate("vibrato", _tokens(items, "NAME"), items)

    def sweep(self, items: list[Any]) -> Modulate:
        return self._modulate("sweep", _tokens(items, "NAME"), items)

    @staticmethod
    def _modulate(style: str, names: list[Token], items: list[Any]) -> Modulate:
        module = names[0] if names else None
        param = names[1] if len(names) > 1 else None
        rate: _Rate | None = _first(items, _Rate)
        depth: _Value | None = _first(items, _Value)
        shape: _Word | None = _first(items, _Word)
        depth_value = None
        if depth is not None:
            if depth.unit not in (None, "%"):
                raise BadValueError(
                    f'depth is a fraction or a percentage, not "{depth.unit}"',
                    column=depth.unit_column,
                )
            depth_value = depth.number / 100 if depth.unit == "%" else depth.number
        return Modulate(
            None if module is None else _name(module),
            None if param is None else _name(param),
            style,
            None if rate is None else rate.rate,
            None if rate is None else rate.sync,
            depth_value,
            None if shape is None else shape.text,
            at=_at(
                module=None if module is None else _col(module),
                param=None if param is None else _col(param),
                rate=None if rate is None else rate.column,
                depth=None if depth is None else depth.column,
            ),
        )

    # ---- transpose ----------------------------------------------------------------------
    def shift(self, items: list[Token]) -> Transpose:
        return self._shift(items)

    def shift_named(self, items: list[Token]) -> Transpose:
        return self._shift(items)

    @staticmethod
    def _shift(items: list[Token]) -> Transpose:
        names = _tokens(items, "NAME")
        (direction,) = _tokens(items, "DIRECTION")
        numbers = _tokens(items, "NUMBER")
        words = _tokens(items, "INTERVAL")  # none: `transpose up 2`, semitones
        count = 1.0 if not numbers else _number(numbers[0])
        if count != int(count) or count < 0:
            raise BadValueError("transpose by whole steps", column=_col(numbers[0]))
        size = interval(words[0]) if words else 1
        semitones = int(count) * size * (1 if direction.lower() == "up" else -1)
        module = names[0] if names else None
        return Transpose(
            None if module is None else _name(module),
            semitones,
            at=_at(
                module=None if module is None else _col(module),
                value=_col(numbers[0]) if numbers else _col(direction),
            ),
        )

    def transpose_by(self, items: list[Token]) -> Transpose:
        names = _tokens(items, "NAME")
        (number,) = _tokens(items, "NUMBER")
        intervals = _tokens(items, "INTERVAL")
        value = _number(number)
        if value != int(value):
            raise BadValueError("transpose by whole semitones", column=_col(number))
        size = interval(intervals[0]) if intervals else 1
        module = names[0] if names else None
        return Transpose(
            None if module is None else _name(module),
            int(value) * size,
            at=_at(module=None if module is None else _col(module), value=_col(number)),
        )

    # ---- history, session, key ----------------------------------------------------------
    def undo(self, items: list[Token]) -> Undo:
        return Undo(_count(items[0] if items else None, "undo"))

    def undo_twice(self, items: list[Token]) -> Undo:
        return Undo(2)

    def redo(self, items: list[Token]) -> Redo:
        return Redo(_count(items[0] if items else None, "redo"))

    def redo_twice(self, items: list[Token]) -> Redo:
        return Redo(2)

    def snapshot_save(self, items: list[Token]) -> Snapshot:
        return Snapshot("save", _name(items[0]), at=_at(name=_col(items[0])))

    def snapshot_load(self, items: list[Token]) -> Snapshot:
        return Snapshot("load", _name(items[0]), at=_at(name=_col(items[0])))

    def snapshot_list(self, items: list[Token]) -> Snapshot:
        return Snapshot("list")

    def snapshot_diff(self, items: list[Token]) -> Snapshot:
        other = _name(items[1]) if len(items) > 1 else None
        return Snapshot("diff", _name(items[0]), other, at=_at(name=_col(items[0])))

    def record(self, items: list[Token]) -> Record:
        numbers = _tokens(items, "NUMBER")
        units = _tokens(items, "UNIT")
        paths = _tokens(items, "PATH")
        length = None
        if numbers:
            amount, unit = self._time(numbers[0], units[0], "a recording's length")
            if amount <= 0:
                raise BadValueError("record for more than 0", column=_col(numbers[0]))
            length = Duration(amount, unit)
        path = _unquote(paths[0]) if paths else None
        if path is not None and not path.strip():
            raise BadValueError("the file name is empty", column=_col(paths[0]))
        return Record(
            length,
            path,
            at=_at(
                length=_col(numbers[0]) if numbers else None,
                path=_col(paths[0]) if paths else None,
            ),
        )

    def record_stop(self, items: list[Token]) -> StopRecording:
        return StopRecording()

    def link_on(self, items: list[Token]) -> LinkSession:
        return LinkSession(True)

    def link_off(self, items: list[Token]) -> LinkSession:
        return LinkSession(False)

    def link_sync_on(self, items: list[Token]) -> LinkStartStop:
        return LinkStartStop(True)

    def link_sync_off(self, items: list[Token]) -> LinkStartStop:
        return LinkStartStop(False)

    def link_status(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("link")

    def link_quantum(self, items: list[Token]) -> LinkQuantum:
        beats = _number(items[0])
        if beats != int(beats):
            raise BadValueError("link quantum takes whole beats, 1 to 64", column=_col(items[0]))
        return LinkQuantum(int(beats), at=(("beats", _col(items[0])),))

    def replay(self, items: list[Token]) -> Replay:
        return Replay(_unquote(items[0]), at=_at(path=_col(items[0])))

    def key(self, items: list[Token]) -> SetKey:
        root = items[0]
        if root.type == "PATTERN":
            if not is_note(str(root)):
                raise ChronusSyntaxError(f'a key is one note name, not "{root}"', column=_col(root))
            tonic = note_to_midi(root) % 12
        else:
            tonic = pitch_class(root)
        quality = chord_quality(items[1]) if len(items) > 1 else "major"
        scale = SCALES.get(quality)
        if scale is None:
            raise BadValueError(
                f'a key is major or minor, not "{items[1]}"',
                column=_col(items[1]),
                hint="key c minor, key eb major",
            )
        return SetKey(tonic, scale, at=_at(root=_col(root)))

    # ---- wait, raw OSC, shell -----------------------------------------------------------
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

    # ---- plugins --------------------------------------------------------------------
    def load_plugin(self, items: list[Token | None]) -> Plugin:
        source, named, hosting = items
        assert source is not None
        text = _unquote(source)
        is_file = source.type == "MODULE_FILE"
        if named is not None:
            name, column = _name(named), _col(named)
        elif is_file:
            name, column = Path(text).stem.lower(), _col(source)
        else:
            name, column = text.lower(), _col(source)
        if not ID_PATTERN.fullmatch(name):
            raise BadValueError(
                f'"{name}" cannot name a module type (a letter, then letters, digits or _)',
                column=column,
                hint=f"give it a name: load module {source} as fold",
            )
        return Plugin(
            "load",
            name,
            text if is_file else text.lower(),
            is_file,
            hosting="" if hosting is None else str(hosting).lower(),
            at=_at(source=_col(source), name=column),
        )

    def load_native(self, items: list[Token | None]) -> Plugin:
        source, named = items
        assert source is not None
        name = _name(named if named is not None else source)
        return Plugin(
            "load",
            name,
            _name(source),
            native=True,
            at=_at(source=_col(source), name=_col(named if named is not None else source)),
        )

    def midi_ports(self, items: list[Token]) -> Midi:
        return Midi("ports")

    def midi_to(self, items: list[Token]) -> Midi:
        return Midi("to", module=_name(items[0]), at=_at(module=_col(items[0])))

    def midi_in(self, items: list[Token | None]) -> Midi:
        port, module = items[0], items[1] if len(items) > 1 else None
        assert port is not None
        return Midi(
            "in",
            _unquote(str(port)).strip(),
            None if module is None else _name(module),
            at=_at(port=_col(port), module=None if module is None else _col(module)),
        )

    def midi_map(self, items: list[Token]) -> Midi:
        number, module, param = items
        cc = float(number)
        if cc != int(cc) or not 0 <= cc <= 127:
            raise BadValueError("a CC is a whole number from 0 to 127", column=_col(number))
        return Midi(
            "map", module=_name(module), param=_name(param), cc=int(cc),
            at=_at(cc=_col(number), module=_col(module), param=_col(param)),
        )  # fmt: skip

    def midi_outs(self, items: list[Token]) -> Midi:
        return Midi("outs")

    def midi_out(self, items: list[Token | None]) -> Midi:
        module, port, channel = items
        assert module is not None
        number = 1
        if channel is not None:
            number = int(float(channel)) if float(channel) == int(float(channel)) else 0
            if not 1 <= number <= 16:
                raise BadValueError("a MIDI channel is a whole number from 1 to 16",
                                    column=_col(channel))  # fmt: skip
        return Midi(
            "out", "0" if port is None else _unquote(str(port)).strip(), _name(module),
            cc=number, at=_at(module=_col(module)),
        )  # fmt: skip

    def midi_out_off(self, items: list[Token]) -> Midi:
        return Midi("out", "off", _name(items[0]), at=_at(module=_col(items[0])))

    def midi_clock(self, items: list[Token | None]) -> Midi:
        port = items[0] if items else None
        return Midi("clock", "on" if port is None else _unquote(str(port)).strip())

    def midi_learn(self, items: list[Token]) -> Midi:
        module, param = items
        return Midi(
            "learn", module=_name(module), param=_name(param),
            at=_at(module=_col(module), param=_col(param)),
        )  # fmt: skip

    def unload_plugin(self, items: list[Token]) -> Plugin:
        return Plugin("unload", _name(items[0]), at=_at(name=_col(items[0])))

    def reload_plugin(self, items: list[Token]) -> Plugin:
        return Plugin("reload", _name(items[0]), at=_at(name=_col(items[0])))

    def modules(self, items: list[Token]) -> ShellCommand:
        name = _name(items[1]) if len(items) > 1 else None
        return ShellCommand("modules", name, at=(("name", _col(items[0])),))

    def watch(self, items: list[Token]) -> ShellCommand:
        return ShellCommand(
            "watch", _name(items[1]), at=_at(name=_col(items[0]), arg=_col(items[1]))
        )

    def unwatch(self, items: list[Token]) -> ShellCommand:
        return ShellCommand(
            "unwatch", _name(items[1]), at=_at(name=_col(items[0]), arg=_col(items[1]))
        )

    def help(self, items: list[Token]) -> ShellCommand:
        topic = _name(items[1]) if len(items) > 1 else None
        return ShellCommand("help", topic, at=(("name", _col(items[0])),))

    def sessions(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("sessions", at=(("name", _col(items[0])),))

    def who(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("who", at=(("name", _col(items[0])),))

    def health(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("health", at=(("name", _col(items[0])),))

    def status(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("status", at=(("name", _col(items[0])),))

    def quit(self, items: list[Token]) -> ShellCommand:
        how = str(items[1]).lower().lstrip("-") if len(items) > 1 and items[1] else None
        return ShellCommand("quit", how, at=(("name", _col(items[0])),))

    def show(self, items: list[Token]) -> ShellCommand:
        what = " ".join(_name(item) for item in items[1:]) or "patch"
        return ShellCommand("show", what, at=(("name", _col(items[0])),))

    def what(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("what", _name(items[1]), at=(("name", _col(items[0])),))

    def focus(self, items: list[Token]) -> ShellCommand:
        return ShellCommand("focus", _name(items[1]), at=(("module", _col(items[1])),))

    def __default__(self, data: Any, children: list[Any], meta: Any) -> Any:
        # Inlined rules with one child (?command) never get here; anything else is a bug.
        return Tree(data, children, meta)


class _Options:
    """The options after `play …` in any order: on <module>, every, for, velocity, now."""

    def __init__(self, items: list[Any]) -> None:
        self.module: Token | None = None
        self.every: _Every | None = None
        self.duration: _Timed | None = None
        self.velocity: _Velocity | None = None
        self.now = False
        for item in items:
            if isinstance(item, Token) and item.type == "NAME":
                self._once("on", self.module, _col(item))
                self.module = item
            elif isinstance(item, Token) and item.type == "NOW":
                self.now = True
            elif isinstance(item, _Every):
                self._once("every", self.every, item.column)
                self.every = item
            elif isinstance(item, _Timed):
                self._once("for", self.duration, item.column)
                self.duration = item
            elif isinstance(item, _Velocity):
                self._once("velocity", self.velocity, item.column)
                self.velocity = item

    @staticmethod
    def _once(word: str, seen: object, column: int) -> None:
        if seen is not None:
            raise ChronusSyntaxError(f'"{word}" is given twice', column=column)

    @property
    def module_name(self) -> str | None:
        return None if self.module is None else _name(self.module)

    @property
    def module_column(self) -> int | None:
        return None if self.module is None else _col(self.module)

    def play(self, note: _Note) -> PlayNote:
        if self.every is not None:
            raise ChronusSyntaxError(
                "a note played with every is a pattern: give it as notes",
                column=self.every.column,
            )
        return PlayNote(
            self.module_name,
            note.midi,
            100.0 if self.velocity is None else self.velocity.value,
            None if self.duration is None else self.duration.duration,
            at=_at(
                note=note.column,
                module=self.module_column,
                duration=None if self.duration is None else self.duration.column,
            ),
        )


def _type_word(token: Token) -> str:
    """The module type a module word names (`echo` → delay, `hi-hat` → hat), else the word."""
    return module_type(token) or _name(token)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return str(text)
