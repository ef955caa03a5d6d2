"""The grammar's reading of a half-typed line: tokens, where it stops fitting, what may follow."""

from __future__ import annotations

import doctest
import importlib

import pytest

from chronus.shell.scanning import scan


def test_tokens_of_a_line_that_fits() -> None:
    read = scan("add saw bass; play c3 on bass", expect=True)
    assert read.error is None
    assert [t.type for t in read.command()] == ["_PLAY", "PATTERN", "_ON", "NAME"]
    assert {"$END", "_SEP", "_FOR"} <= read.accepts


def test_where_a_line_stops_fitting() -> None:
    assert scan("snapshot lx foo").error == len("snapshot ")
    read = scan("plya c3 on bass")
    assert read.error == len("plya c3 ")  # `plya c3` is a pattern for a module `plya`
    assert [t.type for t in read.tokens] == ["NAME", "PATTERN"]
    assert scan("set bass cutoff", expect=True).error is None  # unfinished is no error


def test_what_may_come_next() -> None:
    assert scan("snapshot load ", expect=True).accepts == {"NAME", "SHORT_NAME"}
    assert {"_ADD", "_PLAY", "_SET", "NAME"} <= scan("tempo 120; ", expect=True).accepts
    assert "UNIT" in scan("set bass cutoff 800 ", expect=True).accepts
    assert scan("snapshot lx ", expect=True).accepts == frozenset()


def test_the_reading_is_cached() -> None:
    assert scan("set bass ", expect=True) is scan("set bass ", expect=True)


@pytest.mark.parametrize(
    "name", ["chronus.shell.scanning", "chronus.shell.completion", "chronus.shell.colour"]
)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
