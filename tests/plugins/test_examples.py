"""The example user modules (examples/modules/): each loads as a plugin and does what it says.

Loaded as the engine loads a plugin (`import_plugin`, named by plugin and version), then
driven directly: the facts of each sound, and the rules every module keeps (the same samples
whatever the block size, a bit-identical state hand-over, no allocation in `process`, finite
output whatever the parameters).
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import MODULE_TYPES, register
from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs
from chronus.dsp.specs import PROCESSOR_TYPES, TYPE_SPECS
from chronus.plugins.source import import_plugin, version_of
from chronus.protocol import Message, validate
from tests.dsp.allocation import assert_allocates_nothing
from tests.dsp.chunks import (
    assert_block_size_invariant,
    assert_hand_over_bit_identical,
    process_in_chunks,
    rendered,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"
NAMES = ("chorus", "crush", "fold")
SR = 48000
MAX_BLOCK = 512
MIXING = {spec.name for spec in mix_specs(0.0)}
Audio = npt.NDArray[np.float64]


def plugin(name: str) -> type[Processor]:
    path = EXAMPLES / f"{name}.py"
    cls = import_plugin(path, name, version_of(path.read_bytes()))
    assert issubclass(cls, Processor)
    return cls


def make(name: str, **params: float) -> Processor:
    """A new module; given `params`, set and then settled (smoothing arrived) on silence."""
    module = plugin(name)(SR, MAX_BLOCK)
    for key, value in params.items():
        module.set_param(key, value)
    if params:
        run(module, np.zeros((SR, 2)), MAX_BLOCK)
    return module


def signal(frames: int, seed: int = 1) -> Audio:
    """Stereo test input: a decaying saw-ish tone, a louder sine, noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / SR
    tone = 0.6 * ((110.0 * t) % 1.0 - 0.5) * np.exp(-3.0 * (t % 0.5))
    sine = 0.8 * np.sin(2 * np.pi * 330.0 * t) * ((t % 0.4) < 0.2)
    burst = rng.standard_normal((frames, 2)) * (((t * 4) % 1.0) < 0.05)[:, None] * 0.5
    return np.ascontiguousarray((tone + sine)[:, None] + burst)


def sine(frames: int, hz: float, level: float = 0.5) -> Audio:
    x = level * np.sin(2 * np.pi * hz * np.arange(frames) / SR)
    return np.ascontiguousarray(np.column_stack([x, x]))


def run(module: Processor, x: Audio, chunk: int = 128) -> Audio:
    return process_in_chunks(module, x, chunk)


def run_mono(module: Processor, x: Audio, chunk: int = 128) -> Audio:
    return process_in_chunks(module, x, chunk, mono=True)


# -- the rules every module keeps ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_loads_as_a_plugin_named_by_the_user(name: str) -> None:
    cls = plugin(name)
    assert cls.TYPE == name
    tail = mix_specs(0.0)
    assert cls.PARAMS[-len(tail) :] == tail
    for spec in cls.PARAMS:
        assert spec.minimum <= spec.default <= spec.maximum, spec.name
    path = EXAMPLES / f"{name}.py"
    renamed = import_plugin(path, f"my_{name}", version_of(path.read_bytes()))
    assert renamed.TYPE == f"my_{name}" and renamed.PARAMS == cls.PARAMS


CHANGES: dict[str, dict[str, float]] = {
    "fold": {"drive": 30.0, "symmetry": 0.4, "mix": 0.8},
    "crush": {"bits": 5.0, "rate": 7000.0, "mix": 0.8},
    "chorus": {"depth": 6.0, "delay": 20.0, "spread": 1.0, "mix": 0.8, "rate": 3.0},
}
"""Changes made after the module has started: smoothing ramps run across chunk borders."""


def changed_run(name: str, chunk: int) -> Audio:
    module = make(name)
    x = signal(12000)
    first = run(module, x[:3000], chunk)
    for key, value in CHANGES[name].items():
        module.set_param(key, value)
    return np.concatenate([first, run(module, x[3000:], chunk)])


@pytest.mark.parametrize("name", NAMES)
def test_same_samples_whatever_the_block_size_and_every_time(name: str) -> None:
    whole = changed_run(name, 512)
    assert np.abs(whole - signal(12000)).max() > 0.05, "the module must change the sound"
    np.testing.assert_array_equal(changed_run(name, 512), whole)  # deterministic
    for chunk in (1, 17, 64, 128):
        np.testing.assert_array_equal(changed_run(name, chunk), whole, err_msg=str(chunk))


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip_is_bit_identical(name: str) -> None:
    a = make(name)
    run(a, signal(7000), 128)
    for key, value in CHANGES[name].items():
        a.set_param(key, value)
    run(a, signal(5, seed=4), 5)  # hand over with the ramps in flight
    b = make(name)
    b.load_state(pickle.loads(pickle.dumps(a.state())))
    assert b.params == a.params
    x = signal(9000, seed=5)
    np.testing.assert_array_equal(run(a, x, 128), run(b, x, 64))


@pytest.mark.parametrize("name", NAMES)
def test_process_allocates_nothing_after_warm_up(name: str) -> None:
    module = make(name)
    inp = np.zeros((MAX_BLOCK, 2))
    inp[:128] = signal(128)
    out = np.zeros((MAX_BLOCK, 2))
    assert_allocates_nothing(lambda: module.process_stereo(inp, out, 128))
    if module.DUAL_MONO:
        mono_in = np.ascontiguousarray(inp[:, 0])
        mono_out = np.zeros(MAX_BLOCK)
        assert_allocates_nothing(lambda: module.process_mono(mono_in, mono_out, 128))


@pytest.mark.parametrize("name", NAMES)
def test_finite_and_bounded_on_extreme_parameters(name: str) -> None:
    module = make(name)
    rng = np.random.default_rng(11)
    specs = [spec for spec in module.PARAMS if spec.name not in MIXING]
    x = signal(SR, seed=3) * 8.0
    x[1000:1100] = 1e6  # a blast far beyond full scale
    x[2000:2100] = -1e6
    out = np.zeros_like(x)
    for start in range(0, x.shape[0], 256):
        for spec in specs:
            pick = rng.random()
            if pick < 0.2:
                module.set_param(spec.name, spec.minimum)
            elif pick < 0.4:
                module.set_param(spec.name, spec.maximum)
        out[start : start + 256] = run(module, x[start : start + 256], 256)
    assert np.all(np.isfinite(out))
    # Each blends the dry input with a wet signal no louder than its own bound.
    wet_bound = {"fold": 2.0, "crush": 1.0, "chorus": 0.0}[name]
    assert np.all(np.abs(out) <= np.maximum(np.abs(x).max(), wet_bound) + 1e-9)


@pytest.mark.parametrize("name", ["crush", "fold"])
def test_dual_mono_is_the_stereo_path_bit_for_bit(name: str) -> None:
    stereo, mono = make(name), make(name)
    x = signal(6000, seed=8)[:, 0]
    both = np.ascontiguousarray(np.column_stack([x, x]))
    for key, value in CHANGES[name].items():
        stereo.set_param(key, value)
        mono.set_param(key, value)
    got = run_mono(mono, x, 100)
    want = run(stereo, both, 100)
    np.testing.assert_array_equal(want[:, 0], want[:, 1])
    np.testing.assert_array_equal(got, want[:, 0])
    assert mono.channels_equal()
    # A stereo block may follow a mono one at once, exactly.
    y = signal(3000, seed=9)
    np.testing.assert_array_equal(run(mono, y), run(stereo, y))


# -- fold ----------------------------------------------------------------------------------


def test_fold_is_transparent_below_the_threshold_and_folds_above_it() -> None:
    fold = make("fold", drive=0.0, symmetry=0.0, mix=1.0)
    ramp = np.linspace(0.0, 3.0, 30000)  # slow: the anti-aliasing mean is nearly the curve
    out = run(fold, np.ascontiguousarray(np.column_stack([ramp, ramp])))[:, 0]
    low, high = ramp <= 0.99, ramp >= 1.01
    np.testing.assert_allclose(out[low][1:], ramp[low][1:], atol=1e-4)  # identity within ±1
    assert 0.999 < out.max() <= 1.0 + 1e-9  # reaches 1 and folds back
    folded = out[high & (ramp <= 2.99)]
    np.testing.assert_allclose(folded, 2.0 - ramp[high & (ramp <= 2.99)], atol=1e-4)
    assert out[-1] == pytest.approx(-1.0, abs=1e-3)  # 3 folds to −1


@pytest.mark.parametrize("symmetry", [-1.0, -0.3, 0.0, 0.7, 1.0])
def test_fold_stays_within_its_bound_and_silence_stays_silent(symmetry: float) -> None:
    fold = make("fold", drive=36.0, symmetry=symmetry, mix=1.0)
    out = run(fold, sine(SR // 2, 220.0, 1.0))
    assert np.abs(out).max() <= 2.0
    assert np.abs(out).max() > 0.9
    if symmetry == 0.0:
        assert np.abs(out).max() <= 1.0
    quiet = run(fold, np.zeros((2000, 2)))
    assert np.abs(quiet[1:]).max() < 1e-12  # after the one step back from the last input


def test_fold_drive_adds_harmonics() -> None:
    def harmonics_share(drive: float) -> float:
        out = run(make("fold", drive=drive), sine(SR, 100.0, 0.9))[SR // 2 :, 0]
        spectrum = np.abs(np.fft.rfft(out))  # 0.5 s: bins of 2 Hz, 100 Hz on bin 50
        return float(1.0 - spectrum[50] ** 2 / np.sum(spectrum**2))

    assert harmonics_share(0.0) < 1e-3
    assert harmonics_share(12.0) > 0.2
    assert harmonics_share(24.0) > harmonics_share(12.0)


# -- crush ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 6, 8])
def test_crush_at_n_bits_has_at_most_2_to_the_n_levels(bits: int) -> None:
    out = run(make("crush", bits=bits), signal(SR // 2) * 2.0)
    levels = np.unique(out)
    assert 2 ** (bits - 1) < len(levels) <= 2**bits
    half = 2.0 ** (bits - 1)
    np.testing.assert_array_equal(levels * half, np.round(levels * half))  # on the grid
    assert levels.min() >= -1.0 and levels.max() <= 1.0 - 1.0 / half


def test_crush_at_16_bits_and_the_full_rate_is_nearly_transparent() -> None:
    x = np.clip(signal(SR // 4), -0.9, 0.9)
    out = run(make("crush", bits=16), x)
    assert np.abs(out - x).max() <= 0.5 / 32768 + 1e-12


def test_crush_holds_each_sample_for_the_rate_reduction() -> None:
    x = np.clip(signal(SR // 4), -0.9, 0.9)  # within full scale
    out = run(make("crush", rate=SR / 4, bits=16), x, 17)  # holds cross block borders
    held = out.reshape(-1, 4, 2)
    np.testing.assert_array_equal(held, np.repeat(held[:, :1], 4, axis=1))
    np.testing.assert_allclose(held[:, 0], x[::4], atol=0.5 / 32768)  # the first of each 4


def test_crush_mix_zero_is_the_dry_signal() -> None:
    x = signal(SR // 4)
    np.testing.assert_array_equal(run(make("crush", bits=2, rate=500.0, mix=0.0), x), x)


# -- chorus --------------------------------------------------------------------------------


def test_chorus_without_depth_is_a_pure_delay() -> None:
    x = signal(SR // 2)
    out = run(make("chorus", depth=0.0, delay=10.0, mix=1.0), x, 100)
    d = 10 * SR // 1000
    np.testing.assert_array_equal(out[d:], x[:-d])
    np.testing.assert_array_equal(out[:d], 0.0)


def test_chorus_mix_zero_is_the_dry_signal() -> None:
    x = signal(SR // 2)
    np.testing.assert_array_equal(run(make("chorus", depth=8.0, mix=0.0), x), x)


def sidebands(depth_ms: float) -> float:
    """A 1 kHz sine through the chorus swept at 4 Hz by `depth_ms`: the level of the first
    sidebands (996 and 1004 Hz) relative to the carrier, over one second."""
    chorus = make("chorus", rate=4.0, depth=depth_ms, delay=5.0, mix=1.0, spread=0.0)
    out = run(chorus, sine(2 * SR, 1000.0))[SR:, 0]  # the second second: the line is full
    spectrum = np.abs(np.fft.rfft(out))  # exactly periodic over 1 s: each line on its bin
    return float((spectrum[996] + spectrum[1004]) / (2 * spectrum[1000]))


def test_chorus_modulation_shows_as_pitch_sidebands() -> None:
    """A delay swept by ±A seconds phase-modulates a tone of f Hz with index β = 2πfA: the
    first sidebands sit at J1(β)/J0(β) of the carrier (Bessel functions)."""
    beta = 2 * np.pi * 1000.0 * 0.05e-3  # a 0.1 ms sweep is ±0.05 ms
    j0 = 1 - beta**2 / 4 + beta**4 / 64
    j1 = beta / 2 - beta**3 / 16 + beta**5 / 384
    assert sidebands(0.1) == pytest.approx(j1 / j0, rel=0.01)
    assert sidebands(0.0) < 1e-6


def test_chorus_spread_sets_the_two_sides_apart() -> None:
    x = sine(SR // 2, 440.0)
    alike = run(make("chorus", spread=0.0, depth=4.0), x)
    np.testing.assert_array_equal(alike[:, 0], alike[:, 1])
    apart = run(make("chorus", spread=1.0, depth=4.0), x)
    assert np.abs(apart[:, 0] - apart[:, 1]).max() > 0.1


# -- in a patch, through the graph -----------------------------------------------------------


@pytest.fixture
def registered() -> Iterator[None]:
    """The three examples in the module catalogue for one test (as an engine process has
    them once loaded); the catalogue as it was afterwards."""
    saved = dict(MODULE_TYPES), dict(TYPE_SPECS), set(PROCESSOR_TYPES)
    for name in NAMES:
        register(plugin(name))
    yield
    for table, before in zip((MODULE_TYPES, TYPE_SPECS, PROCESSOR_TYPES), saved, strict=True):
        table.clear()
        table.update(before)


def song() -> list[tuple[int, Message]]:
    """A saw through fold → crush → chorus, notes and parameter changes mid-block."""
    kinds = {"bass": "saw", "fold": "fold", "crush": "crush", "chorus": "chorus"}
    cmds = [(0, validate("/patch/create", pair)) for pair in kinds.items()]
    cmds += [
        (0, validate("/patch/connect", pair)) for pair in itertools.pairwise([*kinds, "master"])
    ]
    cmds += [(91 + 1777 * j, validate("/note/bass", (40 + (j * 5) % 12, 100, 0.03)))
             for j in range(10)]  # fmt: skip
    cmds += [
        (2500, validate("/mod/fold/drive", (30.0,))),
        (4321, validate("/mod/crush/bits", (6.0,))),
        (6001, validate("/mod/crush/rate", (9000.0,))),
        (8111, validate("/mod/chorus/depth", (5.0,))),
        (9999, validate("/mod/fold/symmetry", (0.5,))),
    ]
    return cmds


@pytest.mark.usefixtures("registered")
def test_in_a_patch_block_size_invariant_and_handed_over_bit_for_bit() -> None:
    assert_block_size_invariant(song(), 18000)
    a = rendered(song(), 50, 128)
    assert_hand_over_bit_identical(a, a.state())
