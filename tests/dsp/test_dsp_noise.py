"""The noise synths (`noise`, `pink`): spectra, determinism, chunking, state, timing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.catalog import create_module
from chronus.dsp.module import Module
from chronus.dsp.render import render_offline
from chronus.dsp.specs import PITCHED_TYPES, SYNTH_TYPES
from chronus.protocol import Message, validate
from tests.dsp.chunks import assert_block_size_invariant, render_in_chunks

SR = 48000
NOISES = ("noise", "pink")
FloatArray = npt.NDArray[np.float64]
BUTTERWORTH_RES = (2.0 - math.sqrt(2.0)) / 1.96
"""The `res` at which the synth's low-pass has Q = 1/√2 (damping k = 2 − 1.96·res = √2):
maximally flat, −0.2 dB at 16 kHz with the cutoff at 20 kHz (at res 0, Q = ½, it is −1.7 dB)."""


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def run(module: Module, frames: int, block: int = 512) -> FloatArray:
    out = np.zeros(frames)
    buf = np.zeros(module.max_block)
    for start in range(0, frames, block):
        n = min(block, frames - start)
        module.process(buf, n)
        out[start : start + n] = buf[:n]
    return out


def held_note(module_type: str, seconds: float) -> FloatArray:
    """A held note with the filter wide open (and flat), full sustain, after 0.1 s."""
    synth = create_module(module_type, SR, 512)
    for name, value in (
        ("cutoff", 20000), ("res", BUTTERWORTH_RES), ("env_amount", 0), ("drive", 0),
        ("attack", 0), ("sustain", 1), ("amp", 1),
    ):  # fmt: skip
        synth.set_param(name, value)
    synth.note_on(60, 127, -1)
    settle = SR // 10
    return run(synth, settle + round(seconds * SR))[settle:]


def band_levels(signal: FloatArray, edges: list[float]) -> FloatArray:
    """Mean power density (dB) in each band [edges[i], edges[i+1]): Welch, Hann, 50 % overlap."""
    size = 16384
    window = np.hanning(size)
    hop = size // 2
    frames = np.lib.stride_tricks.sliding_window_view(signal, size)[::hop]
    psd = (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).mean(axis=0)
    hz = np.fft.rfftfreq(size, 1.0 / SR)
    return np.array(
        [
            10.0 * np.log10(psd[(hz >= lo) & (hz < hi)].mean())
            for lo, hi in itertools.pairwise(edges)
        ]
    )


def test_noise_types_are_synths_without_pitch() -> None:
    assert set(NOISES) <= set(SYNTH_TYPES)
    assert not set(NOISES) & set(PITCHED_TYPES)


def test_white_noise_is_flat() -> None:
    """Octave bands from 100 Hz (the last 12.8–16 kHz) within ±1 dB of their mean."""
    edges = [100.0 * 2**k for k in range(8)] + [16000.0]
    levels = band_levels(held_note("noise", 10.0), edges)
    deviation = levels - levels.mean()
    assert np.abs(deviation).max() < 1.0, np.round(deviation, 2)


def test_pink_noise_falls_3_db_per_octave() -> None:
    """Octave bands 40 Hz – 10.24 kHz within ±0.5 dB of a −3.01 dB/octave line."""
    edges = [40.0 * 2**k for k in range(9)]
    levels = band_levels(held_note("pink", 10.0), edges)
    flattened = levels + 10.0 * math.log10(2.0) * np.arange(levels.size)
    deviation = flattened - flattened.mean()
    assert np.abs(deviation).max() < 0.5, np.round(deviation, 2)
    slope = np.polyfit(np.arange(levels.size), levels, 1)[0]
    assert abs(slope + 3.01) < 0.2, slope


@pytest.mark.parametrize("module_type", NOISES)
def test_level_is_that_of_a_saw(module_type: str) -> None:
    """White and pink noise have the RMS of a saw (1/√3 before the filter)."""
    rms = float(np.sqrt(np.mean(held_note(module_type, 2.0) ** 2)))
    saw = float(np.sqrt(np.mean(held_note("saw", 2.0) ** 2)))
    assert rms == pytest.approx(saw, rel=0.15)


@pytest.mark.parametrize("module_type", NOISES)
def test_voices_are_uncorrelated(module_type: str) -> None:
    """Each voice has its own seed: the second of two notes is uncorrelated with the first."""
    a, b = create_module(module_type, SR, 512), create_module(module_type, SR, 512)
    for synth in (a, b):
        synth.set_param("attack", 0)
        synth.set_param("sustain", 1)
    a.note_on(60, 127, -1)
    b.note_on(60, 127, -1)
    b.note_on(60, 127, -1)
    first = run(a, SR)[4800:]
    second = run(b, SR)[4800:] - first  # the voices sum linearly (no drive)
    assert np.std(second) == pytest.approx(np.std(first), rel=0.2)
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.05


@pytest.mark.parametrize("module_type", NOISES)
def test_pitch_detune_and_glide_change_nothing(module_type: str) -> None:
    plain = create_module(module_type, SR, 128)
    plain.note_on(60, 100, -1)
    other = create_module(module_type, SR, 128)
    other.set_param("detune", 30)
    other.set_param("glide", 0.2)
    other.note_on(40, 100, -1)
    other.note_on(90, 100, -1)
    other.release_all()
    other.silence()
    plain.silence()
    plain.note_on(60, 100, -1)
    plain.note_on(61, 100, -1)
    other.note_on(90, 100, -1)
    other.note_on(30, 100, -1)
    np.testing.assert_array_equal(run(plain, 4000, 128), run(other, 4000, 128))


# -- through the renderer ---------------------------------------------------------------------


def song() -> list[tuple[int, Message]]:
    """Both noises, notes, parameter ramps, a gate and filter envelope at mid-block samples."""
    cmds: list[tuple[int, Message]] = []
    for i, module_type in enumerate(NOISES):
        mid = f"n{i}"
        cmds += [
            (5 * i, m("/patch/create", mid, module_type)),
            (5 * i, m("/patch/connect", mid, "master")),
            (7, m(f"/mod/{mid}/env_amount", 4)),
            (7, m(f"/mod/{mid}/drive", 1.5)),
        ]
        cmds += [
            (33 + 1009 * j + 7 * i, m(f"/note/{mid}", 50 + j, 80 + 4 * j, 0.03)) for j in range(9)
        ]
        cmds += [(2345 + i, m(f"/mod/{mid}/cutoff", 600)), (4321 + i, m(f"/mod/{mid}/res", 0.8))]
    cmds += [(6003, m("/gate/n0", 1)), (7501, m("/gate/n0", 0)), (8888, m("/panic"))]
    cmds += [(9001, m("/note/n1", 60, 127, 0.02))]
    return cmds


FRAMES = 10000


def test_block_size_invariance() -> None:
    assert_block_size_invariant(song(), FRAMES, SR)


def test_renders_are_bit_identical() -> None:
    a = render_offline(song(), FRAMES, block=128)
    b = render_offline(song(), FRAMES, block=128)
    assert np.abs(a).max() > 0.05
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("module_type", NOISES)
def test_load_state_continues_bit_identically(module_type: str) -> None:
    a = create_module(module_type, SR, 128)
    a.set_param("voices", 3)
    for j in range(5):  # steals voices
        a.note_on(40 + j, 100, 700 + 300 * j)
        run(a, 333, 128)
    a.set_param("cutoff", 500)  # a ramp in flight at hand-over
    run(a, 5, 128)
    b = create_module(module_type, SR, 128)
    b.load_state(a.state())
    first, second = run(a, 4000, 128), run(b, 4000, 128)
    assert np.any(first != 0.0)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("module_type", NOISES)
def test_note_starts_on_its_exact_sample(module_type: str) -> None:
    for start in (1000, 1023, 1024, 1025):
        cmds = [
            (0, m("/patch/create", "x", module_type)),
            (0, m("/patch/connect", "x", "master")),
            (start, m("/note/x", 60, 100, 0.1)),
        ]
        out = render_offline(cmds, 2000, block=128)
        first = int(np.flatnonzero(np.any(out != 0.0, axis=1))[0])
        assert first == start, (module_type, start, first)


@pytest.mark.parametrize("kind", ["noise", "pink", "snare", "hat"])
def test_two_modules_of_one_type_draw_different_noise(kind: str) -> None:
    from chronus.protocol import validate

    def render(ids: tuple[str, ...]) -> dict[str, npt.NDArray[np.float32]]:
        outputs = {}
        for module_id in ids:
            cmds = [
                (0, validate("/patch/create", (module_id, kind))),
                (0, validate("/patch/connect", (module_id, "master"))),
                (100, validate(f"/note/{module_id}", (60, 100, 0.05))),
            ]
            outputs[module_id] = render_in_chunks(cmds, 4096, 128, 128, SR)
        return outputs

    first = render(("a", "b"))
    again = render(("a",))
    assert np.abs(first["a"]).max() > 0.01
    assert not np.array_equal(first["a"], first["b"])  # seeded from the module id
    np.testing.assert_array_equal(first["a"], again["a"])  # and the same every render
