"""Native (LADSPA) plugins in the language: `load plugin NAME` sends the library and label
the scan found, `add a tap reverb after bass` reads two words as the plugin's type, and a
plugin not loaded yet is refused with the line that loads it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import learn_plugins
from chronus.lang.native import NativePlugin, declare_native

from .test_plugin_types import _osc

REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"
SCANNED = [
    NativePlugin("tap_reverb", REVERB, "Reverberator", "Tom Szilagyi"),
    NativePlugin("plate", "/usr/lib/ladspa/plate_1423.so#plate", "Plate reverb", "Steve Harris"),
]
LOADED: dict[str, Any] = {
    "tap_reverb": {"version": "0123456789ab", "state": "active", "processor": True,
                   "params": [{"name": "decay", "default": 2500.0, "minimum": 0.0,
                               "maximum": 10000.0, "unit": "ms"}],
                   "path": REVERB},
}  # fmt: skip


@pytest.fixture(autouse=True)
def scanned() -> Iterator[None]:
    declare_native(SCANNED)
    learn_plugins({})
    yield
    declare_native([])
    learn_plugins({})


def _band() -> Interpreter:
    """A saw called bass, and nothing else."""
    band = Interpreter()
    assert _osc(band, "add a saw called bass")[0] == ["/patch/create", "bass", "saw"]
    return band


def test_load_plugin_sends_the_library_and_label() -> None:
    interpreter = _band()
    assert _osc(interpreter, "load plugin tap_reverb") == [["/plugins/load", REVERB, "tap_reverb"]]
    assert _osc(interpreter, "LOAD PLUGIN tap_reverb as verb") == [
        ["/plugins/load", REVERB, "verb"]
    ]


def test_an_unknown_plugin_is_refused_with_the_nearest_name() -> None:
    result = _band().interpret("load plugin tap_revreb")
    assert not result.ok and result.error is not None
    assert 'no LADSPA plugin called "tap_revreb"' in result.error.message
    assert "tap_reverb" in (result.error.hint or "")
    assert not result.messages


def test_a_plugin_cannot_take_a_built_in_name() -> None:
    result = _band().interpret("load plugin tap_reverb as delay")
    assert not result.ok and result.error is not None
    assert "built-in" in result.error.message
    assert "load plugin tap_reverb as mydelay" in (result.error.hint or "")


def test_adding_a_plugin_not_loaded_says_how_to_load_it() -> None:
    for line in ("add a tap reverb after bass", "add a tap_reverb after bass"):
        result = _band().interpret(line)
        assert not result.ok and result.error is not None
        assert "tap_reverb is a LADSPA plugin (Reverberator) that is not loaded" in (
            result.error.message
        )
        assert result.error.hint == "load plugin tap_reverb"


def test_two_words_make_a_loaded_plugin_type() -> None:
    learn_plugins(LOADED)
    interpreter = _band()
    assert _osc(interpreter, "add a tap reverb after bass") == [
        ["/patch/create", "tap_reverb1", "tap_reverb"],
        ["/patch/disconnect", "bass", "master"],
        ["/patch/connect", "bass", "tap_reverb1"],
        ["/patch/connect", "tap_reverb1", "master"],
    ]
    # A type of the first word still wins: a saw called reverb.
    assert _osc(interpreter, "add a saw reverb")[0] == ["/patch/create", "reverb", "saw"]


def test_two_words_make_a_plugin_type_in_a_chain_too() -> None:
    learn_plugins(LOADED)
    for line in ("bass through tap reverb", "bass through a tap reverb"):
        interpreter = _band()
        assert _osc(interpreter, line) == [
            ["/patch/create", "tap_reverb1", "tap_reverb"],
            ["/patch/disconnect", "bass", "master"],
            ["/patch/connect", "bass", "tap_reverb1"],
            ["/patch/connect", "tap_reverb1", "master"],
        ]
    interpreter = _band()
    assert _osc(interpreter, "bass through a tap reverb called hall then a delay")[:2] == [
        ["/patch/create", "hall", "tap_reverb"],
        ["/patch/create", "delay1", "delay"],
    ]
    assert _osc(interpreter, "add a saw called lead through a tap reverb")[:2] == [
        ["/patch/create", "lead", "saw"],
        ["/patch/create", "tap_reverb1", "tap_reverb"],
    ]


def test_a_chain_step_of_two_words_that_is_no_type_is_refused() -> None:
    result = _band().interpret("bass through tap reverb")
    assert result.error is not None and not result.messages
    assert "tap_reverb is a LADSPA plugin (Reverberator) that is not loaded" in result.error.message
    assert result.error.hint == "load plugin tap_reverb"
    wrong = _band().interpret("bass through tip reverb")
    assert wrong.error is not None and not wrong.messages
    assert wrong.error.message == '"tip reverb" is neither a module nor a module type'


def test_the_second_word_after_a_type_names_the_new_module() -> None:
    interpreter = _band()
    assert _osc(interpreter, "bass through a reverb hall")[0] == ["/patch/create", "hall", "reverb"]
    twice = _band().interpret("bass through a reverb hall called room")
    assert twice.error is not None
    assert twice.error.message == 'two names for one reverb: "hall" and "room"'
