"""LADSPA plugins as chronus module types, run in this process: parameters reach the
ports, audio ports map onto stereo, and a real TAP or SWH plugin renders the same samples
here as in a second process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chronus.dsp.module import Module, Processor
from chronus.plugins.ladspa.module import LadspaSource, load_ladspa_type, type_of_reference

from .conftest import SWH_PLATE, SYSTEM, TAP_REVERB
from .render_ladspa import chirp_input, render

ROOT = Path(__file__).resolve().parents[3]


def test_a_mono_effect_runs_one_instance_per_channel(crash_library: Path) -> None:
    cls = load_ladspa_type(str(crash_library), "crash", name="passes")
    assert (cls.TYPE, cls.hosting, cls.when_down) == ("passes", "isolated", "through")  # type: ignore[attr-defined]
    assert cls.host_group == "chronus_tests"  # type: ignore[attr-defined]
    module = cls(48000, 64)
    assert isinstance(module, Processor)
    module.set_param("blocks", 8.0)
    signal = chirp_input(2)[:128]
    out = np.full((64, 2), np.nan)
    for start in (0, 64):
        module.process_stereo(np.ascontiguousarray(signal[start : start + 64]), out, 64)
        # Each channel through its own pass-through: exactly the input as a C float.
        expected = signal[start : start + 64].astype(np.float32).astype(np.float64)
        assert np.array_equal(out, expected)


CRASHES = [("crash", "0", 0), ("crash", "3", 3), ("crash_later", None, 1000)]
"""Test plugin, its `blocks` (None: the default), and the blocks it renders before it crashes."""


@pytest.mark.parametrize(("label", "blocks", "rendered"), CRASHES)
def test_the_test_plugins_segfault_after_the_blocks_their_port_says(
    crash_library: Path, label: str, blocks: str | None, rendered: int
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.plugins.ladspa.render_ladspa", str(crash_library),
               label, *([blocks] if blocks is not None else [])]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == -signal.SIGSEGV
    assert run.stdout.split() == [str(k) for k in range(rendered)]


def test_toggles_and_integers_reach_the_ports_as_such(real_plugins: None) -> None:
    module = load_ladspa_type(str(TAP_REVERB), "tap_reverb")(48000, 128)
    ports = {c.name: c.port for c in module.INFO.controls}  # type: ignore[attr-defined]
    cells = module._rack.controls[0]  # type: ignore[attr-defined]
    assert module.set_param("comb_filters", 0.7) == 0.7
    assert cells[ports["comb_filters"]] == 1.0
    module.set_param("comb_filters", 0.2)
    assert cells[ports["comb_filters"]] == 0.0
    module.set_param("reverb_type", 3.4)
    assert cells[ports["reverb_type"]] == 3.0
    module.set_param("decay", 1234.5)
    assert cells[ports["decay"]] == np.float32(1234.5)
    assert module.set_param("decay", 99999.0) == 10000.0  # clamped to the port's range


def test_a_source_plays_its_oscillator(real_plugins: None) -> None:
    cls = load_ladspa_type(str(SYSTEM / "sine.so"), "sine_fcac")
    assert issubclass(cls, LadspaSource) and cls.when_down == "silence"
    module: Module = cls(48000, 480)
    module.set_param("frequency", 1000.0)
    module.set_param("amplitude", 0.5)
    out = np.zeros(480)
    played = []
    for _ in range(10):
        module.process(out, 480)
        played.append(out.copy())
    wave = np.concatenate(played)
    assert np.max(np.abs(wave)) == pytest.approx(0.5, abs=1e-3)
    crossings = np.count_nonzero(np.diff(np.signbit(wave)))
    assert crossings == pytest.approx(2 * 1000 * len(wave) / 48000, abs=2)


def test_silence_starts_the_instance_afresh(real_plugins: None) -> None:
    fresh = render(str(TAP_REVERB), "tap_reverb", blocks=20)
    cls = load_ladspa_type(str(TAP_REVERB), "tap_reverb")
    module = cls(48000, 128)
    noise = np.random.default_rng(3).standard_normal((128, 2))
    out = np.zeros((128, 2))
    for _ in range(5):
        module.process_stereo(noise, out, 128)  # a tail, then forgotten
    module.silence()
    for name, value in (("decay", 1800.0), ("wet_level", -3.0), ("reverb_type", 5.0)):
        module.set_param(name, value)
    signal = chirp_input(20)
    inp = np.zeros((128, 2))
    inp[:] = signal[:128]
    module.process_stereo(inp, out, 128)
    assert np.array_equal(out, fresh[:128])


def test_errors_name_what_is_missing(crash_library: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no LADSPA plugin labelled 'nothing'"):
        load_ladspa_type(str(crash_library), "nothing")
    with pytest.raises(OSError):
        load_ladspa_type(str(tmp_path / "absent.so"), "crash")


@pytest.mark.usefixtures("real_plugins")
@pytest.mark.parametrize(("library", "label"), [(TAP_REVERB, "tap_reverb"),
                                                (SWH_PLATE, "plate")])  # fmt: skip
def test_the_same_in_a_second_process_bit_for_bit(
    library: Path, label: str, tmp_path: Path
) -> None:
    here = render(str(library), label)
    assert np.isfinite(here).all() and np.abs(here).max() > 0.01
    tail = here[len(here) * 3 // 4 :]
    assert np.abs(tail).max() > 1e-4  # a reverb: it rings on after its input stopped
    saved = tmp_path / "there.npy"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "tests.plugins.ladspa.render_ladspa", str(library),
                    label, str(saved)], check=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    there = np.load(saved)
    assert here.shape == there.shape
    assert np.array_equal(here, there)
    assert np.array_equal(here, render(str(library), label))  # and a second instance here


def test_a_host_makes_the_type_from_the_registrys_path(crash_library: Path) -> None:
    cls = type_of_reference(f"{crash_library}#crash_later", "later")
    assert cls.TYPE == "later" and cls.INFO.label == "crash_later"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="names no LADSPA plugin"):
        type_of_reference(str(crash_library), "later")


def test_a_type_source_names_a_native_plugin_for_a_host(crash_library: Path) -> None:
    from chronus.plugins.type_source import TypeSource, TypeSourceError, resolve_type

    source = TypeSource("ladspa", "later", path=str(crash_library), label="crash_later")
    cls = resolve_type(TypeSource.from_json(source.to_json()))
    assert cls.TYPE == "later" and cls.hosting == "isolated"  # type: ignore[attr-defined]
    with pytest.raises(TypeSourceError, match="'nothing'"):
        resolve_type(TypeSource("ladspa", "x", path=str(crash_library), label="nothing"))
