"""The checks themselves, run in this process on modules that are safe to run here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chronus.plugins.source import plugin_module_name, version_of
from chronus.plugins.validation import (
    REHEARSAL_FILE,
    REHEARSAL_NAME,
    CheckSettings,
    rehearse,
    run_checks,
)

FAULTY = Path(__file__).parent / "faulty"

HEAD = """
import numpy as np
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs

class Thing(Processor):
    PARAMS = {params}
    DUAL_MONO = {dual}

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        {stereo}

    def process_mono(self, inp, out, n):
        {mono}
"""

COPY = "out[:n] = inp[:n]"


def _module(
    tmp_path: Path,
    params: str = "mix_specs(0.0)",
    stereo: str = COPY,
    mono: str = COPY,
    dual: bool = False,
) -> Path:
    path = tmp_path / "thing.py"
    path.write_text(HEAD.format(params=params, stereo=stereo, mono=mono, dual=dual))
    return path


def test_a_plain_module_passes(tmp_path: Path) -> None:
    result = run_checks(_module(tmp_path, dual=True), "thing")
    assert result.ok, result.error_message
    assert result.params == ("volume", "pan", "mute", "solo")


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ("(ParamSpec('volume', 0.0, -60.0, 12.0),)", "no pan parameter"),
        ("()", "no volume or pan parameter"),
        ("(ParamSpec('x', float('nan'), 0.0, 1.0), *mix_specs(0.0))", "x: default and range"),
        ("(ParamSpec('x', 0.0, 0.0, float('inf')), *mix_specs(0.0))", "x: default and range"),
        ("(ParamSpec('x', 0.5, 1.0, 0.0), *mix_specs(0.0))", "x: minimum 1 > maximum"),
        ("(ParamSpec('x', 2.0, 0.0, 1.0), *mix_specs(0.0))", "x: default 2 outside 0–1"),
        ("(*mix_specs(0.0), *mix_specs(0.0))", "declared twice: mute, pan, solo, volume"),
        ("(ParamSpec('no such', 0.0, 0.0, 1.0), *mix_specs(0.0))", "is not a parameter name"),
        ("[*mix_specs(0.0)]", "a tuple of ParamSpec"),
        ("(('volume', 0.0), *mix_specs(0.0))", "a tuple of ParamSpec"),
    ],
)
def test_bad_parameters_are_refused(tmp_path: Path, params: str, words: str) -> None:
    result = run_checks(_module(tmp_path, params=params), "thing")
    assert (result.ok, result.error_type) == (False, "bad_params")
    assert words in result.error_message


def test_a_module_that_adds_into_its_output_instead_of_writing_is_caught(
    tmp_path: Path,
) -> None:
    result = run_checks(_module(tmp_path, stereo="out[:n] += inp[:n]"), "thing")
    assert (result.ok, result.error_type) == (False, "non_finite")
    assert "WRITE all of out[:n]" in result.error_message


def test_a_partial_write_is_caught(tmp_path: Path) -> None:
    result = run_checks(_module(tmp_path, stereo="out[: n // 2] = inp[: n // 2]"), "thing")
    assert (result.ok, result.error_type) == (False, "non_finite")


def test_a_dual_mono_path_that_differs_from_the_stereo_one_is_caught(tmp_path: Path) -> None:
    path = _module(tmp_path, mono="out[:n] = 0.5 * inp[:n]", dual=True)
    result = run_checks(path, "thing")
    assert (result.ok, result.error_type) == (False, "non_deterministic")
    assert "process_mono differs from process_stereo" in result.error_message
    assert run_checks(_module(tmp_path, mono="out[:n] = 0.5 * inp[:n]"), "thing").ok


def test_the_dual_mono_path_is_checked_for_non_finite_samples(tmp_path: Path) -> None:
    path = _module(tmp_path, mono="out[:n] = np.log(inp[:n] - 10.0)", dual=True)
    result = run_checks(path, "thing")
    assert (result.ok, result.error_type) == (False, "non_finite")
    assert "(dual mono)" in result.error_message


def test_the_cpu_budget_is_a_setting(tmp_path: Path) -> None:
    path = _module(tmp_path)
    assert run_checks(path, "thing", CheckSettings(cpu_budget=0.25)).ok
    result = run_checks(path, "thing", CheckSettings(cpu_budget=1e-6))
    assert (result.ok, result.error_type) == (False, "too_slow")
    assert "over the budget of 0 µs" in result.error_message
    assert result.figures["cpu_us_p99"] > 0


def test_the_figures_count_the_timed_blocks(tmp_path: Path) -> None:
    result = run_checks(_module(tmp_path), "thing", CheckSettings(timed_blocks=40))
    assert result.ok and result.figures["blocks"] == 40


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("good", ""),
        ("good_source", ""),
        ("raises_in_process", "exception"),
        ("raises_at_import", "import_error"),
        ("syntax_error", "syntax_error"),
        ("no_module", "no_module"),
        ("bad_params", "bad_params"),
        ("system_exit", "exit"),
        ("nan_output", "non_finite"),
        ("non_deterministic", "non_deterministic"),
        ("unseeded_random", "non_deterministic"),
        ("forgets_state", "state_round_trip"),
    ],
)
def test_the_fixtures_safe_to_run_here_give_the_same_answer_in_process(
    fixture: str, kind: str
) -> None:
    result = run_checks(FAULTY / f"{fixture}.py", fixture)
    assert (result.ok, result.error_type) == (not kind, kind), result.error_message


def test_the_same_file_gives_the_same_verdict_twice_in_one_process() -> None:
    first = run_checks(FAULTY / "good.py", "twice")
    second = run_checks(FAULTY / "good.py", "twice")
    assert first.ok and second.ok
    assert (first.module_class, first.params) == (second.module_class, second.params)


def test_quiet_and_channels_equal_are_called_as_the_graph_calls_them(tmp_path: Path) -> None:
    path = _module(tmp_path, dual=True)
    path.write_text(path.read_text() + "\n    def quiet(self):\n        raise KeyError('q')\n")
    result = run_checks(path, "thing")
    assert (result.ok, result.error_type) == (False, "exception")
    assert result.error_message.startswith("quiet() (block 0) raised KeyError")
    path = _module(tmp_path, dual=True)
    path.write_text(path.read_text() + "\n    def channels_equal(self):\n        return 1 / 0\n")
    result = run_checks(path, "thing")
    assert (result.ok, result.error_type) == (False, "exception")
    assert result.error_message.startswith("channels_equal() raised ZeroDivisionError")


def test_a_long_or_broken_exception_message_is_cut_or_replaced(tmp_path: Path) -> None:
    long = _module(tmp_path, stereo="raise ValueError('x' * 100000)")
    result = run_checks(long, "thing")
    assert result.error_type == "exception" and len(result.error_message) < 400
    path = tmp_path / "broken.py"
    path.write_text(
        "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise Odd()\n"
    )
    result = run_checks(path, "broken")
    assert result.error_type == "import_error"
    assert "Odd: (its message cannot be shown)" in result.error_message


def test_the_rehearsal_plugin_passes_and_a_rehearsal_forgets_it() -> None:
    result = run_checks(REHEARSAL_FILE, REHEARSAL_NAME)
    assert result.ok, result.error_message
    assert result.processor and "drive" in result.params
    imported = plugin_module_name(REHEARSAL_NAME, version_of(REHEARSAL_FILE.read_bytes()))
    assert imported in sys.modules
    rehearse()
    assert imported not in sys.modules  # so a fork that rehearses loads its kernel anew
