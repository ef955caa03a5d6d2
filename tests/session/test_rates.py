"""Every sample rate chronus accepts renders every pitched wave without a crash, with finite
output, and in tune below Nyquist; a note above Nyquist is silent. Rates outside the range are
refused by the engine's CLI, the render command and the session-log reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chronus.cli import main
from chronus.dsp.catalog import create_module
from chronus.dsp.rates import MAX_RATE, MIN_RATE
from chronus.dsp.specs import PITCHED_TYPES
from chronus.session.offline import render_script
from chronus.session.script import load_script
from chronus.session.stamped_log import read_stamped_log
from tests.dsp.test_dsp_modules import cents, estimate_hz, run
from tests.sessions import refused_render

RATES = (MIN_RATE, 11025, 12000, 16000, 22050, 32000, 44100, 48000, 96000, MAX_RATE)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("wave", PITCHED_TYPES)
def test_a_note_above_nyquist_renders_finite_at_every_rate(rate: int, wave: str) -> None:
    script = load_script(f"add a {wave} called bass\nplay g9 on bass\nwait 1 s\n")
    audio = render_script(script, rate=rate, tail=0.0)
    assert audio.shape == (rate, 2)
    assert np.isfinite(audio).all()
    if 2 * 12543.85 >= rate and wave != "sine":  # g9 is at or above Nyquist: no partial fits
        assert not audio.any()


@pytest.mark.parametrize("wave", PITCHED_TYPES)
def test_two_detuned_oscillators_far_above_the_sample_rate_stay_finite(wave: str) -> None:
    synth = create_module(wave, MIN_RATE, 128)
    synth.set_param("detune", 100)
    synth.set_param("bend", 2400)  # two octaves above g9: dt ≈ 6 samples⁻¹
    synth.note_on(127, 127, -1)
    out = run(synth, MIN_RATE, 128)
    assert np.isfinite(out).all()
    if wave != "sine":
        assert not out.any()


@pytest.mark.parametrize("wave", PITCHED_TYPES)
def test_in_tune_at_the_lowest_rate(wave: str) -> None:
    rate = MIN_RATE
    for midi in (45, 69, 93):  # a2, a4 and a6 (1760 Hz: its harmonics cross Nyquist)
        synth = create_module(wave, rate, 128)
        for name, value in (("cutoff", 20000), ("res", 0), ("attack", 0), ("decay", 0.001)):
            synth.set_param(name, value)
        synth.note_on(midi, 100, -1)
        out = run(synth, rate + rate // 10, 128)[rate // 10 :]
        want = 440.0 * 2 ** ((midi - 69) / 12)
        assert abs(cents(estimate_hz(out, rate), want)) < 1.0, (wave, midi)


@pytest.mark.parametrize("rate", [1, 2, 50, 7999, 192001])
def test_the_engine_refuses_a_rate_outside_the_range(
    rate: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["engine", "--backend", "null", "--port", "0", "--rate", str(rate)]) == 1
    wanted = f"the sample rate must be {MIN_RATE}–{MAX_RATE} Hz, not {rate}"
    assert wanted in capsys.readouterr().err


def test_the_engine_refuses_a_block_of_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engine", "--backend", "null", "--port", "0", "--block", "0"]) == 1
    assert "the block size must be 1–8192 frames, not 0" in capsys.readouterr().err


def test_render_refuses_a_rate_outside_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused_render(tmp_path, "add a saw called bass\nplay g9 on bass\nwait 1 s\n", "--rate", "1")
    assert "the sample rate must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("rate=1 block=128", "the sample rate must be 8000–192000 Hz, not 1"),
        ("rate=50 block=128", "the sample rate must be 8000–192000 Hz, not 50"),
        ("rate=0 block=128", "the sample rate must be 8000–192000 Hz, not 0"),
        ("rate=48000 block=0", "the block size must be 1–8192 frames, not 0"),
    ],
)
def test_a_session_log_with_a_nonsense_header_is_refused(
    tmp_path: Path, header: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "s.log"
    log.write_text(f'# chronus session log v1 {header}\n0\t/patch/create\t["bass", "saw"]\n')
    with pytest.raises(ValueError, match=problem):
        read_stamped_log(log)
    out = tmp_path / "out.wav"
    assert main(["render", str(log), "-o", str(out)]) == 1
    assert problem in capsys.readouterr().err
    assert not out.exists()
