"""Completion at the prompt: what fits where the cursor is, from the grammar and the patch.

The grammar's parser reads the line up to the word being typed (`chronus.shell.scanning`)
and says which terminals could come next; each terminal becomes words: keywords as they
are, `NAME` as what a name means at that place (a module of the patch, a parameter of the
module just named with its range as meta text, a module type or a named sound after `add`,
a snapshot after `snapshot load`, a plugin after `unload`), `NOTE`/`PATTERN` as note names,
`PATH` and `MODULE_FILE` as files. Nothing asks the engine: the patch is the shell's mirror
(the interpreter's context), and what is built from it is rebuilt only when it changes.

>>> from chronus.lang.context import Context
>>> context = Context(modules={"bass": "saw"}, params={"bass": {"cutoff": 800.0}})
>>> completer = CommandCompleter(lambda: context)
>>> [(s.text, s.meta) for s in completer.suggest("set bass cuto")]
[('cutoff', '20–20000 hz · now 800')]
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from lark import Token
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, MODULATOR_TYPES, SYNTH_TYPES
from chronus.lang.context import Context
from chronus.lang.modules import (
    PluginsKey,
    find_param,
    module_types,
    param_specs,
    plugin_types,
    plugins_key,
)
from chronus.lang.music import note_name, note_to_midi
from chronus.lang.native import native_plugins
from chronus.lang.parser import GRAMMAR_FILE, grammar_dir, load_parser
from chronus.lang.sounds import SOUNDS
from chronus.lang.vocabulary import grammar_phrases
from chronus.protocol import PARAM_ALIASES
from chronus.shell.help import TOPICS
from chronus.shell.scanning import Scan, scan

__all__ = ["CommandCompleter", "Suggestion"]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One completion: `text` replaces the last `replaces` characters before the cursor."""

    text: str
    meta: str = ""
    replaces: int = 0


Candidates = list[tuple[str, str]]
"""(text, meta) pairs, in the order they are offered."""

_WORD = re.compile(r'[^\s;,:"]*$')
"""The word being typed: what the completion replaces (a path keeps its / and .)."""

OPENERS: dict[str, str] = {
    "add": "add a saw called bass", "set": "set bass cutoff to 800 hz",
    "play": "play c3 on bass", "make": "make it darker", "connect": "connect bass to f1",
    "disconnect": "disconnect bass from f1", "remove": "remove f1", "delete": "delete f1",
    "tempo": "tempo 128", "pattern": "pattern kick x . x .", "lane": "lane bass cutoff 400 800",
    "start": "start bass", "stop": "stop bass", "clear": "clear bass",
    "lfo": "lfo on bass cutoff at 1/8", "wobble": "wobble the bass", "vibrato": "vibrato on lead",
    "transpose": "transpose bass +5", "undo": "undo 2", "redo": "redo",
    "snapshot": "snapshot save intro", "snapshots": "list the snapshots",
    "save": "save snapshot intro", "load": "load snapshot intro", "record": "record 8 bars",
    "replay": "replay song.chr", "key": "key c minor", "wait": "wait 2 beats",
    "unload": "unload fold", "reload": "reload fold", "modules": "the plugins loaded",
    "watch": "watch fold", "unwatch": "unwatch fold", "help": "help patterns",
    "health": "the engine's health", "status": "the engine's status", "quit": "leave",
    "exit": "leave", "show": "show patch", "what": "what is bass",
    "focus": "focus bass", "panic": "silence at once",
    "mute": "mute bass", "solo": "solo lead", "create": "create a sine pad",
    "speed": "speed 128", "pan": "pan left", "twice": "twice as fast", "double": "double time",
    "half": "half time", "go": "go to 124 bpm", "list": "list snapshots",
}  # fmt: skip
"""Meta text of the words that open a command: an example of each."""

_WORDS: dict[str, tuple[str, ...]] = {
    "DIRECTION": ("up", "down"),
    "AMOUNT": ("more", "less", "longer", "shorter", "higher", "lower"),
    "TRIPLET": ("triplets",), "MIDDLE_C": ("middle c",), "_THROUGH": ("through",),
    "_LINK": ("then", "through", "into"), "_SEP": (),
    "DIVISION": ("16th", "8th", "32nd", "quarter", "1/16", "1/8", "1/4"),
    "UNIT": ("hz", "khz", "ms", "s", "db", "%", "beats", "bars", "steps"),
}  # fmt: skip
"""The words of regex terminals the vocabulary has no table for (those are `_slot_words`)."""

_FILE_TERMINALS = frozenset({"PATH", "MODULE_FILE"})
_NOTE_TERMINALS = frozenset({"NOTE", "PATTERN"})
_MAKERS = frozenset({"_ADD", "_CREATE", "_MAKING"})
_LINKS = frozenset({"_THROUGH", "_INTO", "_LINK"})
_PLUGIN_VERBS = frozenset({"_UNLOAD", "_RELOAD", "WATCH", "UNWATCH", "MODULES"})
_NEW_NAME = frozenset({"_CALLED", "_NAMED", "_AS"})
_MODULE_PAIRS = frozenset({"_CONNECT", "_DISCONNECT", "_REMOVE", "_DELETE"})
_SNAPSHOT_VERBS = re.compile(
    r"(?:^|;)\s*(?:snapshot\s+(?:load|delete|diff)|load\s+snapshot)\s+(?:[\w-]+\s+)?$",
    re.IGNORECASE,
)
"""Where a snapshot's name goes, read from the text (so `snapshot diff A B` is known even to a
grammar without it)."""
_PITCHES = ("c", "c#", "db", "d", "d#", "eb", "e", "f", "f#", "gb", "g", "g#", "ab", "a",
            "a#", "bb", "b")  # fmt: skip
_MAX_PHRASE_WORDS = 3
_UNITS = {"hz": ("hz", "khz"), "s": ("ms", "s", "beats", "bars", "steps"), "db": ("db",),
          "": ("%",)}  # fmt: skip
"""A parameter's unit → the unit words a value of it may be given in."""


class CommandCompleter(Completer):
    """prompt_toolkit completer of the command language against the live patch.

    `context` gives the interpreter's context (the shell keeps it in step with the engine);
    `snapshots` the names of the saved snapshots (read only where a snapshot's name goes).
    """

    def __init__(
        self,
        context: Callable[[], Context],
        snapshots: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.context = context
        self.snapshots = snapshots
        self._patch: dict[str, str] | None = None
        self._modules: Candidates = []
        self._plugins: PluginsKey | None = None
        self._params: dict[str, Candidates] = {}
        self._paths = PathCompleter(expanduser=True)
        self._modules_files = PathCompleter(
            expanduser=True, file_filter=lambda name: name.endswith(".py") or os.path.isdir(name)
        )

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        """The completions at the cursor, each with its meta text."""
        for suggestion in self.suggest(document.text_before_cursor):
            yield Completion(
                suggestion.text, -suggestion.replaces, display_meta=suggestion.meta or None
            )

    def suggest(self, before: str) -> list[Suggestion]:
        """What could replace the word before the cursor, `before` being the text up to it."""
        word = _WORD.search(before)
        typed = word.group() if word else ""
        head = before[: len(before) - len(typed)]
        if _SNAPSHOT_VERBS.search(head):
            return _matching(typed, [(name, "snapshot") for name in self.snapshots()])
        read = scan(head, expect=True)
        if read.error is None:
            found = self._matching_at(read, head, typed)
            if found:
                return found
        return self._phrase(head, typed)

    def _matching_at(self, read: Scan, head: str, typed: str) -> list[Suggestion]:
        files = _FILE_TERMINALS & read.accepts
        suggestions = self._files(typed, "MODULE_FILE" in files) if files else []
        if "/" in typed:
            return suggestions
        return suggestions + _matching(typed, self._candidates(read, head, typed))

    def _phrase(self, head: str, typed: str) -> list[Suggestion]:
        """A phrase of several words being typed (`four on th`): read the line without
        them, and offer the phrases they begin."""
        words = head.split()
        for count in range(1, min(_MAX_PHRASE_WORDS, len(words)) + 1):
            start = _start_of_last_words(head, count)
            begun = head[start:] + typed
            read = scan(head[:start], expect=True)
            if read.error is not None:
                continue
            phrases = [c for c in self._candidates(read, head[:start], begun) if " " in c[0]]
            found = _matching(begun, phrases)
            if found:
                return found
        return []

    def _files(self, typed: str, modules: bool) -> list[Suggestion]:
        """Files and folders that begin with what was typed (hidden ones once a dot is)."""
        completer = self._modules_files if modules else self._paths
        document = Document(typed, len(typed))
        hidden = typed.rsplit("/", 1)[-1].startswith(".")
        out = []
        for completion in completer.get_completions(document, CompleteEvent()):
            text = typed[: len(typed) + completion.start_position] + completion.text
            if text.rsplit("/", 1)[-1].startswith(".") and not hidden:
                continue
            folder = os.path.isdir(os.path.expanduser(text))
            out.append(Suggestion(text, "folder" if folder else "file", len(typed)))
        return out

    # ---- what the grammar's terminals mean here ----------------------------------------------
    def _candidates(self, read: Scan, head: str, typed: str) -> Candidates:
        """What fits after `head`: names first (keywords first where a command opens)."""
        command = read.command()
        accepts = read.accepts
        words = sorted({word for terminal in accepts for word in _terminal_words(terminal)})
        names = self._names(command) if "NAME" in accepts else []
        if (accepts & _NOTE_TERMINALS or _in_pattern(command, head)) and self._pitched(command):
            notes = _notes(self.context(), every=bool(typed))
            leading = command[-1].type in ("_PLAY", "_COLON", "PATTERN")
            names = notes + names if leading else names + notes
        if "PITCH" in accepts:
            names += [(pitch, "pitch") for pitch in _PITCHES]
        if not command:
            openers = [(word, OPENERS[word]) for word in words if word in OPENERS]
            return openers + names + [(word, "") for word in words if word not in OPENERS]
        if "UNIT" in accepts:
            words = _units_first(words, self._unit_of(command))
        return names + [(word, "") for word in words]

    def _names(self, command: Sequence[Token]) -> Candidates:
        """What a NAME is at the end of `command`."""
        kinds = [token.type for token in command]
        first = kinds[0] if kinds else ""
        last = kinds[-1] if kinds else ""
        if last in _NEW_NAME:
            return []
        if first == "_SNAPSHOT" or kinds[:2] == ["_LOAD", "_SNAPSHOT"] or kinds == ["_LOAD"]:
            if "_SAVE" in kinds:
                return []
            snapshots = [(name, "snapshot") for name in self.snapshots()]
            if kinds != ["_LOAD"]:
                return snapshots
            return [*snapshots, ("module", "a plugin"), ("plugin", "a LADSPA plugin")]
        if kinds == ["_LOAD", "_PLUGIN"]:
            return [(p.name, f"LADSPA: {p.title}") for _, p in sorted(native_plugins().items())]
        if kinds[:2] == ["_LOAD", "_MODULE"] or first in _PLUGIN_VERBS:
            return _plugins()
        if first == "HELP":
            return [(topic, "help topic") for topic in sorted(TOPICS)] + _types() + _sounds()
        if first == "SHOW":
            return [("patch", "the whole patch"), ("patterns", "the tracks"), *self.modules()]
        if first in _MAKERS and not (set(kinds) & _LINKS) and last != "_AFTER":
            return _types() + _sounds()
        if last in _LINKS:
            return _types(processors=True) + self.modules()
        if last == "NAME" and first not in _MAKERS | _MODULE_PAIRS:
            context = self.context()
            named = context.resolve(str(command[-1]))
            kind = context.type_of(named) if named else None
            if kind is not None:
                return self.params(kind, context.params.get(named or "", {}))
        if kinds in ([], ["_SET"]) or last == "AMOUNT":
            focus = self._focus_params()
            return focus if last == "AMOUNT" else self.modules() + focus
        return self.modules()

    def _pitched(self, command: Sequence[Token]) -> bool:
        """Whether notes fit: not in the pattern of a drum (`kick x . x .`)."""
        if not command:
            return False
        context = self.context()
        named = next((str(token) for token in command if token.type == "NAME"), None)
        return named is None or context.type_of(named) not in DRUM_TYPES

    def _focus_params(self) -> Candidates:
        """The parameters of the module in focus (what `cutoff 800` sets)."""
        context = self.context()
        focus = context.focus
        kind = context.type_of(focus) if focus else None
        return self.params(kind, context.params.get(focus or "", {})) if kind else []

    def _unit_of(self, command: Sequence[Token]) -> str | None:
        """The unit of the parameter a number is being given to (`bass cutoff 800 `)."""
        if len(command) < 2 or command[-1].type != "NUMBER" or command[-2].type != "NAME":
            return None
        context = self.context()
        module = str(command[-3]) if len(command) > 2 and command[-3].type == "NAME" else None
        named = context.resolve(module)
        kind = context.type_of(named) if named else None
        param = str(command[-2])
        spec = find_param(kind, PARAM_ALIASES.get(param, param)) if kind else None
        return spec.unit if spec is not None else None

    def modules(self) -> Candidates:
        """The patch's modules, each with its type: rebuilt only when the patch changed."""
        context = self.context()
        if self._patch != context.modules:
            self._patch = dict(context.modules)
            self._modules = [(name, kind) for name, kind in sorted(context.modules.items())]
        return self._modules

    def params(self, kind: str, values: dict[str, float]) -> Candidates:
        """The parameters of a module type with their ranges, and the values they have now."""
        key = plugins_key()
        if key != self._plugins:
            self._plugins, self._params = key, {}
        if kind not in self._params:
            self._params[kind] = _param_candidates(kind)
        return [
            (name, f"{meta} · now {values[name]:g}" if name in values else meta)
            for name, meta in self._params[kind]
        ]


def _units_first(words: list[str], unit: str | None) -> list[str]:
    """The unit words, those that suit a parameter's `unit` first (khz for hz)."""
    fitting = _UNITS.get(unit or "", ()) if unit is not None else ()
    return [w for w in fitting if w in words] + [w for w in words if w not in fitting]


def _param_candidates(kind: str) -> Candidates:
    specs = param_specs(kind)
    out = [(spec.name, spec.range_text) for spec in specs]
    names = {spec.name for spec in specs}
    out.extend((alias, f"= {target}") for alias, target in PARAM_ALIASES.items() if target in names)
    return out


def _matching(typed: str, candidates: Iterable[tuple[str, str]]) -> list[Suggestion]:
    """The candidates that begin with what was typed (any case), each once."""
    low = typed.lower()
    seen: set[str] = set()
    out = []
    for text, meta in candidates:
        if text.lower().startswith(low) and text not in seen:
            seen.add(text)
            out.append(Suggestion(text, meta, len(typed)))
    return out


def _start_of_last_words(text: str, count: int) -> int:
    matches = list(re.finditer(r"\S+", text))
    return matches[-count].start()


def _in_pattern(command: Sequence[Token], head: str) -> bool:
    """Whether the cursor is after a pattern's notes, where another note may follow."""
    if not command or command[-1].type != "PATTERN" or not head[-1:].isspace():
        return False
    return isinstance(command[-1].end_pos, int) and command[-1].end_pos >= len(head.rstrip())


@cache
def _terminal_words(terminal: str) -> tuple[str, ...]:
    """The words a terminal of the grammar matches: a keyword, or the words of its table."""
    table = _WORDS.get(terminal, _slot_words().get(terminal))
    if table is not None:
        return tuple(sorted({w.lower() for w in table}, key=_phrase_order))
    if terminal in ("NAME", "NUMBER", "$END") or terminal in _FILE_TERMINALS:
        return ()
    try:
        pattern = load_parser().get_terminal(terminal).pattern
    except KeyError:
        return ()
    if pattern.type == "str" and pattern.value.isalpha():
        return (pattern.value.lower(),)
    return ()


@cache
def _slot_words() -> dict[str, tuple[str, ...]]:
    """Terminal → its phrases, for the terminals the grammar fills from the vocabulary's
    tables (`TEMPO_CHANGE.3: /@TEMPO_CHANGES@…/`)."""
    text = (grammar_dir() / GRAMMAR_FILE).read_text(encoding="utf-8")
    phrases = grammar_phrases()
    slots = re.findall(r"^(\w+)(?:\.\d+)?:\s*/@(\w+)@", text, re.MULTILINE)
    return {terminal: phrases[slot] for terminal, slot in slots if slot in phrases}


def _phrase_order(phrase: str) -> tuple[int, str]:
    return (phrase.count(" "), phrase)


def _types(processors: bool = False) -> Candidates:
    out: Candidates = []
    for kind in module_types():
        role = _role(kind)
        if not processors or role in ("filter", "effect", "plugin"):
            out.append((kind, role))
    return out


def _role(kind: str) -> str:
    if kind in SYNTH_TYPES:
        return "synth"
    if kind in DRUM_TYPES:
        return "drum"
    if kind in FILTER_TYPES:
        return "filter"
    if kind in MODULATOR_TYPES:
        return "lfo"
    if any(plugin.name == kind for plugin in plugin_types()):
        return "plugin"
    return "effect"


def _sounds() -> Candidates:
    return [
        (word, sound.about) for sound in SOUNDS.values() for word in (sound.name, *sound.aliases)
    ]


def _plugins() -> Candidates:
    return [(plugin.name, f"plugin {plugin.state}") for plugin in plugin_types()]


def _notes(context: Context, every: bool) -> Candidates:
    """Note names of octaves 1–5 in the context's key (c major without one); with `every`,
    then the others and every other spelling and octave."""
    tonic = context.key if context.key is not None else 0
    steps = (0, 2, 3, 5, 7, 8, 10) if context.scale == "minor" else (0, 2, 4, 5, 7, 9, 11)
    in_key = {(tonic + step) % 12 for step in steps}
    notes = [note_name(midi) for midi in range(24, 84)]
    names = [n for n in notes if note_to_midi(n) % 12 in in_key]
    if every:
        names += [n for n in notes if note_to_midi(n) % 12 not in in_key]
        names += _spellings()
    return [(name, f"midi {note_to_midi(name)}") for name in names]


@cache
def _spellings() -> tuple[str, ...]:
    """Every other spelling of a note in octaves 0–8 (c#2 beside db2, octave 0 and 6–8)."""
    return tuple(f"{pitch}{octave}" for octave in range(9) for pitch in _PITCHES)
