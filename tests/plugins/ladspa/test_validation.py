"""LADSPA plugins through the sandbox, like any module: the crashing test plugin is reported
as a `crash` that names it, a plugin whose instances share state is refused as not
deterministic, and real TAP and SWH plugins pass (their state cannot be captured: a figure
says so instead of a failure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.plugins.ladspa.reference import ladspa_reference, ladspa_version, split_reference
from chronus.plugins.sandbox import SandboxPool
from chronus.plugins.validation import run_checks

from .conftest import SWH_PLATE, TAP_REVERB


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        yield pool


def test_references() -> None:
    reference = ladspa_reference("/usr/lib/ladspa/tap_reverb.so", "tap_reverb")
    assert split_reference(reference) == ("/usr/lib/ladspa/tap_reverb.so", "tap_reverb")
    assert split_reference("/modules/fold.py") is None
    assert split_reference("/odd#name/fold.py") is None


def test_the_version_is_the_library_and_the_label(crash_library: Path) -> None:
    crash = ladspa_version(str(crash_library), "crash")
    assert len(crash) == 12 and crash == ladspa_version(str(crash_library), "crash")
    assert crash != ladspa_version(str(crash_library), "drift")


def test_a_segfault_in_run_is_a_crash_that_names_the_plugin(
    pool: SandboxPool, crash_library: Path
) -> None:
    result = pool.validate(ladspa_reference(str(crash_library), "crash"), "crash")
    assert not result.ok and result.error_type == "crash"
    assert "SIGSEGV" in result.error_message
    assert f"the native plugin crash of {crash_library}" in result.error_message
    after = pool.validate(ladspa_reference(str(crash_library), "crash"), "crash")
    assert after.error_type == "crash"  # the pool survived it and crashes again alike


def test_a_crash_past_the_blocks_validation_renders_passes_it(
    pool: SandboxPool, crash_library: Path
) -> None:
    # What validation cannot see: the plugin crashes after 1000 blocks, on stage.
    result = pool.validate(ladspa_reference(str(crash_library), "crash_later"), "crash_later")
    assert result.ok, result.error_message


def test_shared_state_is_refused_as_not_deterministic(
    pool: SandboxPool, crash_library: Path
) -> None:
    result = pool.validate(ladspa_reference(str(crash_library), "drift"), "drift")
    assert not result.ok and result.error_type == "non_deterministic"
    assert "both slots must render the same samples" in result.error_message


def test_a_missing_label_or_library(crash_library: Path, tmp_path: Path) -> None:
    missing = run_checks(ladspa_reference(str(crash_library), "nothing"), "nothing")
    assert (missing.error_type, missing.error_message) == (
        "no_module", f"{crash_library} has no LADSPA plugin labelled 'nothing'")  # fmt: skip
    absent = run_checks(ladspa_reference(str(tmp_path / "absent.so"), "x"), "x")
    assert absent.error_type == "import_error" and "cannot open" in absent.error_message


@pytest.mark.usefixtures("real_plugins")
@pytest.mark.parametrize(("library", "label"), [(TAP_REVERB, "tap_reverb"),
                                                (SWH_PLATE, "plate")])  # fmt: skip
def test_real_plugins_pass(pool: SandboxPool, library: Path, label: str) -> None:
    result = pool.validate(ladspa_reference(str(library), label), label)
    assert result.ok, result.error_message
    assert result.processor and "volume" in result.params
    # A reverb's tail is memory the plugin keeps to itself: a fresh instance loaded with
    # the parameters does not continue it.
    assert result.figures["state_round_trip"] == 0.0


@pytest.mark.usefixtures("real_plugins")
def test_audio_ports_past_the_second_have_buffers_of_their_own() -> None:
    # CMT's B-format to quad decoder has 4 inputs and 4 outputs: when its extra ports
    # shared one buffer, it wrote NaN.
    result = run_checks(ladspa_reference("/usr/lib/ladspa/cmt.so", "bf2quad"), "bf2quad")
    assert result.ok, result.error_message
