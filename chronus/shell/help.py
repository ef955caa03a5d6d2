"""What `help` and `help <topic>` print: the language by example, and the catalogue as data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable

from chronus.dsp.specs import DRUM_TYPES, FILTER_TYPES, MODULATOR_TYPES, SYNTH_TYPES
from chronus.dsp.specs_effects import EFFECT_SPECS
from chronus.lang import vocabulary as words
from chronus.lang.modules import find_param, param_specs, plugin_types
from chronus.lang.sounds import SOUNDS, Sound, find_sound
from chronus.shell.examples import TOPIC_ABOUT, examples_text

__all__ = ["HELP", "TOPICS", "help_text"]

HELP = """\
Type commands, one per line (or several, split by `;`, `then` or `and`). For example:
  tempo 128 · faster · a bit slower · twice as fast · half time
  link on · link quantum 8 · link off        Ableton Link: tempo and bar lines with other apps
  link sync on · link sync off               …and start/stop with them; `link`: where it stands
  add a saw bass through an acid filter      a synth, a filter after it, to the speakers
  bass through distortion then delay         put effects after a module
  add a reverb after lead · connect bass to f1 · remove f1
  add a 303 · add an acid bass called b · add a pad called keys   named sounds (help sounds)
  set bass cutoff to 800 hz · cutoff 1.2 khz (the module in focus) · pan 30% right
  make it darker · much brighter · more resonance · louder · wetter · longer release
    cutoff, resonance (q, squelch), darker, brighter reach the filter the sound goes
    through, drive the distortion (a synth's own when it goes through none); a parameter a
    module lacks, the next module that has it; each change says what it did:
    acid1 cutoff 400 → 280 Hz
  resonance 0.8 on the filter                the filter the focus goes through
  play c3 on bass · play c minor chord on pad · play a4 for 2 beats · bass plays eb2
  play c2 eb2 g2 c3 every 16th on bass · kick x . . . x . . . · hat x x x x every 8th
  swing 20% · stop bass · start · stop · stop everything · mute bass · solo lead · panic
  focus bass                                 put a module in focus
  lfo on bass cutoff at 1/8 depth 50% · wobble the bass
  up an octave · down 3 semitones · transpose bass +5
  undo · undo 3 · undo twice · undo the last 2 · redo   (each line undone is told)
  snapshot save intro · load snapshot intro · snapshot diff intro verse · snapshots
  record 30 s to take1.wav · record 8 bars · start recording · stop recording · replay song.chr
  /mod/bass/cutoff 800                       raw OSC, validated
  load module ./fold.py as fold · reload fold · unload fold · modules · watch fold  (help plugins)
  midi in (lists the sources) · midi in 1 · midi in keys to lead · midi in off
  map cc 74 to bass cutoff · learn bass cutoff (the next knob moved)   notes play the focus
  midi out (lists them) · bass plays to midi out 1 channel 2 · bass stops midi out
  midi clock out · midi clock out off   (24 per beat, Start/Stop with the transport)
  help sounds|synths|drums|filters|effects|lfo|patterns|sessions|snapshots|words · show patch
  what is bass · health · status · sessions · who (the clients) · quit (asks: leave or stop)
  quit --stop · quit --leave
Keys: Ctrl-C clears the line · Ctrl-D quits · Esc Esc or F12 panic · Up/Down history ·
  Ctrl-R search (help keys). Each change is told in one line; `chronus --quiet` for none.
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
  swing 20% · swing the hat 20% · no swing on the hat · bass gate 0.3
                                     (a track's: said of a filter, the track playing into it)
  lane bass cutoff 400 800 . 1600
  stop bass · start bass · clear bass · start · stop · restart (from the first beat)
  up an octave · transpose bass +5   (a pattern's transpose; no pattern: replays the last note)
"""

_SHOW = """\
Pictures of what plays:
  show patch (or show)        the chains, source → filters and effects → master, each module
                              with its main parameters and what its track plays
  show patterns               a step grid, one row per track and lane; while it plays the
                              playhead moves until a key is pressed (show patterns once: a frame)
  show bass                   each parameter of bass against its range, as a bar
  what is bass                its type, routes, what is set and what it plays
"""

_KEYS = """\
Keys at the prompt:
  Ctrl-C          clear the line (never quits)
  Ctrl-D          quit (on an empty line), asking as `quit` does
  Esc Esc · F12   panic: all notes off at once (the line you are typing is kept;
                  patterns play on: `stop` stops them)
  Up · Down       the lines typed before (kept in ~/.chronus_history)
  Ctrl-R          search them backwards: type a part; Enter takes the line found, Enter plays it
  Tab             complete a word
Quitting: `quit` or `exit` asks one key: l (or Enter) leaves the music playing, s stops it,
  Ctrl-C goes back. `quit --leave` and `quit --stop` do not ask. Left playing, the engine
  waits for you: the next `chronus` attaches to it and picks up its patch, patterns and tempo.
If the engine goes away or restarts, the shell says so and resyncs by itself when it is back.
Playing together: other shells on the engine (`chronus --engine HOST:PORT --name ana`) show
  up above the prompt, `[ana] bass cutoff 400 → 280 Hz`, and in completion and `what is`;
  `who` lists the clients of the engine.
"""

_SESSION = """\
Sessions: every session of an engine the shell starts is logged, each command with the sample
it played at, to ~/.local/share/chronus/sessions/<date>.log ($XDG_DATA_HOME if set; a crash
loses no line; `chronus --no-log` keeps none). Attached to a running engine, the shell says
whether and where that engine logs.
  sessions                                       the logs: date, length, size, commands
  chronus render 2026-12-05_20-14-03 -o take.wav the whole session, offline, sample for
                                                 sample as it played (commits included);
                                                 a path, a name, or `last`
  chronus run last                               replay a session in real time
  record 30 seconds to take1.wav                 the engine stops it on the exact sample
  record 8 bars                                  (beats and bars: at the tempo of the moment)
  record · stop recording                        until told
  replay song.chr · replay last                  play a script or a session in the background
  undo · undo 3 · undo twice · redo              lines that changed the patch
  help snapshots                                 saving and loading the patch
"""

_SNAPSHOTS = """\
Snapshots: the whole patch (modules, parameters, routes, patterns, tempo) in
snapshots/<name>.json, with a format version.
  snapshot save intro (save snapshot as intro)   save the patch as it plays; a name is
                                                 any word or number (snapshot save a, 2)
  load snapshot intro                            crossfade to it (50 ms, through the engine's
                                                 commit flow: built and tested in the standby
                                                 slot, no dropout); undo goes back
  snapshot diff intro verse                      what differs, in musical terms: + added,
                                                 - removed, ~ changed (parameters with units,
                                                 patterns, tempo)
  snapshot diff intro (or diff intro)            what loading intro would change now
  snapshots                                      list them
A corrupt file, another program's JSON, or a snapshot from a newer chronus is refused with
the reason, and nothing changes; so is one that needs a plugin not loaded.
"""

_LFO = """\
Modulation (an lfo module patched to one parameter):
  lfo on bass cutoff at 1/8 depth 50%    synced: 1/8 note per cycle
  lfo on pad amp at 2 hz square          free-running; shapes: sine triangle saw square random
  wobble the bass                        an lfo at 1/8 on the first filter after it
  wobble the bass at 1/16 depth 30%      said again: the lfo that drives it, retuned
  sweep the filter on the bass           an lfo over 4 bars (a filter sweep)
"""


_PLUGINS = """\
Plugins: your own modules, Python files written like the built-in ones (docs/MODULES.md).
  load module ./fold.py as fold      check it in the sandbox, then load it: `fold` is a type
  load module ./fold.py              named after the file
  load module fold                   a file from the module folders (~/.config/chronus/modules,
                                     chronus engine --modules DIR)
                                     it runs isolated: in a host process of its own (a crash
                                     costs its sound only; it plays a block late)
  load module fold inline            in the engine's slots instead: no lag, and reload works
  add a fold called f1 after bass · bass through fold · set f1 drive to 0.7 · more drive on f1
  reload fold                        (inline) check the file again, crossfade to the new
                                     version; if it fails, the old one plays on and you are told why
  unload fold                        take it out, and every module of its type
  modules                            every plugin: state, version, blocks, errors, CPU, uptime
  modules fold                       one plugin: its file, last validation, every change of state
  watch fold · unwatch fold          reload whenever the file is saved
  health                             the engine's health, plugins included
  load plugin tap_reverb             a native LADSPA plugin (`chronus plugins scan` lists them;
                                     Tab completes): checked in the sandbox like any module.
                                     It plays only in a plugin host of its own, one per maker
                                     (not in this version yet); then: add a tap reverb after bass
A plugin that raises or writes NaN is bypassed for that block; too many in a row suspend it,
a crash quarantines it. `reload` brings it back once fixed.
"""


def _plugins() -> str:
    """`help plugins`: the commands, then the plugin types the engine has loaded."""
    loaded = [plugin.name for plugin in plugin_types()]
    if not loaded:
        return _PLUGINS + "Loaded: none yet."
    return _PLUGINS + _types_table(loaded, "Loaded:")


def _sounds() -> str:
    lines = [
        "Named sounds, built by one line: add a 303 · add an acid bass called b · add a pad",
        "The first module is called by the name given (else as below) and takes the focus;",
        "the others by that name and their role: _f filter, _drive distortion, _verb reverb,",
        "_echo delay, _lfo (add a 303 called acid → acid → acid_f).",
    ]
    for sound in SOUNDS.values():
        names = " / ".join((sound.name, *sound.aliases))
        members = sound.members(sound.id)
        chain = " → ".join(f"{module_id} ({kind})" for module_id, kind in members if kind != "lfo")
        modulation = sound.modulation(sound.id)
        if modulation is not None:
            chain += "; {} → {} {}".format(*modulation)
        lines.append(f"  {names:<24}{sound.about}")
        lines.append(f"  {'':<24}{chain}")
    return "\n".join(lines)


def _recipe(sound: Sound) -> str:
    """`help pad`: what `add a pad` makes, module by module, with the values it sets."""
    rows = [(part.id_for(sound.id), part.type, part.values) for part in sound.parts]
    modulation = sound.modulation(sound.id)
    if sound.lfo is not None and modulation is not None:
        rows.append((modulation[0], "lfo", sound.lfo.values))
    lines = [f"{sound.spoken}: {sound.about}"]
    for module_id, kind, values in rows:
        shown = []
        for name, value in values:
            spec = find_param(kind, name)
            unit = f" {spec.unit}" if spec is not None and spec.unit else ""
            shown.append(f"{name} {value:g}{unit}")
        lines.append(f"  {module_id:<16} {kind:<11} " + ", ".join(shown))
    if modulation is not None:
        lines.append("  {} → {} {}".format(*modulation))
    return "\n".join(lines)


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


def _topics() -> str:
    """`help topics`: every topic, with what it covers."""
    lines = ["help <topic> for any of these (plurals, module types and named sounds work too):"]
    lines += [f"  {name:<10} {TOPIC_ABOUT.get(name, '')}" for name in sorted(TOPICS)]
    return "\n".join(lines)


def _category(kind: str) -> str | None:
    """The topic whose examples fit a module type."""
    for topic, kinds in (("synth", SYNTH_TYPES), ("drum", DRUM_TYPES),
                         ("filter", FILTER_TYPES), ("effect", tuple(EFFECT_SPECS))):  # fmt: skip
        if kind in kinds:
            return topic
    return None


def help_text(topic: str | None) -> str:
    """The text for `help` or `help <topic>`; unknown topics list the known ones."""
    if topic is None:
        return HELP + "help topics: " + " ".join(sorted(TOPICS)) + " (help topics says more)"
    if topic == "topics":
        return _topics()
    key = topic.rstrip("s") if topic.rstrip("s") in TOPICS else topic
    if key in TOPICS:
        return TOPICS[key]().rstrip("\n") + examples_text(key)
    plugins = tuple(plugin.name for plugin in plugin_types())
    if topic in tuple(SYNTH_TYPES) + DRUM_TYPES + FILTER_TYPES + tuple(EFFECT_SPECS) + plugins:
        return _types_table([topic], f"{topic}:") + examples_text(_category(topic) or "")
    found = find_sound((topic,))
    if found is not None:
        return _recipe(SOUNDS[found[0]])
    return f'no help on "{topic}"; topics: ' + " ".join(sorted(TOPICS))


TOPICS: dict[str, Callable[[], str]] = {
    "synth": lambda: _types_table(SYNTH_TYPES[:1], "Synths (" + " ".join(SYNTH_TYPES)
                                  + ") share these parameters:"),
    "drum": lambda: _types_table(DRUM_TYPES, "Drums:"),
    "filter": lambda: _types_table(FILTER_TYPES, "Filters (darker/brighter move their cutoff):"),
    "effect": lambda: _types_table(list(EFFECT_SPECS), "Effects (wetter/drier move mix):"),
    "lfo": lambda: _LFO + "\n" + _types_table(MODULATOR_TYPES, "Parameters:"),
    "sound": _sounds,
    "pattern": lambda: _PATTERNS,
    "session": lambda: _SESSION,
    "snapshot": lambda: _SNAPSHOTS,
    "word": _words,
    "plugin": _plugins,
    "tempo": lambda: "Tempo, in bpm (20–400); a change waits for the next bar unless `now`.",
    "note": lambda: "Notes and chords, on a module or the focus; transposing moves its pattern.",
    "chain": lambda: "Chains: a sound goes through filters and effects to the speakers (master).",
    "mix": lambda: "The mix: mute, solo, louder, quieter; panic silences everything at once.",
    "show": lambda: _SHOW,
    "key": lambda: _KEYS,
}  # fmt: skip
"""`help <topic>`: a plural works too (`help filters`)."""
