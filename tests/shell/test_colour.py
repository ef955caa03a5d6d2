"""Colour as typed: the lexer's (style, text) pieces for lines of the language."""

from __future__ import annotations

from prompt_toolkit.document import Document

from chronus.lang.context import Context
from chronus.shell.colour import STYLE, CommandLexer


def _styled(line: str, context: Context | None = None) -> list[tuple[str, str]]:
    lexer = CommandLexer(lambda: context or Context(modules={"bass": "saw"}, focus="bass"))
    pieces = lexer.fragments(line)
    assert "".join(text for _, text in pieces) == line  # nothing lost, nothing added
    return [(style.removeprefix("class:"), text) for style, text, *_ in pieces if text.strip()]


def test_verbs_modules_parameters_numbers_and_units() -> None:
    assert _styled("set bass cutoff 800 hz") == [
        ("verb", "set"),
        ("module", "bass"),
        ("param", "cutoff"),
        ("number", "800"),
        ("unit", "hz"),
    ]


def test_a_parameter_of_the_focus_and_pronouns() -> None:
    assert _styled("cutoff 1.2 khz; play c3 on it") == [
        ("param", "cutoff"),
        ("number", "1.2"),
        ("unit", "khz"),
        ("separator", ";"),
        ("verb", "play"),
        ("pattern", "c3"),
        ("keyword", "on"),
        ("module", "it"),
    ]


def test_patterns_notes_and_comments() -> None:
    styled = _styled("bass: c2 eb2 g2 every 16th # the riff")
    assert ("pattern", "c2 eb2 g2") in styled
    assert ("keyword", "every") in styled and ("pattern", "16th") in styled
    assert styled[-1] == ("comment", "# the riff")


def test_paths_and_raw_osc() -> None:
    assert ("path", "take.wav") in _styled("record to take.wav")
    assert _styled("/mod/bass/cutoff 300") == [("osc", "/mod/bass/cutoff"), ("number", "300")]


def test_a_name_that_is_no_module_is_not_coloured_as_one() -> None:
    styled = _styled("add a saw called lead")
    assert ("name", "lead") in styled and ("name", "saw") in styled
    assert ("module", "lead") not in styled


def test_a_short_snapshot_name_is_a_name() -> None:
    assert _styled("snapshot diff a b") == [
        ("verb", "snapshot"),
        ("keyword", "diff"),
        ("name", "a"),
        ("name", "b"),
    ]
    assert _styled("load snapshot 2")[-1] == ("name", "2")


def test_what_does_not_fit_is_an_error_but_not_the_word_being_typed() -> None:
    assert _styled("snapshot lo") == [("verb", "snapshot"), ("", " lo")]
    assert _styled("snapshot lx foo")[-1] == ("error", "lx foo")
    assert _styled("plya c3 on bass")[-1] == ("error", "on bass")


def test_lex_document_gives_each_line_and_the_style_knows_every_class() -> None:
    lexer = CommandLexer(lambda: Context(modules={"bass": "saw"}))
    line = lexer.lex_document(Document("mute bass"))
    assert [style for style, _ in line(0)] == ["class:verb", "", "class:module"]
    assert line(1) == []
    rules = dict(STYLE.style_rules)
    for name in ("verb", "module", "param", "number", "unit", "pattern", "path", "error"):
        assert name in rules
