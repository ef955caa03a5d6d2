"""The interpreter: JSON form, all-or-nothing lines, and never raising on any input."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter


def snapshot(context: Context) -> tuple[object, ...]:
    return (context.to_dump(), context.focus)


def test_json_shape() -> None:
    data = Interpreter().interpret("add a saw called bass; play c3").to_json_dict()
    assert set(data) == {"input", "ok", "intents", "osc", "error", "notes"}
    assert data["notes"] == ["bass plays c3"]
    assert data["input"] == "add a saw called bass; play c3"
    assert data["ok"] is True and data["error"] is None
    assert data["intents"] == [
        {
            "kind": "add_module",
            "type": "saw",
            "name": "bass",
            "through": [],
            "after": None,
            "size": None,
        },
        {"kind": "play_note", "module": None, "note": 48.0, "velocity": 100.0, "duration": None},
    ]
    assert data["osc"] == [
        ["/patch/create", "bass", "saw"],
        ["/patch/connect", "bass", "master"],
        ["/note/bass", 48.0, 100.0],
    ]
    json.dumps(data)


def test_empty_lines_and_comments_are_ok_and_empty() -> None:
    interpreter = Interpreter()
    for line in ["", "   ", "\t", "# a comment", "   # indented comment", ";"]:
        result = interpreter.interpret(line)
        assert result.ok and result.intents == [] and result.messages == [], line


def test_a_failing_line_changes_nothing() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add saw bass; tempo 100").ok
    before = snapshot(interpreter.context)
    # The first parts would succeed; the last one fails, so none of them counts.
    for line in [
        "add kick; tempo 90; bass cutoff 500; play kick; add sine pad; cutof 3",
        "add kick; add sine pad; play c3 on lead",
        "/patch/create pad sine; tempo 90; play a9",
        "add kick; tempo 90; plya c3",
    ]:
        result = interpreter.interpret(line)
        assert not result.ok and result.messages == []
        assert snapshot(interpreter.context) == before, line
    # And the next good line sees the old state: "kick" is still a free id.
    result = interpreter.interpret("add kick")
    assert result.messages[0].to_list() == ["/patch/create", "kick", "kick"]


def test_only_a_successful_line_updates_the_context() -> None:
    interpreter = Interpreter()
    context = interpreter.context
    assert interpreter.interpret("add saw bass; tempo 140; cutoff 640; add kick").ok
    # Updated in place, so a shell holding the context sees the change.
    assert interpreter.context is context
    assert context.modules == {"bass": "saw", "kick": "kick"}
    assert context.tempo == 140.0
    assert context.params["bass"]["cutoff"] == 640.0
    assert context.focus == "kick"
    assert context.connections == [("bass", "master"), ("kick", "master")]


junk = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    st.lists(
        st.sampled_from(
            ["play", "add", "saw", "bass", "c3", "eb2", "on", "for", "2", "beats", "set",
             "cutoff", "to", "800", "hz", "khz", "ms", ";", "/mod/bass/cutoff", "wait", "tempo",
             "it", "the", "a", "#", "%", "-", "1e999", "middle c", "plays", "called", "\"x\"",
             "kick", "help", "stop", "panic", "9" * 30, "c99", "b#9", "/note/bass"]
        ),
        max_size=12,
    ).map(" ".join),
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk)
def test_any_text_never_raises(text: str) -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add saw bass; add kick").ok
    before = snapshot(interpreter.context)
    result = interpreter.interpret(text)
    assert result.ok or result.error is not None
    if result.error is not None:
        assert not result.error.message.startswith("internal error"), result.error.render()
        assert 1 <= result.error.column
        assert snapshot(interpreter.context) == before
        result.error.render()
    json.dumps(result.to_json_dict())


def _stretch(piece: str) -> str:
    return (piece * (10_000 // len(piece) + 1))[:10_000]


# Hypothesis cannot draw 10 000 characters at once; a drawn piece repeated to that length
# still exercises the lexer and the error path on long lines.
long_junk = st.one_of(
    st.text(min_size=1, max_size=300),
    st.binary(min_size=1, max_size=300).map(lambda b: b.decode("latin-1")),
    junk.filter(bool),
).map(_stretch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_junk)
def test_long_lines_never_raise(text: str) -> None:
    assert len(text) == 10_000
    result = Interpreter().interpret(text)
    assert result.ok or (result.error is not None and "internal error" not in result.error.message)


def test_pathological_inputs() -> None:
    interpreter = Interpreter()
    for text in [
        "\x00", "\n", "play c3\nplay c4", "\u212a", "ſaw", "add ſaw bass", "add saw ſ",
        "play " + "9" * 10_000, "/x " + "9" * 10_000, "tempo " + "9" * 5000, "c" * 10_000,
        ";" * 10_000, "play c3 on " + "b" * 100, "add saw " + "x" * 40, "wait -1 s",
        "/patch/create BASS saw", "\ufeffplay c3",
    ]:  # fmt: skip
        result = interpreter.interpret(text)
        assert result.ok or result.error is not None
        assert result.error is None or "internal error" not in result.error.message, text[:40]
