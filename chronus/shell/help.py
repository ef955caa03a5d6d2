"""What `help` and `help <topic>` print: the language by example, and the catalogue as data."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, MODULATOR_TYPES, SYNTH_TYPES
from chronus.dsp.specs_effects import EFFECT_SPECS
from chronus.lang import vocabulary as words
from chronus.lang.modules import param_specs

__all__ = ["HELP", "TOPICS", "help_text"]

HELP = """\
Type commands, one per line (or several, split by `;`, `then` or `and`). For example:
  tempo 128 · faster · a bit slower · twice as fast · half time
  add a saw bass through an acid filter      a synth, a filter after it, to the speakers
  bass through distortion then delay         put effects after a module
  add a reverb after lead · connect bass to f1 · remove f1
  set bass cutoff to 800 hz · cutoff 1.2 khz (the module in focus) · pan 30% right
  make it darker · much brighter · more resonance · louder · wetter · longer release
  play c3 on bass · play c minor chord on pad · play a4 for 2 beats · bass plays eb2
  play c2 eb2 g2 c3 every 16th on bass · kick x . . . x . . . · hat x x x x every 8th
  swing 20% · stop bass · start · stop · mute bass · solo lead · panic
  lfo on bass cutoff at 1/8 depth 50% · wobble the bass
  up an octave · down 3 semitones · transpose bass +5
  undo · undo 3 · redo
  snapshot save intro · load snapshot intro · snapshots
  record 30 seconds to take1.wav · record 8 bars · stop recording · replay song.chr
  /mod/bass/cutoff 800                       raw OSC, validated
  help synths|drums|filters|effects|lfo|patterns|session|words · show patch · what is bass
  health · status · quit
Plain speech works too (`help words` lists the words): give me an 808 kick · four on the floor
  bring in a saw bass · bass: c2 c2 eb2 g2 · run it through some distortion · turn the hats up
  open the filter a little · take out the kick · bring the kick back · speed up a bit
  go to 124 bpm · play an f minor chord on the pad · up a fifth
A line the grammar does not take is read from the words it knows ("read as: louder on hat");
if it can be read more than one way, or has a word chronus does not know, nothing is sent and
a full command that would work is offered.
"""


def _types_table(types: tuple[str, ...] | list[str], intro: str) -> str:
    lines = [intro]
    for kind in types:
        specs = param_specs(kind)
        lines.append(f"  {kind}")
        for spec in specs:
            unit = f" {spec.unit}" if spec.unit else ""
            lines.append(
                f"    {spec.name:<11} {spec.default:g}{unit}  ({spec.range_text})  {spec.doc}"
            )
    return "\n".join(lines)


_PATTERNS = """\
Patterns loop on a module's track (one step = a 16th unless `every` says otherwise):
  kick x . . . x . . .               x hit, X accent, . or ~ rest
  play c2 eb2 g2 c3 every 16th on bass
  hat x x x x every 8th · every 8th triplet · every 1/4
  bass c2 [eb2 g2] <c3 bb2> c2:80    [a b] split a step, <a b> alternate per cycle,
                                     c2:80 velocity, x*2 repeat, x(3,8) Euclid
  swing 20% · bass gate 0.3 · lane bass cutoff 400 800 . 1600
  stop bass · start bass · clear bass · start · stop
  up an octave · transpose bass +5   (a pattern's transpose; no pattern: replays the last note)
"""

_SESSION = """\
Session:
  snapshot save intro (save snapshot as intro)   the whole patch to snapshots/intro.json
  load snapshot intro                            replace the patch with it (undo goes back)
  snapshots                                      list them
  record 30 seconds to take1.wav · record 8 bars · record · stop recording
  replay song.chr                                play a script in the background
  undo · undo 3 · redo                           lines that changed the patch
"""

_LFO = """\
Modulation (an lfo module patched to one parameter):
  lfo on bass cutoff at 1/8 depth 50%    synced: 1/8 note per cycle
  lfo on pad amp at 2 hz square          free-running; shapes: sine triangle saw square random
  wobble the bass                        an lfo at 1/8 on the first filter after it
"""


def _words() -> str:
    def listed(table: Iterable[str]) -> str:
        return ", ".join(table)

    def mapped(table: dict[str, str]) -> str:
        groups: dict[str, list[str]] = {}
        for word, meaning in table.items():
            groups.setdefault(meaning, []).append(word)
        return "; ".join(f"{', '.join(ws)} → {meaning}" for meaning, ws in groups.items())

    directions = {p: f"{way} ({kind})" for p, (way, kind) in words.DIRECTIONS.items()}
    mix = {p: ("un" if value == 0 else "") + param for p, (param, value) in words.MIX_WORDS.items()}
    intervals = {w: f"{n} st" for w, n in words.INTERVALS.items()}
    lines = [
        "making: " + listed(words.MAKING_VERBS) + "; bring in (adds a type, or unmutes a module)",
        "module words: " + mapped(words.MODULE_WORDS),
        "how much: " + mapped(words.DEGREES),
        "directions: " + mapped(directions),
        "mute words: " + mapped(mix) + "; everything: " + listed(words.EVERYTHING),
        "tempo: " + listed(words.TEMPO_WORDS) + ", N bpm, go to N; " + mapped(words.TEMPO_CHANGES),
        "intervals: " + mapped(intervals),
        "chords: " + mapped(words.CHORD_QUALITIES),
        "rhythms: " + listed(words.RHYTHMS) + "; bass: c2 c2 eb2 g2 (a pattern)",
        "route: " + listed(words.ROUTE_VERBS) + " … through …",
    ]
    intro = "The words chronus understands besides its commands (chronus/lang/vocabulary.py):"
    wrapped = (textwrap.fill(line, width=96, subsequent_indent="    ") for line in lines)
    return "\n".join([intro, *wrapped])


def help_text(topic: str | None) -> str:
    """The text for `help` or `help <topic>`; unknown topics list the known ones."""
    if topic is None:
        return HELP
    key = topic.rstrip("s") if topic.rstrip("s") in TOPICS else topic
    if key in TOPICS:
        return TOPICS[key]()
    if topic in tuple(SYNTH_TYPES) + DRUM_TYPES + FILTER_TYPES + tuple(EFFECT_SPECS):
        return _types_table([topic], f"{topic}:")
    return f'no help on "{topic}"; topics: ' + " ".join(sorted(TOPICS))


TOPICS = {
    "synth": lambda: _types_table(SYNTH_TYPES[:1], "Synths (" + " ".join(SYNTH_TYPES)
                                  + ") share these parameters:"),
    "drum": lambda: _types_table(DRUM_TYPES, "Drums:"),
    "filter": lambda: _types_table(FILTER_TYPES, "Filters (darker/brighter move their cutoff):"),
    "effect": lambda: _types_table(list(EFFECT_SPECS), "Effects (wetter/drier move mix):"),
    "lfo": lambda: _LFO + "\n" + _types_table(MODULATOR_TYPES, "Parameters:"),
    "pattern": lambda: _PATTERNS,
    "session": lambda: _SESSION,
    "word": _words,
}  # fmt: skip
"""`help <topic>`: a plural works too (`help filters`)."""
