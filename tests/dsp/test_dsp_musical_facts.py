"""Musical facts measured on rendered audio: oscillator aliasing and ADSR stage timing."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import create_module
from chronus.dsp.module import Module

BLOCK = 128
FloatArray = npt.NDArray[np.float64]


def run(module: Module, frames: int, block: int = BLOCK) -> FloatArray:
    out = np.zeros(frames)
    buf = np.zeros(module.max_block)
    for start in range(0, frames, block):
        n = min(block, frames - start)
        module.process(buf, n)
        out[start : start + n] = buf[:n]
    return out


def wide_open(module: Module) -> None:
    """Filter out of the way (cutoff at its top, no resonance, envelope or drive), full sustain."""
    for name, value in (
        ("cutoff", 20000), ("res", 0), ("env_amount", 0), ("drive", 0),
        ("attack", 0), ("sustain", 1),
    ):  # fmt: skip
        module.set_param(name, value)


# -- aliasing -------------------------------------------------------------------------------


def blackman_harris(size: int) -> FloatArray:
    """The 4-term Blackman-Harris window (periodic form), side lobes at −92 dB."""
    x = 2.0 * np.pi * np.arange(size) / size
    return 0.35875 - 0.48829 * np.cos(x) + 0.14128 * np.cos(2 * x) - 0.01168 * np.cos(3 * x)


def worst_alias_db(signal: FloatArray, sample_rate: int, hz: float) -> tuple[float, float]:
    """Level (dB re the fundamental) and frequency of the strongest non-harmonic peak.

    Blackman-Harris window (main lobe ±4 bins, side lobes −92 dB); every bin within `GUARD`
    bins of DC or of a harmonic k·hz below Nyquist is excluded, so what remains is aliases.
    """
    guard = 8
    spectrum = np.abs(np.fft.rfft(signal * blackman_harris(signal.size)))
    db = 20.0 * np.log10(spectrum + 1e-300)
    hz_per_bin = sample_rate / signal.size
    centre = round(hz / hz_per_bin)
    fundamental = float(db[centre - guard : centre + guard + 1].max())
    alias = np.ones(db.size, dtype=bool)
    alias[: guard + 1] = False
    k = 1
    while k * hz < sample_rate / 2:
        c = round(k * hz / hz_per_bin)
        alias[max(c - guard, 0) : c + guard + 1] = False
        k += 1
    bins = np.flatnonzero(alias)
    worst = int(bins[np.argmax(db[bins])])
    return float(db[worst]) - fundamental, worst * hz_per_bin


# At 48 kHz a 1 kHz tone has a period of exactly 48 samples, so every alias folds onto a
# harmonic (48000 − k·1000 = (48 − k)·1000) and no spectrum can tell them apart. 1 kHz is
# therefore measured at 44.1 kHz (aliases fall 100 Hz off the harmonics), and at 48 kHz
# just beside it (1010 Hz) and at an unrelated pitch.
ALIAS_CASES = [(44100, 1000.0), (48000, 1010.0), (48000, 1234.5)]


def test_alias_detector_sees_a_naive_saw() -> None:
    """The measurement itself: a naive (aliasing) saw at 1 kHz is flagged at once."""
    sample_rate, hz = ALIAS_CASES[0]
    phase = (np.arange(sample_rate) * hz / sample_rate) % 1.0
    level, _ = worst_alias_db(2.0 * phase - 1.0, sample_rate, hz)
    assert level > -40.0


@pytest.mark.parametrize("module_type", ["saw", "square", "triangle"])
@pytest.mark.parametrize(("sample_rate", "hz"), ALIAS_CASES)
def test_aliasing_below_60_db(module_type: str, sample_rate: int, hz: float) -> None:
    synth = create_module(module_type, sample_rate, BLOCK)
    wide_open(synth)
    synth.note_on(69.0 + 12.0 * math.log2(hz / 440.0), 127, -1)
    settle = sample_rate // 10
    out = run(synth, settle + sample_rate)[settle:]  # 1 s of steady state
    level, where = worst_alias_db(out, sample_rate, hz)
    assert level < -60.0, (module_type, sample_rate, hz, round(level, 1), round(where))


# -- ADSR -----------------------------------------------------------------------------------

PRE_ROLL = 37
"""Silent samples before the onset, so the note starts inside a block."""


def envelope(
    attack: float, decay: float, sustain: float, release: float, length: int, frames: int
) -> tuple[FloatArray, int]:
    """The amplitude envelope of one note of `length` samples, from the synth's audio.

    A `sine` voice is frozen at phase ¼ (increment 0: the oscillator outputs exactly 1) with
    its filter memory at the steady state of that DC input (the low-pass then outputs exactly
    its input), amp 1 and velocity 127 (gain 1): every output sample is the envelope level.
    The note starts at `PRE_ROLL`; returns the envelope from the onset and the sample rate.
    """
    sample_rate = 48000
    synth = create_module("sine", sample_rate, BLOCK)
    wide_open(synth)
    for name, value in (
        ("amp", 1.0), ("attack", attack), ("decay", decay), ("sustain", sustain),
        ("release", release),
    ):  # fmt: skip
        synth.set_param(name, value)
    assert not np.any(run(synth, PRE_ROLL, PRE_ROLL))
    synth.note_on(60, 127, length)
    state = synth.state()
    for key in ("cur_inc", "base_inc"):
        increments = state[key]
        assert isinstance(increments, np.ndarray)
        increments[:] = 0.0
    phase, ic, smooth = state["phase"], state["ic"], state["smooth_cur"]
    assert isinstance(phase, np.ndarray)
    assert isinstance(ic, np.ndarray)
    assert isinstance(smooth, np.ndarray)
    phase[:] = 0.25
    ic[:, 0] = 0.0
    ic[:, 1] = 1.0
    smooth[2] = 1.0  # amp already at its target
    synth.load_state(state)
    out = run(synth, frames)
    return out, sample_rate


ADSR_CASES = [
    (0.01, 0.05, 0.5, 0.1),  # whole numbers of samples
    (0.0123, 0.2037, 0.7, 0.2501),  # fractional: 590.4, 9777.6, 12004.8 samples
    (0.0, 0.001, 0.3, 0.001),  # the shortest
    (0.5, 0.02, 0.9, 1.5),
]


def first(mask: npt.NDArray[np.bool_], start: int = 0) -> int:
    hits = np.flatnonzero(mask[start:])
    assert hits.size, "never reached"
    return start + int(hits[0])


@pytest.mark.parametrize(("attack", "decay", "sustain", "release"), ADSR_CASES)
def test_adsr_stage_times_within_one_sample(
    attack: float, decay: float, sustain: float, release: float
) -> None:
    """Each stage is counted from the last sample at its start level, so the attack of a note
    whose first audible sample is the onset starts at onset − 1 (level 0).

    The documented definitions: attack = linear rise to full level; decay = time for the
    distance to the sustain level to fall by 60 dB; release = time to fall 60 dB from the
    sustain level, starting on the note-off sample; the voice falls silent at −100 dB.
    """
    length = 4 * round((attack + decay) * 48000) + 48000  # long enough to settle on sustain
    frames = length + round(2.0 * release * 48000) + 1000
    env, sr = envelope(attack, decay, sustain, release, length, frames)
    assert env[0] > 0.0  # the onset itself sounds
    tol = 1e-9

    peak = first(env >= 1.0 - 1e-12)
    attack_samples = peak + 1
    assert env.max() <= 1.0 + 1e-12
    assert abs(attack_samples - round(attack * sr)) <= 1, ("attack", attack_samples)

    decay_end = first(env - sustain <= 1e-3 * (1.0 - sustain) * (1.0 + tol), peak)
    assert abs((decay_end - peak) - round(decay * sr)) <= 1, ("decay", decay_end - peak)
    assert env[length - 1] == pytest.approx(sustain, abs=1e-12)

    release_start = first(env < sustain * (1.0 - 1e-12), decay_end)
    assert release_start == length, ("release start", release_start, length)

    release_end = first(env <= 1e-3 * sustain * (1.0 + tol), release_start)
    released = release_end - (release_start - 1)
    assert abs(released - round(release * sr)) <= 1, ("release", released)

    silent = first(env == 0.0, release_start) - (release_start - 1)
    expected = release * sr * math.log(1e-5 / sustain) / math.log(1e-3)
    assert abs(silent - expected) <= 1.0, ("silent after", silent, expected)
    assert not np.any(env[release_start - 1 + silent :])


# -- pitch bend -----------------------------------------------------------------------------


def _pitch_hz(signal: FloatArray, rate: int) -> float:
    """The frequency of the strongest bin (zero-padded FFT, Hann window)."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), 8 * len(signal)))
    return float(np.argmax(spectrum) * rate / (8 * len(signal)))


@pytest.mark.parametrize("cents", [-700.0, 100.0, 1200.0])
def test_bend_moves_every_voice_by_its_cents(cents: float) -> None:
    module = create_module("sine", 48000, BLOCK)
    wide_open(module)
    module.set_param("bend", cents)
    run(module, 4800)  # the bend is smoothed over a few ms: let it settle
    module.note_on(57.0, 100.0, -1)
    audio = run(module, 48000)[4800:]
    expected = 220.0 * 2.0 ** (cents / 1200.0)
    assert _pitch_hz(audio, 48000) == pytest.approx(expected, rel=2e-3)


def test_vibrato_is_an_lfo_on_the_bend() -> None:
    from chronus.dsp.render import render_offline
    from chronus.protocol import validate

    commands = [
        (0, validate(address, args))
        for address, args in (
            ("/patch/create", ("lead", "sine")), ("/patch/connect", ("lead", "master")),
            ("/mod/lead/sustain", (1.0,)), ("/patch/create", ("lfo1", "lfo")),
            ("/mod/lfo1/rate", (5.0,)), ("/mod/lfo1/depth", (0.02,)),
            ("/patch/modulate", ("lfo1", "lead", "bend")), ("/note/lead", (69, 100)),
        )
    ]  # fmt: skip
    audio = render_offline(commands, 48000, block=BLOCK)[4800:, 0].astype(np.float64)
    # Upward zero crossings, interpolated: one period per cycle of the 440 Hz sine.
    rising = np.flatnonzero((audio[:-1] < 0.0) & (audio[1:] >= 0.0))
    crossings = rising + audio[rising] / (audio[rising] - audio[rising + 1])
    hz = 48000.0 / np.diff(crossings)
    cents = 1200.0 * np.log2(hz / 440.0)
    assert cents.max() == pytest.approx(24.0, abs=2.0)  # depth 0.02 of the 2400-cent range
    assert cents.min() == pytest.approx(-24.0, abs=2.0)
