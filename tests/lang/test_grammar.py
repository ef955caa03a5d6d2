"""Grammar → intents: every skeleton form and its variants, before any context is involved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chronus.lang.intents import (
    AddModule,
    Duration,
    Panic,
    PlayNote,
    RawOsc,
    SetParam,
    SetTempo,
    ShellCommand,
    Stop,
    Wait,
)
from chronus.lang.parser import grammar_dir, keywords, note_to_midi, parse

CASES = [
    # tempo
    ("tempo 128", [SetTempo(128.0)]),
    ("set tempo to 128", [SetTempo(128.0)]),
    ("tempo 128 bpm", [SetTempo(128.0)]),
    ("Set the Tempo to 97.5 BPM please", [SetTempo(97.5)]),
    # modules
    ("add saw bass", [AddModule("saw", "bass")]),
    ("add a saw called bass", [AddModule("saw", "bass")]),
    ("add a saw bass", [AddModule("saw", "bass")]),
    ("add an square named lead", [AddModule("square", "lead")]),
    ("add kick", [AddModule("kick", None)]),
    ("add a sine called pad", [AddModule("sine", "pad")]),
    ("create a sine pad", [AddModule("sine", "pad")]),
    ("ADD A SAW CALLED Bass", [AddModule("saw", "bass")]),
    # parameters
    ("set bass cutoff 800", [SetParam("bass", "cutoff", 800.0)]),
    ("set bass cutoff to 800 hz", [SetParam("bass", "cutoff", 800.0, "hz")]),
    ("bass cutoff 1.2 khz", [SetParam("bass", "cutoff", 1.2, "khz")]),
    ("bass cutoff 1.2khz", [SetParam("bass", "cutoff", 1.2, "khz")]),
    ("cutoff 800", [SetParam(None, "cutoff", 800.0)]),
    ("set the cutoff to 800", [SetParam(None, "cutoff", 800.0)]),
    ("set bass attack 5 ms", [SetParam("bass", "attack", 5.0, "ms")]),
    ("release 1.5 s", [SetParam(None, "release", 1.5, "s")]),
    ("release 1.5 seconds", [SetParam(None, "release", 1.5, "s")]),
    ("volume -6 db", [SetParam(None, "volume", -6.0, "db")]),
    ("pan 50%", [SetParam(None, "pan", 50.0, "%")]),
    ("set bass frequency 440", [SetParam("bass", "frequency", 440.0)]),
    ("bass resonance .5", [SetParam("bass", "resonance", 0.5)]),
    # notes
    ("play c3 on bass", [PlayNote("bass", 48.0)]),
    ("play c3", [PlayNote(None, 48.0)]),
    ("play eb2 on bass for 0.5 s", [PlayNote("bass", 39.0, duration=Duration(0.5, "s"))]),
    ("play eb2 on the bass for 2 beats", [PlayNote("bass", 39.0, duration=Duration(2, "beats"))]),
    ("play c3 for 1 step", [PlayNote(None, 48.0, duration=Duration(1, "steps"))]),
    ("bass plays eb2", [PlayNote("bass", 39.0)]),
    ("bass plays f#3 for 250 ms", [PlayNote("bass", 54.0, duration=Duration(250, "ms"))]),
    ("play kick", [PlayNote("kick", 60.0)]),
    ("play kick for 1 bar", [PlayNote("kick", 60.0, duration=Duration(1, "bars"))]),
    ("play middle c", [PlayNote(None, 60.0)]),
    ("play Middle   C on bass", [PlayNote("bass", 60.0)]),
    ("play C#4", [PlayNote(None, 61.0)]),
    ("play bb1", [PlayNote(None, 34.0)]),
    ("play a4 on it", [PlayNote("it", 69.0)]),
    # transport
    ("stop", [Stop()]),
    ("please stop now", [Stop()]),
    ("panic", [Panic()]),
    ("PANIC", [Panic()]),
    # raw OSC
    ("/mod/bass/cutoff 800", [RawOsc("/mod/bass/cutoff", (800,))]),
    ("/note/bass 48 100 0.5", [RawOsc("/note/bass", (48, 100, 0.5))]),
    ("/patch/create bass saw", [RawOsc("/patch/create", ("bass", "saw"))]),
    ("/patch/create the a", [RawOsc("/patch/create", ("the", "a"))]),
    ('/patch/create "bass" saw', [RawOsc("/patch/create", ("bass", "saw"))]),
    ("/seq/stop", [RawOsc("/seq/stop")]),
    # several commands
    ("play c2 on bass; play kick", [PlayNote("bass", 36.0), PlayNote("kick", 60.0)]),
    ("stop;panic;", [Stop(), Panic()]),
    (";;", []),
    # waits
    ("wait 250 ms", [Wait(250.0, "ms")]),
    ("wait 1.5 s", [Wait(1.5, "s")]),
    ("wait 2 beats", [Wait(2.0, "beats")]),
    ("wait 1 bar", [Wait(1.0, "bars")]),
    ("wait 3 steps", [Wait(3.0, "steps")]),
    ("wait 1 16th", [Wait(1.0, "steps")]),
    # shell words
    ("help", [ShellCommand("help")]),
    ("help play", [ShellCommand("help", "play")]),
    ("health", [ShellCommand("health")]),
    ("status", [ShellCommand("status")]),
    ("quit", [ShellCommand("quit")]),
    ("exit", [ShellCommand("quit")]),
    ("quit --stop", [ShellCommand("quit", "stop")]),
    ("exit --leave", [ShellCommand("quit", "leave")]),
    # nothing
    ("", []),
    ("   ", []),
    ("# just a comment", []),
    ("play c3 # and a trailing comment", [PlayNote(None, 48.0)]),
]


@pytest.mark.parametrize(("line", "intents"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_parses(line: str, intents: list[object]) -> None:
    assert parse(line) == intents


def test_keywords_are_plain_names_where_no_keyword_fits() -> None:
    # After "called" only a name fits, so "stop" is a name there, not the command.
    assert parse("add saw called stop2; add saw stop") == [
        AddModule("saw", "stop2"),
        AddModule("saw", "stop"),
    ]
    # A note-shaped word is a note after "play" but a name where only a name fits.
    assert parse("add saw called c3") == [AddModule("saw", "c3")]


def test_columns_are_recorded_for_later_errors() -> None:
    (intent,) = parse("set bass cutoff to 800 hz")
    assert intent.column("module") == 5
    assert intent.column("param") == 10
    assert intent.column("value") == 20
    assert intent.column("unit") == 24
    # Columns never take part in equality.
    assert intent == SetParam("bass", "cutoff", 800.0, "hz")


@pytest.mark.parametrize(
    ("name", "midi"),
    [("c4", 60), ("C4", 60), ("eb2", 39), ("f#3", 54), ("C#4", 61), ("bb1", 34), ("c-1", 0),
     ("g9", 127), ("a4", 69), ("fs3", 54), ("b3", 59)],
)  # fmt: skip
def test_note_names(name: str, midi: int) -> None:
    assert note_to_midi(name) == midi


def test_intents_to_dict_is_json_ready() -> None:
    (intent,) = parse("play eb2 on bass for 2 beats")
    assert intent.to_dict() == {
        "kind": "play_note",
        "module": "bass",
        "note": 39.0,
        "velocity": 100.0,
        "duration": {"amount": 2.0, "unit": "beats"},
    }
    assert parse("/patch/create bass saw")[0].to_dict() == {
        "kind": "raw_osc",
        "address": "/patch/create",
        "args": ["bass", "saw"],
    }
    assert Stop().to_dict() == {"kind": "stop", "module": None}


def test_grammar_is_found_and_keywords_come_from_it() -> None:
    assert (grammar_dir() / "chronus.lark").is_file()
    assert {"add", "play", "tempo", "stop", "panic", "wait", "to", "on", "for"} <= keywords()
    assert "bass" not in keywords()


def test_a_fresh_process_loads_the_shipped_tables_and_builds_none(tmp_path: Path) -> None:
    """Loading the shipped tables takes ~10 ms, building them ~120 ms (a timed bound here
    failed under load: `benchmarks/lang_parse.py` times it): a fresh process with an empty
    cache folder must load them, never build."""
    import subprocess
    import sys

    code = (
        "import chronus.lang.parser as p\n"
        "def refuse(text): raise AssertionError('built the tables')\n"
        "p._build = refuse\n"
        "print(p.load_parser().parse('tempo 120') is not None)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr[-2000:]
