"""Modules on their own: parameters, voices, envelopes, state hand-over, pitch."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import MODULE_TYPES, create_module
from chronus.dsp.module import Module, Processor
from chronus.dsp.patch import PatchError
from chronus.dsp.specs import PITCHED_TYPES
from chronus.dsp.synth import VOICES, Synth, midi_hz

SR = 48000
BLOCK = 128


def run(module: Module, frames: int, block: int = BLOCK) -> npt.NDArray[np.float64]:
    out = np.zeros(frames)
    buf = np.zeros(module.max_block)
    for start in range(0, frames, block):
        n = min(block, frames - start)
        module.process(buf, n)
        out[start : start + n] = buf[:n]
    return out


def test_set_param_clamps_and_rejects() -> None:
    saw = create_module("saw", SR, BLOCK)
    assert saw.set_param("cutoff", 50000) == 20000.0
    assert saw.param("cutoff") == 20000.0
    with pytest.raises(PatchError, match="did you mean 'cutoff'"):
        saw.set_param("cutof", 1)
    with pytest.raises(PatchError, match="finite"):
        saw.set_param("cutoff", float("inf"))
    assert saw.param("cutoff") == 20000.0


# Synths and drums (the test sets their decay); processors and the lfo have their own tests.
SOURCES = sorted(
    t
    for t, cls in MODULE_TYPES.items()
    if not issubclass(cls, Processor) and any(p.name == "decay" for p in cls.PARAMS)
)


@pytest.mark.parametrize("module_type", SOURCES)
def test_load_state_continues_bit_identically(module_type: str) -> None:
    a = create_module(module_type, SR, BLOCK)
    a.set_param("decay", 0.5)
    a.note_on(57, 110, 3000)
    run(a, 1000)
    a.note_on(64, 90, -1)
    run(a, 777)
    if "cutoff" in a.params:
        a.set_param("cutoff", 500)  # a smoothing ramp is in flight at hand-over
    run(a, 5)
    b = create_module(module_type, SR, BLOCK)
    b.load_state(a.state())
    assert b.params == a.params
    first, second = run(a, 4000), run(b, 4000)
    assert np.any(first != 0.0)
    np.testing.assert_array_equal(first, second)


def test_load_state_rejects_wrong_state() -> None:
    saw = create_module("saw", SR, BLOCK)
    with pytest.raises(ValueError):
        saw.load_state(create_module("kick", SR, BLOCK).state())


def test_note_length_and_release() -> None:
    saw = create_module("saw", SR, BLOCK)
    saw.set_param("release", 0.01)
    saw.note_on(60, 100, 4800)
    out = run(saw, 9600)
    assert np.abs(out[4000:4800]).max() > 0.01
    # Released at 4800; −60 dB after 10 ms, voice ends at −100 dB (~17 ms).
    assert np.abs(out[4800 + 480 : 4800 + 600]).max() < 2e-3 * np.abs(out[4000:4800]).max()
    assert not np.any(out[4800 + 1000 :])


def test_gate_holds_until_closed() -> None:
    sine = create_module("sine", SR, BLOCK)
    sine.set_param("release", 0.01)
    sine.gate(True)
    held = run(sine, 24000)
    assert np.abs(held[-1000:]).max() > 0.01
    sine.gate(False)
    assert not np.any(run(sine, 48000)[2000:])


def test_velocity_zero_plays_nothing_and_silence_is_instant() -> None:
    saw = create_module("saw", SR, BLOCK)
    saw.note_on(60, 0, -1)
    assert not np.any(run(saw, 1000))
    saw.note_on(60, 100, -1)
    assert np.any(run(saw, 1000))
    saw.silence()
    assert not np.any(run(saw, 1000))


def test_oldest_voice_is_stolen() -> None:
    saw = create_module("saw", SR, BLOCK)
    assert isinstance(saw, Synth)
    for i in range(VOICES + 1):
        saw.note_on(48 + i, 100, -1)
    incs = saw.state()["base_inc"]
    assert isinstance(incs, np.ndarray)
    playing = sorted(round(float(x) * SR, 6) for x in incs)
    expected = sorted(round(midi_hz(48 + i), 6) for i in range(1, VOICES + 1))
    assert playing == expected  # note 48, the oldest, was replaced by the ninth


@pytest.mark.parametrize("drum", ["kick", "snare", "hat"])
def test_drums_decay_to_silence(drum: str) -> None:
    module = create_module(drum, SR, BLOCK)
    module.set_param("decay", 0.1)
    module.note_on(60, 127, -1)
    out = run(module, SR)
    assert np.abs(out[:2000]).max() > 0.05
    assert not np.any(out[SR // 2 :])


def estimate_hz(signal: npt.NDArray[np.float64], sample_rate: int) -> float:
    """Frequency of the strongest spectral peak above 15 Hz.

    Hann window, 16× zero padding and a parabola through the log magnitudes of the three
    bins around the peak: the residual bias is far below 0.1 cent (checked below).
    """
    pad = 16
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size), pad * signal.size))
    hz_per_bin = sample_rate / (pad * signal.size)
    lowest = int(15 / hz_per_bin)
    k = lowest + int(np.argmax(spectrum[lowest:-1]))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + offset) * hz_per_bin)


def cents(f: float, ref: float) -> float:
    return float(1200 * np.log2(f / ref))


def test_estimator_is_accurate() -> None:
    t = np.arange(SR) / SR
    for f in (32.7031956626, 261.6255653, 2093.00452):
        assert abs(cents(estimate_hz(np.sin(2 * np.pi * f * t + 0.3), SR), f)) < 0.05


@pytest.mark.parametrize("module_type", PITCHED_TYPES)
def test_pitch_within_a_cent(module_type: str) -> None:
    for midi in (24, 36, 48, 60, 69, 72, 84, 96):  # c1 … c7 and a4
        synth = create_module(module_type, SR, 512)
        for name, value in (("cutoff", 20000), ("res", 0), ("attack", 0), ("decay", 0.001)):
            synth.set_param(name, value)
        synth.note_on(midi, 100, -1)
        out = run(synth, SR + SR // 10, 512)[SR // 10 :]  # skip the attack
        want = 440.0 * 2 ** ((midi - 69) / 12)
        got = estimate_hz(out, SR)
        assert abs(cents(got, want)) < 1.0, (module_type, midi, got, want)


def test_glide_slides_from_the_previous_note() -> None:
    saw = create_module("saw", SR, BLOCK)
    saw.set_param("glide", 0.05)
    saw.note_on(48, 100, -1)
    saw.note_on(60, 100, -1)
    state = saw.state()
    assert isinstance(state["cur_inc"], np.ndarray)
    assert sorted(state["cur_inc"][:2] * SR) == pytest.approx([midi_hz(48)] * 2)
    run(saw, SR // 20)  # 99 % of the way in 50 ms
    state = saw.state()
    assert isinstance(state["cur_inc"], np.ndarray)
    assert state["cur_inc"][1] * SR == pytest.approx(midi_hz(60), rel=0.011)
    run(saw, SR)  # then exactly there
    state = saw.state()
    assert isinstance(state["cur_inc"], np.ndarray)
    assert state["cur_inc"][1] == midi_hz(60) / SR
