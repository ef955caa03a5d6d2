"""The examples in the docstrings of the language modules stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "chronus.lang.errors",
    "chronus.lang.intents",
    "chronus.lang.parser",
    "chronus.lang.context",
    "chronus.lang.mapper",
    "chronus.lang.interpreter",
    "chronus.lang.music",
    "chronus.lang.undo",
    "chronus.lang.relative",
    "chronus.lang.targets",
    "chronus.lang.sounds",
    "chronus.session.script",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
