"""`help <topic>` shows lines of the language's test corpus, so every example is a line that
the corpus test proves parses and sends what it should."""

from __future__ import annotations

import pytest

from chronus.lang.interpreter import Interpreter
from chronus.shell.examples import EXAMPLES, TOPIC_ABOUT
from chronus.shell.help import TOPICS, help_text
from tests.lang.test_corpus import BLOCKS

GOOD = {block.case.text: block for block in BLOCKS if block.case.osc is not None}


@pytest.mark.parametrize("topic", sorted(EXAMPLES))
def test_every_example_is_a_line_the_corpus_proves(topic: str) -> None:
    for line in EXAMPLES[topic]:
        assert line in GOOD, f"help {topic}: {line!r} is not a passing line of the corpus"
        block = GOOD[line]
        interpreter = Interpreter()
        for _, text, _ in block.setup:
            interpreter.interpret(text)
        result = interpreter.interpret(line)
        assert result.error is None, result.error.render()
        assert [m.to_list() for m in result.messages] == block.case.osc


@pytest.mark.parametrize("topic", sorted(EXAMPLES))
def test_help_on_a_topic_shows_its_examples(topic: str) -> None:
    text = help_text(topic + "s")  # as typed: help patterns
    assert "Examples (each one tested):" in text
    for line in EXAMPLES[topic]:
        assert f"\n  {line}\n" in text + "\n"


def test_help_on_a_module_type_shows_its_table_and_its_kind_of_examples() -> None:
    text = help_text("acid")
    assert "env_amount" in text and "resonance 0.8 on f1" in text
    assert "make it darker" in help_text("lowpass")
    assert "kick tune -5" in help_text("kick")


def test_help_lists_the_topics() -> None:
    assert set(TOPIC_ABOUT) == set(TOPICS)
    listing = help_text("topics")
    for topic, about in TOPIC_ABOUT.items():
        assert f"  {topic:<10} {about}" in listing
    assert "help topics: " + " ".join(sorted(TOPICS)) in help_text(None)
    assert help_text("nonsense").startswith('no help on "nonsense"; topics: ')
