"""Filters measured on rendered audio: −3 dB points, stability under fuzz, the acid envelope."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import create_module
from chronus.dsp.filters import Acid, StateVariable
from chronus.dsp.lfo import Lfo
from chronus.dsp.module import Processor

SR = 48000
BLOCK = 512


def run(module: Processor, signal: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Stereo `signal` through `module` in blocks; returns the stereo output."""
    out = np.zeros_like(signal)
    inp = np.zeros((module.max_block, 2))
    buf = np.zeros((module.max_block, 2))
    for start in range(0, len(signal), module.max_block):
        n = min(module.max_block, len(signal) - start)
        inp[:n] = signal[start : start + n]
        module.process_stereo(inp, buf, n)
        out[start : start + n] = buf[:n]
    return out


def response(module: Processor, frames: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and magnitude response of the left channel, from an impulse."""
    impulse = np.zeros((frames, 2))
    impulse[0] = 1.0
    mag = np.abs(np.fft.rfft(run(module, impulse)[:, 0]))
    return np.fft.rfftfreq(frames, 1.0 / SR), mag


def crossing(freqs: np.ndarray, mag: np.ndarray, level: float, falling: bool) -> float:
    """The first frequency at which `mag` crosses `level`, interpolated between bins."""
    above = mag >= level
    idx = np.flatnonzero(above[:-1] & ~above[1:] if falling else ~above[:-1] & above[1:])[0]
    f0, f1, m0, m1 = freqs[idx], freqs[idx + 1], mag[idx], mag[idx + 1]
    return float(f0 + (level - m0) * (f1 - f0) / (m1 - m0))


@pytest.mark.parametrize("cutoff", [60.0, 200.0, 1000.0, 4000.0, 12000.0])
@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
def test_svf_minus_3db_point_is_the_cutoff(kind: str, cutoff: float) -> None:
    module = create_module(kind, SR, BLOCK)
    assert isinstance(module, StateVariable)
    module.set_param("cutoff", cutoff)
    module.load_state(module.state() | {"cur": np.array([np.log2(cutoff), 0.0])})
    freqs, mag = response(module)
    found = crossing(freqs, mag, 1.0 / np.sqrt(2.0), falling=kind == "lowpass")
    assert abs(found / cutoff - 1.0) < 0.02, (kind, cutoff, found)
    if kind == "lowpass":
        assert mag[1] == pytest.approx(1.0, abs=1e-3)
    else:
        assert mag[-1] == pytest.approx(1.0, abs=2e-2)


def test_bandpass_peaks_at_the_cutoff_with_unity_gain() -> None:
    module = create_module("bandpass", SR, BLOCK)
    module.set_param("cutoff", 2000.0)
    module.set_param("res", 0.8)
    module.load_state(module.state() | {"cur": np.array([np.log2(2000.0), 0.8])})
    freqs, mag = response(module)
    peak = int(np.argmax(mag))
    assert abs(freqs[peak] / 2000.0 - 1.0) < 0.01
    assert mag[peak] == pytest.approx(1.0, abs=0.01)


def test_cutoff_is_smoothed_without_steps() -> None:
    module = create_module("lowpass", SR, BLOCK)
    tone = np.sin(2 * np.pi * 300.0 * np.arange(SR // 2) / SR)
    signal = np.stack([tone, tone], axis=1) * 0.5
    module.set_param("cutoff", 5000.0)
    first = run(module, signal[:12000])
    module.set_param("cutoff", 100.0)
    second = run(module, signal[12000:])
    out = np.concatenate([first, second])[:, 0]
    # A 300 Hz sine at 0.5 moves at most 0.02 per sample; a cutoff jump must not add more.
    assert np.abs(np.diff(out)).max() < 0.025


def test_acid_is_finite_and_bounded_under_fuzz() -> None:
    rng = np.random.default_rng(3)
    module = create_module("acid", SR, 128)
    assert isinstance(module, Acid)
    specs = {spec.name: spec for spec in module.PARAMS}
    signal = rng.uniform(-4.0, 4.0, (128, 2))
    inp = np.zeros((128, 2))
    out = np.zeros((128, 2))
    peak = 0.0
    for block in range(600):
        for name in ("cutoff", "res", "env_amount", "env_decay", "accent", "drive"):
            spec = specs[name]
            choice = rng.integers(3)
            value = (spec.minimum, spec.maximum, rng.uniform(spec.minimum, spec.maximum))[choice]
            module.set_param(name, float(value))
        if block % 3 == 0:
            module.note_on(36.0, float(rng.integers(1, 128)), 100)
        n = int(rng.integers(1, 129))
        scale = (0.0, 0.3, 1.0, 4.0)[block % 4]
        np.multiply(signal, scale, out=inp)
        if block % 7 == 0:  # a sine at the cutoff makes it ring
            inp[:, 0] = scale * np.sin(np.arange(128) * 0.3)
        module.process_stereo(inp, out, n)
        assert np.all(np.isfinite(out[:n])), block
        peak = max(peak, float(np.abs(out[:n]).max()))
    assert 0.01 < peak < 20.0


def test_acid_envelope_retriggers_on_notes() -> None:
    module = create_module("acid", SR, BLOCK)
    assert isinstance(module, Acid)
    module.set_param("accent", 0.5)
    module.set_param("env_decay", 0.1)
    module.note_on(48, 90, -1)
    assert module.state()["env"][0] == 1.0
    run(module, np.zeros((SR // 10, 2)))  # 100 ms: down 60 dB
    assert module.state()["env"][0] == pytest.approx(1e-3, rel=0.01)
    module.note_on(48, 110, -1)  # accented
    assert module.state()["env"][0] == 1.5


def test_acid_envelope_brightens_the_sound() -> None:
    rng = np.random.default_rng(1)
    noise = rng.uniform(-0.3, 0.3, (SR // 2, 2))

    def high_energy(audio: npt.NDArray[np.float64]) -> float:
        return float(np.sum(np.diff(audio[:, 0]) ** 2))

    module = create_module("acid", SR, BLOCK)
    module.set_param("env_amount", 1.0)
    module.set_param("env_decay", 0.2)
    run(module, noise[:4800])
    calm = high_energy(run(module, noise[4800:9600]))
    module.note_on(40, 100, -1)
    swept = high_energy(run(module, noise[9600:14400]))
    assert swept > 4.0 * calm


@pytest.mark.parametrize("kind", ["lowpass", "highpass", "bandpass", "acid"])
def test_filter_state_continues_bit_identically(kind: str) -> None:
    rng = np.random.default_rng(7)
    signal = rng.uniform(-1.0, 1.0, (6000, 2))
    a = create_module(kind, SR, 128)
    assert isinstance(a, Processor)
    a.note_on(60, 120, -1)
    run(a, signal[:1000])
    a.set_param("cutoff", 300.0)  # a ramp in flight at hand-over
    run(a, signal[1000:1005])
    b = create_module(kind, SR, 128)
    assert isinstance(b, Processor)
    b.load_state(a.state())
    np.testing.assert_array_equal(run(a, signal[1005:]), run(b, signal[1005:]))


def test_lfo_state_continues_bit_identically() -> None:
    a = create_module("lfo", SR, 128)
    assert isinstance(a, Lfo)
    a.set_param("shape", 4)
    a.set_param("rate", 40)
    first = [a.tick() for _ in range(500)]
    b = create_module("lfo", SR, 128)
    assert isinstance(b, Lfo)
    b.load_state(a.state())
    assert [a.tick() for _ in range(500)] == [b.tick() for _ in range(500)]
    assert len(set(first)) > 10


def ladder_reference(
    module: Acid, x: npt.NDArray[np.float64], notes: dict[int, float]
) -> npt.NDArray[np.float64]:
    """The acid ladder as first written (libm per sample, one stage after the other), in
    plain Python, from `module`'s settings: the left channel of a mono `x`."""
    sr = float(module.sample_rate)
    cur = [np.log2(module.param("cutoff")), module.param("res"), module.param("env_amount"),
           module.param("drive")]  # fmt: skip
    decay = np.exp(np.log(1e-3) / (module.param("env_decay") * sr))
    st = [0.0] * 4
    env = 0.0
    out = np.zeros_like(x)

    def sat(v: float) -> float:
        return 1.0 if v > 3.0 else -1.0 if v < -3.0 else v * (27 + v * v) / (27 + 9 * v * v)

    for i, xi in enumerate(x):
        env = notes.get(i, env)
        fc = min(2.0 ** (cur[0] + 5.0 * cur[2] * env), 0.35 * sr)
        env = env * decay
        env = 0.0 if env < 1e-7 else env
        g = float(np.tan(np.pi / sr * fc))
        h = 1.0 / (1.0 + g)
        big_g = g * h
        g2 = big_g * big_g
        k = 4.0 * cur[1]
        pre = 1.0 + 7.0 * cur[3] * cur[3]
        gain = (1.0 + 0.5 * k) / (1.0 + 0.25 * (pre - 1.0))
        s_lin = (g2 * big_g * st[0] + g2 * st[1] + big_g * st[2] + st[3]) * h
        y = (pre * xi - k * s_lin) / (1.0 + k * g2 * g2)
        for j in range(4):
            v = (sat(y) - st[j]) * big_g
            y = v + st[j]
            st[j] = y + v
        out[i] = y * gain
    return out


@pytest.mark.parametrize("res", [0.0, 0.6, 0.97, 1.0])
def test_acid_ladder_is_its_textbook_form_to_rounding(res: float) -> None:
    """The kernel orders its sums for a short critical path and fuses multiply-adds; the
    sound must not change: within 1e-9 (−180 dBFS) of the straightforward per-sample form,
    through fast envelope sweeps, full resonance and a driven, clipping input."""
    rng = np.random.default_rng(4)
    frames = SR // 4
    t = np.arange(frames) / SR
    x = 2.5 * ((55.0 * t) % 1.0 - 0.5) + 0.2 * rng.standard_normal(frames)
    module = create_module("acid", SR, BLOCK)
    assert isinstance(module, Acid)
    for name, value in (("res", res), ("env_amount", 1.0), ("env_decay", 0.02), ("drive", 1.0),
                        ("cutoff", 150.0)):  # fmt: skip
        module.set_param(name, value)
    module.load_state(module.state() | {"cur": np.array([np.log2(150.0), res, 1.0, 1.0])})
    notes = {i: 1.5 if i % 3000 == 0 else 1.0 for i in range(0, frames, 1500)}  # accents
    got = np.zeros(frames)
    inp = np.zeros((BLOCK, 2))
    buf = np.zeros((BLOCK, 2))
    for start in range(0, frames, 100):
        if start in notes:
            module.note_on(40.0, 127.0 if notes[start] > 1.0 else 90.0, -1)
        n = min(100, frames - start)
        inp[:n, 0] = inp[:n, 1] = x[start : start + n]
        module.process_stereo(inp, buf, n)
        got[start : start + n] = buf[:n, 0]
    expected = ladder_reference(module, x, notes)
    assert np.abs(expected).max() > 0.1
    assert np.abs(got - expected).max() < 1e-9
