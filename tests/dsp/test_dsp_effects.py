"""Effects and the synths' acid voice on their own (not through the graph)."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import create_module
from chronus.dsp.effects import Delay, Distortion, Reverb
from chronus.dsp.module import Processor
from chronus.dsp.specs import mix_specs
from chronus.dsp.specs_effects import EFFECT_SPECS
from chronus.dsp.synth import Synth
from tests.dsp.allocation import assert_allocates_nothing
from tests.dsp.chunks import process_in_chunks as run

SR = 48000
MAX_BLOCK = 512
EFFECTS: dict[str, type[Processor]] = {"distortion": Distortion, "delay": Delay, "reverb": Reverb}
Audio = npt.NDArray[np.float64]


def make(kind: str) -> Processor:
    return EFFECTS[kind](SR, MAX_BLOCK)


def signal(frames: int, seed: int = 1) -> Audio:
    """Stereo test input: a decaying saw-ish tone plus noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / SR
    tone = 0.6 * ((110.0 * t) % 1.0 - 0.5) * np.exp(-3.0 * (t % 0.5))
    burst = rng.standard_normal((frames, 2)) * (((t * 4) % 1.0) < 0.05)[:, None] * 0.5
    return np.ascontiguousarray(tone[:, None] + burst)


def test_specs_end_with_the_mix_specs() -> None:
    for kind, specs in EFFECT_SPECS.items():
        tail = mix_specs(0.0)
        assert specs[-len(tail) :] == tail, kind
        assert tuple(EFFECTS[kind].PARAMS) == specs
        assert EFFECTS[kind].TYPE == kind


@pytest.mark.parametrize("kind", sorted(EFFECTS))
def test_chunk_invariance(kind: str) -> None:
    x = signal(12000)
    results = []
    for chunk in (512, 1, 17, 64, 128):
        fx = make(kind)
        if kind == "distortion":
            fx.set_param("mode", 2)
        fx.set_param("mix", 0.8)  # a smoothing ramp runs across chunk borders
        results.append(run(fx, x, chunk))
    assert np.any(results[0] != x)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


@pytest.mark.parametrize("kind", sorted(EFFECTS))
def test_bounded_under_parameter_fuzz(kind: str) -> None:
    rng = np.random.default_rng(7)
    fx = make(kind)
    mixing = {s.name for s in mix_specs(0.0)}
    specs = [s for s in fx.PARAMS if s.name not in mixing]
    x = signal(SR, seed=3) * 2.0
    out = np.zeros_like(x)
    for start in range(0, x.shape[0], 256):
        for spec in specs:
            if rng.random() < 0.3:
                fx.set_param(spec.name, rng.uniform(spec.minimum, spec.maximum))
        out[start : start + 256] = run(fx, x[start : start + 256], 256)
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() < 20.0


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_distortion_shapers_stay_within_one(mode: int) -> None:
    fx = make("distortion")
    for name, value in (("mode", mode), ("drive", 48), ("mix", 1), ("tone", 20000)):
        fx.set_param(name, value)
    out = run(fx, signal(SR // 2) * 10.0, 128)
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() <= 1.0 + 1e-9
    assert np.abs(out).max() > 0.5


def pade_tanh(x: Audio) -> Audio:
    """The distortion's tanh: x(27 + x²)/(27 + 9x²), exactly ±1 beyond ±3."""
    return np.where(np.abs(x) >= 3.0, np.sign(x), x * (27 + x * x) / (27 + 9 * x * x))


def test_distortion_tanh_is_the_mean_of_its_curve_between_samples() -> None:
    """Anti-aliased tanh: each output sample is the mean of the curve over the step from the
    previous driven input (numerically integrated here), the curve within 0.025 of tanh."""
    grid = np.linspace(-6.0, 6.0, 2001)
    assert np.abs(pade_tanh(grid) - np.tanh(grid)).max() < 0.025
    fx = make("distortion")
    for name, value in (("drive", 12.0), ("mix", 1.0), ("tone", 20000.0)):
        fx.set_param(name, value)
    run(fx, np.zeros((SR, 2)), 512)  # the smoothed drive and tone settle
    a = 1.0 - np.exp(-2.0 * np.pi * 20000.0 / SR)  # the tone low-pass after the shaper
    t = np.arange(4800) / SR
    x = 0.9 * np.sin(2 * np.pi * 220.0 * t) + 0.3 * np.sin(2 * np.pi * 3111.0 * t)
    got = run(fx, np.column_stack([x, x]), 128)[:, 0]
    driven = np.concatenate([[0.0], x * 10 ** (12.0 / 20.0)])
    lp, expected = 0.0, np.zeros_like(x)
    for i in range(len(x)):
        f = pade_tanh(np.linspace(driven[i], driven[i + 1], 257))
        lp += a * ((f.sum() - 0.5 * (f[0] + f[-1])) / 256 - lp)  # trapezoids: the mean
        expected[i] = lp
    assert np.abs(got).max() > 0.9
    assert np.abs(got - expected).max() < 1e-4


def impulse(frames: int, at: int = 0) -> Audio:
    x = np.zeros((frames, 2))
    x[at] = 1.0
    return x


def test_delay_echo_lands_on_the_delay_time() -> None:
    fx = make("delay")
    for name, value in (("time", 250.0), ("mix", 1.0), ("feedback", 0.0), ("damp", 0.0)):
        fx.set_param(name, value)
    run(fx, np.zeros((SR * 3, 2)), 512)  # let the time glide from its default settle
    out = run(fx, impulse(SR), 128)
    d = 250 * SR // 1000
    assert np.flatnonzero(out[:, 0]).tolist() == [d]
    assert out[d, 0] == pytest.approx(1.0)


def test_delay_sync_follows_tempo() -> None:
    fx = make("delay")
    assert isinstance(fx, Delay)
    fx.set_param("sync", 0.75)
    assert fx.delay_samples == pytest.approx(0.75 * 0.5 * SR)
    fx.tempo_changed(90.0)
    assert fx.delay_samples == pytest.approx(0.75 * 60 / 90 * SR)


def test_delay_feedback_decays() -> None:
    fx = make("delay")
    for name, value in (("time", 100.0), ("mix", 1.0), ("feedback", 0.7), ("damp", 0.5)):
        fx.set_param(name, value)
    run(fx, np.zeros((SR * 3, 2)), 512)
    out = np.abs(run(fx, impulse(SR * 2), 512)[:, 0])
    d = SR // 10
    peaks = [out[k * d - 5 : k * d + 50].max() for k in range(1, 12)]
    assert all(b < a for a, b in itertools.pairwise(peaks))
    assert peaks[-1] < 0.7**10 * 1.01


def test_delay_time_change_has_no_click() -> None:
    fx = make("delay")
    fx.set_param("mix", 1.0)
    t = np.arange(SR) / SR
    x = np.repeat(np.sin(2 * np.pi * 220 * t)[:, None] * 0.5, 2, axis=1)
    first = run(fx, x[: SR // 2], 128)
    fx.set_param("time", 300.0)
    second = run(fx, x[SR // 2 :], 128)
    out = np.concatenate([first, second])[SR // 2 - 1000 :, 0]
    assert np.abs(np.diff(out)).max() < 0.1  # a 220 Hz sine at 0.5 moves ≤ 0.015 per sample


def test_reverb_tail_decays() -> None:
    fx = make("reverb")
    for name, value in (("room", 0.7), ("mix", 1.0)):
        fx.set_param(name, value)
    out = run(fx, impulse(SR * 8), 512)
    rms = [float(np.sqrt(np.mean(out[k * SR // 2 : (k + 1) * SR // 2] ** 2))) for k in range(16)]
    assert rms[0] > 1e-4
    assert all(b < a or b == 0.0 for a, b in itertools.pairwise(rms[1:]))
    assert rms[3] > 0.0  # a long tail (−60 dB needs more than 1.5 s) ...
    assert rms[-1] == 0.0  # ... that ends: below −160 dB the recirculation is flushed
    assert np.any(out[:, 0] != out[:, 1])  # the stereo spread


@pytest.mark.parametrize("kind", sorted(EFFECTS))
def test_state_round_trip_is_bit_identical(kind: str) -> None:
    a = make(kind)
    run(a, signal(7000), 128)
    a.set_param("mix", 0.5)  # hand over with a smoothing ramp in flight
    run(a, signal(5, seed=4), 5)
    b = make(kind)
    b.load_state(a.state())
    x = signal(9000, seed=5)
    np.testing.assert_array_equal(run(a, x, 128), run(b, x, 128))


@pytest.mark.parametrize("kind", sorted(EFFECTS))
def test_process_allocates_nothing_after_warm_up(kind: str) -> None:
    fx = make(kind)
    inp = np.ascontiguousarray(signal(128))
    out = np.zeros((MAX_BLOCK, 2))
    inp_full = np.zeros((MAX_BLOCK, 2))
    inp_full[:128] = inp
    assert_allocates_nothing(lambda: fx.process_stereo(inp_full, out, 128))


# -- the acid voice of the synths (saw → enveloped low-pass → drive → ADSR) -----------------


def acid(voices: int = 8, max_block: int = MAX_BLOCK) -> Synth:
    synth = create_module("saw", SR, max_block)
    assert isinstance(synth, Synth)
    for name, value in (("voices", voices), ("cutoff", 300), ("res", 0.94), ("env_amount", 6),
                        ("env_decay", 0.2), ("drive", 3), ("release", 0.05)):  # fmt: skip
        synth.set_param(name, value)
    return synth


def play(synth: Synth, frames: int, chunk: int, notes: dict[int, int], length: int = 3000) -> Audio:
    """Render mono, starting note `notes[s]` at sample s (between chunks if need be)."""
    out = np.zeros(frames)
    buf = np.zeros(synth.max_block)
    pos = 0
    stops = sorted({*notes, frames})
    while pos < frames:
        if pos in notes:
            synth.note_on(notes[pos], 120, length)
        n = min(chunk, frames - pos, min(s for s in stops if s > pos) - pos)
        synth.process(buf, n)
        out[pos : pos + n] = buf[:n]
        pos += n
    return out


def test_acid_voice_is_chunk_invariant_and_bounded() -> None:
    notes = {0: 36, 101: 43, 2999: 48, 3001: 39, 7777: 51}
    first = play(acid(4), 12000, 512, notes)
    for chunk in (1, 17, 64, 128):
        np.testing.assert_array_equal(play(acid(4), 12000, chunk, notes), first)
    loud = acid(4)
    loud.set_param("drive", 20)
    loud.set_param("amp", 1)
    out = play(loud, 12000, 128, notes)
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() <= 4.0  # four voices, each within ±1 after tanh and ADSR


def test_filter_envelope_opens_then_closes() -> None:
    def brightness(x: Audio) -> float:
        return float(np.sum(np.diff(x) ** 2) / np.sum(x**2))

    with_env = play(acid(1), SR, 128, {0: 36}, SR)
    flat = acid(1)
    flat.set_param("env_amount", 0)
    without = play(flat, SR, 128, {0: 36}, SR)
    early, late = slice(200, 2400), slice(SR // 2 - 4800, SR // 2)
    assert brightness(with_env[early]) > 2 * brightness(without[early])
    assert brightness(with_env[late]) == pytest.approx(brightness(without[late]), rel=0.05)


def test_voices_sets_polyphony_and_survives_state_hand_over() -> None:
    synth = acid(32)
    assert synth.voices == 32
    for i in range(32):
        synth.note_on(36 + i, 100, -1)
    assert np.count_nonzero(synth.state()["stage"]) == 32
    play(synth, 1000, 128, {})
    fresh = create_module("saw", SR, MAX_BLOCK)
    assert isinstance(fresh, Synth)
    fresh.load_state(synth.state())
    assert fresh.voices == 32
    np.testing.assert_array_equal(play(synth, 3000, 128, {}), play(fresh, 3000, 128, {}))
    synth.set_param("voices", 4)  # shrinking keeps the first voices
    assert np.count_nonzero(synth.state()["stage"]) == 4


def test_reverb_width_scales_the_tails_side_and_keeps_its_mid() -> None:
    """Width 0 folds the tail to mono, 2 doubles its side (L − R); the mid (L + R) and width 1
    are as the lines make them."""
    tails = {}
    for width in (0.0, 1.0, 2.0):
        fx = make("reverb")
        for name, value in (("mix", 1.0), ("width", width)):
            fx.set_param(name, value)
        run(fx, np.zeros((SR, 2)), 512)  # the smoothed width arrives
        tails[width] = run(fx, impulse(SR // 2, at=10), 128)
    one, two, none = tails[1.0], tails[2.0], tails[0.0]
    side = one[:, 0] - one[:, 1]
    assert np.abs(side).max() > 1e-3  # the two channels' lines differ: there is a side
    np.testing.assert_allclose(none[:, 0], none[:, 1], atol=1e-15)
    np.testing.assert_allclose(two[:, 0] - two[:, 1], 2 * side, atol=1e-12)
    np.testing.assert_allclose(two.sum(axis=1), one.sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(none.sum(axis=1), one.sum(axis=1), atol=1e-12)
