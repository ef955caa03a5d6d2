"""What a LADSPA descriptor becomes: range hints read as ladspa.h says, ports named and
typed for chronus, and a description that survives the trip from the scan's child."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from chronus.plugins.ladspa import abi
from chronus.plugins.ladspa.describe import PluginInfo, slug, specs_of
from chronus.plugins.ladspa.native import read_info

from .conftest import TAP_REVERB


def hint(flags: int, low: float = 0.0, high: float = 0.0, rate: int = 48000) -> abi.Hint:
    return abi.read_hint(abi.PortRangeHint(flags, low, high), rate)


BOUNDED = abi.HINT_BOUNDED_BELOW | abi.HINT_BOUNDED_ABOVE


def test_defaults_follow_ladspa_h() -> None:
    assert hint(BOUNDED | abi.HINT_DEFAULT_MIDDLE, 0.0, 8.0).default == 4.0
    assert hint(BOUNDED | abi.HINT_DEFAULT_LOW, 0.0, 8.0).default == 2.0
    assert hint(BOUNDED | abi.HINT_DEFAULT_HIGH, 0.0, 8.0).default == 6.0
    assert hint(BOUNDED | abi.HINT_DEFAULT_MAXIMUM, -3.0, 5.0).default == 5.0
    assert hint(BOUNDED | abi.HINT_DEFAULT_440, 20.0, 20000.0).default == 440.0
    log_middle = hint(BOUNDED | abi.HINT_LOGARITHMIC | abi.HINT_DEFAULT_MIDDLE, 10.0, 1000.0)
    assert log_middle.logarithmic
    assert math.isclose(log_middle.default, 100.0)  # the geometric mean on a log scale
    log_low = hint(BOUNDED | abi.HINT_LOGARITHMIC | abi.HINT_DEFAULT_LOW, 10.0, 1000.0)
    assert math.isclose(log_low.default, 10.0**1.5)


def test_sample_rate_toggle_integer_and_missing_bounds() -> None:
    relative = hint(BOUNDED | abi.HINT_SAMPLE_RATE | abi.HINT_DEFAULT_MAXIMUM, 0.0, 0.5, 44100)
    assert (relative.minimum, relative.maximum, relative.default) == (0.0, 22050.0, 22050.0)
    toggle = hint(abi.HINT_TOGGLED | abi.HINT_DEFAULT_1)
    assert toggle.toggled and (toggle.minimum, toggle.maximum, toggle.default) == (0, 1, 1)
    whole = hint(BOUNDED | abi.HINT_INTEGER | abi.HINT_DEFAULT_MIDDLE, 0.0, 3.0)
    assert whole.integer and whole.default == 2.0  # 1.5, rounded
    loose = hint(abi.HINT_DEFAULT_100)
    assert not loose.bounded and loose.minimum <= 100.0 <= loose.maximum
    below = hint(abi.HINT_BOUNDED_BELOW, 5.0)
    assert below.minimum == 5.0 and below.maximum > 5.0 and below.default == 5.0
    assert hint(BOUNDED, 0.0, 42.1).maximum == 42.1  # not 42.09999847 (a C float)


def test_slug() -> None:
    assert slug("Steve Harris <steve@plugin.org.uk>") == "steve_harris"
    assert slug("  Dry/Wet mix (%) ") == "dry_wet_mix"
    assert slug("x" * 40) == "x" * 32


@pytest.mark.usefixtures("real_plugins")
def test_tap_reverb_as_chronus_sees_it() -> None:
    info = read_info(str(TAP_REVERB), "tap_reverb")
    assert info.name == "tap_reverb" and info.maker_name == "Tom Szilagyi"
    assert info.maker_slug == "tom_szilagyi" and info.layout == "stereo"
    specs = {spec.name: spec for spec in specs_of(info)}
    assert (specs["decay"].unit, specs["decay"].minimum, specs["decay"].maximum) == (
        "ms", 0.0, 10000.0)  # fmt: skip
    assert specs["dry_level"].unit == "db"
    assert specs["reverb_type"].doc.endswith("(integer)")
    assert specs["comb_filters"].doc.endswith("(toggle)")
    assert list(specs)[-4:] == ["volume", "pan", "mute", "solo"]
    for spec in specs.values():
        assert spec.minimum <= spec.default <= spec.maximum
    assert PluginInfo.from_dict(info.to_dict()) == info


def test_test_plugin_ports(crash_library: Path) -> None:
    info = read_info(str(crash_library), "crash")
    assert (info.audio_in, info.audio_out, info.maker_name, info.layout) == (
        (0,), (1,), "chronus tests", "mono")  # fmt: skip
    (blocks,) = info.controls
    assert (blocks.name, blocks.hint.integer, blocks.hint.default) == ("blocks", True, 4.0)
