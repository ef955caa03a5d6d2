"""Example lines for `help <topic>`, each taken from the language's test corpus.

Every line here is a line of `tests/lang/corpus.txt` that must parse and send what the corpus
says (tests/shell/test_help_examples.py checks that each one is there), so `help` never shows
a line that does not work. Some need a module of the name they use (`bass`, `lead`, `f1`).
"""

from __future__ import annotations

__all__ = ["EXAMPLES", "TOPIC_ABOUT", "example_lines", "examples_text"]

EXAMPLES: dict[str, tuple[str, ...]] = {
    "tempo": (
        "tempo 128", "set tempo to 128 bpm", "tempo 128 now", "faster", "a bit slower",
        "twice as fast", "half time", "go to 124 bpm", "speed up a bit", "link on",
        "link quantum 8", "link sync on", "link off",
    ),
    "pattern": (
        "kick x . . . x . . .", "hat x x x x every 8th", "pattern snare . . x .",
        "play c2 eb2 g2 c3 every 16th on bass", "bass c2 [eb2 g2] <c3 bb2> c2:80",
        "kick X . x(3,8) .", "play c2 eb2 g2 c3 every 8th triplet on bass",
        "the kick x ~ x ~ now", "swing 20%", "bass gate 0.3", "lane bass cutoff 400 800 . 1600",
        "stop bass", "start bass", "clear bass", "four on the floor", "hats on the off-beats",
    ),
    "filter": (
        "add a saw bass through an acid filter", "make it darker", "much brighter",
        "more resonance", "more squelch", "resonance 0.8 on f1", "cutoff 500 on f1",
        "set bass cutoff to 800 hz", "bass cutoff 1.2 khz", "env_amount 50%", "accent 0.7",
        "open the filter a little",
    ),
    "synth": (
        "add a saw bass", "add a square lead called lead", "create a sine pad", "attack 5 ms",
        "release 1.5 s", "sustain 50%", "glide 1 beat", "volume -6 db", "pan 30% right",
        "longer release",
    ),
    "drum": (
        "add kick", "add snare and add hat", "give me an 808 kick", "kick tune -5",
        "kick decay 300 ms", "kick x . . . x . . .", "hat x x x x every 8th",
    ),
    "effect": (
        "bass through distortion then delay", "add a reverb after lead", "room 0.8", "mix 25%",
        "wetter", "a bit drier", "time 250 ms", "feedback 60%", "echo sync 0.75",
        "set dist drive 12 db", "more drive on b", "gimme some reverb", "insert a delay",
    ),
    "lfo": (
        "lfo on bass cutoff at 1/8 depth 50%", "lfo on bass res at 2 hz",
        "lfo on bass amp at 1 beat depth 0.2 square", "wobble the bass", "vibrato on lead",
    ),
    "note": (
        "play c3 on bass", "play eb2 on bass for 2 beats", "play f#3 for 250 ms",
        "play c minor chord on pad", "play c3 maj7 chord", "play middle c",
        "play c4 velocity 60", "bass plays eb2", "up an octave", "down 3 semitones",
        "transpose bass +5", "up a fifth",
    ),
    "chain": (
        "add a saw bass through acid, distortion, reverb",
        "add sine pad through lowpass into reverb", "add a reverb after lead",
        "connect bass to f2", "disconnect bass from f2", "remove f1",
        "run it through some distortion",
    ),
    "mix": (
        "mute bass", "unmute bass", "solo lead", "unsolo lead", "louder", "a bit quieter",
        "take out the kick", "bring the kick back", "turn the hats up", "panic",
    ),
    "session": (
        "snapshot save intro", "load snapshot intro", "snapshots", "record 30 seconds to take1.wav",
        "record 8 bars", "stop recording", "replay song.chr", "undo", "undo 3", "redo",
    ),
    "sound": (
        "add a 303", "add an acid bass called b", "add a supersaw", "create a pad called keys",
        "add a pluck", "add a wobble bass", "add an 808",
    ),
    "show": ("show patch", "show", "show bass", "show patterns", "show patterns once",
             "what is acid1", "health"),
}  # fmt: skip
"""Lines by topic (a topic is named in the singular; `help patterns` finds `pattern`).
`help plugins` has none here: it lists its commands, then the plugins loaded, last."""

TOPIC_ABOUT: dict[str, str] = {
    "tempo": "how fast: bpm, faster, half time; Ableton Link with other apps",
    "pattern": "steps that loop on a track: hits, notes, alternation, lanes",
    "filter": "cutoff and resonance: darker, brighter",
    "synth": "the sound sources and their envelope",
    "drum": "kick, snare, hat",
    "effect": "distortion, delay, reverb: wetter, drier",
    "lfo": "modulation: an lfo on a parameter, wobble",
    "note": "single notes and chords, transposing",
    "chain": "what goes through what: routes, adding and removing",
    "mix": "mute, solo, louder, panic",
    "session": "sessions logged, listed, rendered and replayed; recording; undo",
    "snapshot": "saving, loading (crossfaded), diffing and listing snapshots",
    "sound": "named sounds built in one line (a 303, a pad)",
    "word": "the words understood besides the commands",
    "plugin": "your own modules, loaded from Python files",
    "show": "pictures: the patch, the patterns playing, a module's parameters",
    "key": "the keys at the prompt, panic, quitting and coming back",
}
"""`help topics`: each topic in a few words."""


def examples_text(topic: str) -> str:
    """The examples of `topic` as lines to add to its help, or "" if it has none."""
    lines = EXAMPLES.get(topic, ())
    if not lines:
        return ""
    return "\n\nExamples (each one tested):\n" + "\n".join(f"  {line}" for line in lines)


def example_lines() -> list[str]:
    """Every example line of every topic, once each."""
    return list(dict.fromkeys(line for lines in EXAMPLES.values() for line in lines))
