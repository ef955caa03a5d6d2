"""Where the engine's block comes from (`chronus.engine.jack_period`), without JACK."""

from __future__ import annotations

import doctest

from chronus.cli import _engine_block
from chronus.engine import jack_period
from chronus.engine.jack_period import JackPeriod, ask_period, choose_block


def test_doctests() -> None:
    assert doctest.testmod(jack_period).failed == 0


def test_a_period_chronus_cannot_render_in_leaves_the_default_block() -> None:
    assert choose_block(None, JackPeriod(16384, 48000, "system")) == (128, "default")


def test_the_null_backend_asks_no_server_and_a_given_block_stands() -> None:
    assert _engine_block(None, "null", None) == (128, "default")
    assert _engine_block(256, "null", None) == (256, "option")


def test_a_device_that_is_not_there_has_no_jack_period() -> None:
    assert ask_period("no such device, surely") is None
