"""Script loading: comments, waits in every unit, tempo changes, exact times, error lines."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from chronus.lang.context import Context
from chronus.session.script import ScriptError, load_script, load_script_file, sample_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def timeline(text: str) -> list[tuple[Fraction, str, int]]:
    return [(t.time, t.message.address, t.line) for t in load_script(text).messages]


def test_comments_and_blank_lines_are_ignored() -> None:
    script = load_script(
        "# a header\n\n   \nadd kick   # trailing comment\n  # indented\nplay kick\n"
    )
    assert [t.message.address for t in script.messages] == [
        "/patch/create",
        "/patch/connect",
        "/note/kick",
    ]
    assert [t.line for t in script.messages] == [4, 4, 6]
    assert script.duration == 0


@pytest.mark.parametrize(
    ("wait", "seconds"),
    [
        ("wait 250 ms", Fraction(1, 4)),
        ("wait 0.1 s", Fraction(1, 10)),
        ("wait 1.5 seconds", Fraction(3, 2)),
        ("wait 1 beat", Fraction(1, 2)),
        ("wait 3 beats", Fraction(3, 2)),
        ("wait 1 bar", Fraction(2)),
        ("wait 3 steps", Fraction(3, 8)),
    ],
)
def test_waits_in_every_unit_at_120_bpm(wait: str, seconds: Fraction) -> None:
    script = load_script(f"add kick\n{wait}\nplay kick\n{wait}")
    assert script.messages[-1].time == seconds
    assert script.duration == 2 * seconds


def test_tempo_changes_affect_later_waits_only() -> None:
    text = "\n".join(
        [
            "add kick",
            "play kick",  # 0
            "wait 1 beat",  # at 120: 1/2 s
            "tempo 90",
            "play kick",  # 1/2
            "wait 1 beat",  # at 90: 2/3 s
            "play kick",  # 7/6
            "tempo 140; wait 1 step; play kick",  # at 140: 3/28 s → 7/6 + 3/28
            "wait 1 bar",  # at 140: 12/7 s
        ]
    )
    notes = [t.time for t in load_script(text).messages if t.message.address == "/note/kick"]
    assert notes == [0, Fraction(1, 2), Fraction(7, 6), Fraction(7, 6) + Fraction(3, 28)]
    assert load_script(text).duration == Fraction(7, 6) + Fraction(3, 28) + Fraction(12, 7)
    # Durations of notes follow the tempo too.
    tail = load_script("add saw bass\ntempo 90\nplay c3 for 3 beats").messages[-1]
    assert tail.message.args[-1] == 2.0


def test_times_are_exact_fractions() -> None:
    script = load_script("add kick\n" + "wait 0.1 s\nplay kick\n" * 30)
    times = [t.time for t in script.messages if t.message.address == "/note/kick"]
    assert times[-1] == 3  # 30 × 1/10, no float drift
    assert all(isinstance(t, Fraction) for t in times)


def test_several_commands_and_waits_on_one_line() -> None:
    assert timeline("add kick\nplay kick; wait 1 beat; play kick; wait 250 ms; stop") == [
        (Fraction(0), "/patch/create", 1),
        (Fraction(0), "/patch/connect", 1),
        (Fraction(0), "/note/kick", 2),
        (Fraction(1, 2), "/note/kick", 2),
        (Fraction(3, 4), "/seq/stop", 2),
    ]


def test_first_bad_line_is_reported_with_source_and_line() -> None:
    text = "tempo 120\nadd a saw called bass\nplya c3 on bass\nplay c99\n"
    with pytest.raises(ScriptError) as info:
        load_script(text, source="bad.chr")
    err = info.value
    assert err.line == 3 and err.source == "bad.chr"
    assert str(err).startswith('bad.chr:3: unknown command "plya"')
    assert "plya c3 on bass\n^" in str(err)
    assert err.error is not None and err.error.hint == 'did you mean "play"?'


def test_mapping_errors_carry_line_numbers_too() -> None:
    with pytest.raises(ScriptError) as info:
        load_script("add saw bass\n\n# x\nset bass cutof 800")
    assert info.value.line == 4
    assert "did you mean: set bass cutoff to 800?" in str(info.value)


@pytest.mark.parametrize("word", ["help", "health", "status", "quit", "exit"])
def test_shell_words_are_refused_in_scripts(word: str) -> None:
    with pytest.raises(ScriptError) as info:
        load_script(f"add kick\nplay kick; {word}")
    assert info.value.line == 2
    assert info.value.error is not None and info.value.error.column == 12
    assert "shell command" in str(info.value)


def test_windows_line_endings_and_starting_context() -> None:
    context = Context.from_dump({"modules": {"bass": {"type": "saw"}}})
    script = load_script("play c3 on bass\r\nwait 1 s\r\n", context=context)
    assert script.messages[0].message.to_list() == ["/note/bass", 48.0, 100.0]
    assert script.duration == 1
    assert context.focus is None  # the caller's context is not modified
    assert script.context.focus == "bass"


def test_load_script_file(tmp_path: Path) -> None:
    path = tmp_path / "short.chr"
    path.write_text("add a saw called bass\nplay c3 on bass for 0.2 s\nwait 0.5 s\n")
    script = load_script_file(path)
    assert script.duration == Fraction(1, 2) and script.source == str(path)
    path.write_text("add saw bass\nwait\n")
    with pytest.raises(ScriptError, match=r"short\.chr:2: "):
        load_script_file(path)


@pytest.mark.parametrize("name", ["hello.chr", "acid_groove.chr"])
def test_examples_load(name: str) -> None:
    if not (EXAMPLES / name).is_file():
        pytest.skip(f"{name} not in examples/")
    script = load_script_file(EXAMPLES / name)
    assert script.messages and script.duration > 0
    times = [t.time for t in script.messages]
    assert times == sorted(times)


def test_sample_of_rounds_half_up_exactly() -> None:
    assert sample_of(Fraction(0), 48000) == 0
    assert sample_of(Fraction(1, 3), 48000) == 16000
    assert sample_of(Fraction(1, 96000), 48000) == 1  # exactly half a sample → up
    assert sample_of(Fraction(1, 96001), 48000) == 0
    assert sample_of(Fraction(3, 28), 44100) == 4725
    assert sample_of(Fraction(1, 10), 44100) == 4410


@pytest.mark.parametrize(
    "line", ["snapshot save intro", "record 8 bars", "stop recording", "replay song.chr"]
)
def test_session_commands_are_refused_in_a_script(line: str) -> None:
    with pytest.raises(ScriptError, match="is a shell command; a script cannot use it"):
        load_script(f"add saw bass\n{line}\n")


@pytest.mark.parametrize(
    "line",
    [
        '/plugins/load "/tmp/fold.py"',
        '/plugins/reload "fold"',
        '/plugins/use "fold" "0123456789ab" "/tmp/fold.py"',
    ],
)
def test_a_script_never_loads_code(line: str) -> None:
    with pytest.raises(ScriptError, match="loads code: a script never does") as refused:
        load_script(f"add saw bass\n{line}\n")
    assert refused.value.line == 2
