"""The dual-mono path of the processors: `process_mono` on a dual-mono input is, bit for bit,
what `process_stereo` gives on each channel, and leaves the state a stereo block would."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import MODULE_TYPES, create_module
from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs
from chronus.dsp.specs_effects import MAX_DELAY_MS
from tests.dsp.allocation import assert_allocates_nothing

SR = 48000
MAX_BLOCK = 512
MIXING = {spec.name for spec in mix_specs(0.0)}
DUAL_MONO = ["acid", "bandpass", "delay", "distortion", "highpass", "lowpass"]
Audio = npt.NDArray[np.float64]


def make(kind: str) -> Processor:
    module = create_module(kind, SR, MAX_BLOCK)
    assert isinstance(module, Processor)
    return module


def material(frames: int, seed: int) -> Audio:
    """A mono test signal: a saw, a sine sweep through the filters' range, noise bursts,
    silences (the filters ring out) and loud passages (the shapers saturate)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / SR
    saw = 2.0 * ((98.0 * t) % 1.0) - 1.0
    sweep = np.sin(2 * np.pi * 40.0 * (np.exp(t * 3.0) - 1.0) / 3.0)
    burst = rng.standard_normal(frames) * (((t * 3) % 1.0) < 0.1)
    level = np.where((t * 2) % 1.0 < 0.15, 0.0, np.where((t * 5) % 1.0 < 0.2, 3.0, 0.5))
    return np.ascontiguousarray((0.6 * saw + 0.4 * sweep + 0.3 * burst) * level)


def steps(kind: str, frames: int, seed: int) -> list[tuple[int, list[tuple[str, float]], bool]]:
    """Chunk lengths of 1–300 frames, each with parameter changes (ramps in flight across
    chunks, every distortion mode) and whether a note retriggers an envelope."""
    rng = np.random.default_rng(seed)
    specs = [spec for spec in make(kind).PARAMS if spec.name not in MIXING]
    out: list[tuple[int, list[tuple[str, float]], bool]] = []
    done = 0
    while done < frames:
        n = min(int(rng.integers(1, 301)), frames - done)
        changes = [
            (spec.name, float(rng.uniform(spec.minimum, spec.maximum)))
            for spec in specs
            if rng.random() < 0.08
        ]
        out.append((n, changes, bool(rng.random() < 0.1)))
        done += n
    return out


def render(
    module: Processor, x: Audio, plan: list[tuple[int, list[tuple[str, float]], bool]],
    mono_every: int,
) -> tuple[Audio, list[bool]]:  # fmt: skip
    """`x` on both channels through `module` in the chunks of `plan`; every `mono_every`-th
    chunk (0: none) through `process_mono`. Returns the stereo output and, per mono chunk,
    whether the channels' state was equal after it."""
    inp = np.zeros((MAX_BLOCK, 2))
    buf = np.zeros((MAX_BLOCK, 2))
    mono_in = np.zeros(MAX_BLOCK)
    mono_out = np.zeros(MAX_BLOCK)
    out = np.zeros((x.shape[0], 2))
    equal_after: list[bool] = []
    at = 0
    for index, (n, changes, note) in enumerate(plan):
        for name, value in changes:
            module.set_param(name, value)
        if note:
            module.note_on(45.0, 110.0, -1)
        if mono_every and index % mono_every == 0:
            mono_in[:n] = x[at : at + n]
            module.process_mono(mono_in, mono_out, n)
            out[at : at + n, 0] = mono_out[:n]
            out[at : at + n, 1] = mono_out[:n]
            equal_after.append(module.channels_equal())
        else:
            inp[:n, 0] = x[at : at + n]
            inp[:n, 1] = x[at : at + n]
            module.process_stereo(inp, buf, n)
            out[at : at + n] = buf[:n]
        at += n
    return out, equal_after


def test_the_dual_mono_processors_are_those_with_per_channel_kernels() -> None:
    found = sorted(
        name for name, cls in MODULE_TYPES.items() if issubclass(cls, Processor) and cls.DUAL_MONO
    )
    assert found == DUAL_MONO


def test_reverb_has_no_dual_mono_path() -> None:
    reverb = make("reverb")
    assert not reverb.DUAL_MONO
    with pytest.raises(TypeError, match="no dual-mono path"):
        reverb.process_mono(np.zeros(MAX_BLOCK), np.zeros(MAX_BLOCK), 16)


@pytest.mark.parametrize("mono_every", [1, 2, 3])
@pytest.mark.parametrize("kind", DUAL_MONO)
def test_mono_blocks_are_bit_identical_to_stereo_blocks(kind: str, mono_every: int) -> None:
    x = material(SR // 2, seed=11)
    plan = steps(kind, x.shape[0], seed=5)
    reference_module = make(kind)
    reference, _ = render(reference_module, x, plan, mono_every=0)
    assert np.abs(reference).max() > 0.05
    assert np.array_equal(reference[:, 0], reference[:, 1])
    module = make(kind)
    mixed, equal_after = render(module, x, plan, mono_every)
    np.testing.assert_array_equal(mixed, reference)
    assert equal_after and all(equal_after)
    # Same state as the stereo-only module: a hand-over may follow any block.
    for name, value in reference_module.state().items():
        np.testing.assert_array_equal(module.state()[name], value, err_msg=name)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_every_distortion_mode_is_bit_identical_in_mono(mode: int) -> None:
    x = material(SR // 4, seed=3)
    sizes = itertools.cycle([100, 257, 1, 64, 512])
    plan: list[tuple[int, list[tuple[str, float]], bool]] = []
    at = 0
    while at < x.shape[0]:
        n = min(next(sizes), x.shape[0] - at)
        changes = (
            [("mode", float(mode))] if at == 0 else [("drive", 30.0)] if len(plan) == 9 else []
        )
        plan.append((n, changes, False))
        at += n
    reference, _ = render(make("distortion"), x, plan, mono_every=0)
    mixed, _ = render(make("distortion"), x, plan, mono_every=2)
    np.testing.assert_array_equal(mixed, reference)


@pytest.mark.parametrize("kind", DUAL_MONO)
def test_a_stereo_input_makes_the_channels_differ_until_a_mono_block(kind: str) -> None:
    module = make(kind)
    assert module.channels_equal()
    rng = np.random.default_rng(2)
    inp = np.ascontiguousarray(rng.uniform(-0.5, 0.5, (MAX_BLOCK, 2)))
    out = np.zeros((MAX_BLOCK, 2))
    module.note_on(40.0, 100.0, -1)
    module.process_stereo(inp, out, MAX_BLOCK)
    assert not module.channels_equal()
    mono_out = np.zeros(MAX_BLOCK)
    module.process_mono(np.ascontiguousarray(inp[:, 0]), mono_out, 64)
    if kind == "delay":  # its older echoes differ until the mono input overwrites them
        assert not module.channels_equal()
        scratch = np.zeros(MAX_BLOCK)
        for _ in range(round(MAX_DELAY_MS * 1e-3 * SR) // MAX_BLOCK + 1):
            module.process_mono(np.zeros(MAX_BLOCK), scratch, MAX_BLOCK)
    assert module.channels_equal()
    # The left channel went on as it would have in stereo.
    left = make(kind)
    left.note_on(40.0, 100.0, -1)
    left.process_stereo(inp, out, MAX_BLOCK)
    dual = np.ascontiguousarray(np.repeat(inp[:64, :1], 2, axis=1))
    dual_full = np.zeros((MAX_BLOCK, 2))
    dual_full[:64] = dual
    left.process_stereo(dual_full, out, 64)
    np.testing.assert_array_equal(mono_out[:64], out[:64, 0])


@pytest.mark.parametrize("kind", DUAL_MONO)
def test_process_mono_allocates_nothing_after_warm_up(kind: str) -> None:
    module = make(kind)
    inp = np.ascontiguousarray(material(MAX_BLOCK, seed=1))
    out = np.zeros(MAX_BLOCK)
    module.channels_equal()
    assert_allocates_nothing(lambda: module.process_mono(inp, out, 128))
    assert_allocates_nothing(module.channels_equal)
