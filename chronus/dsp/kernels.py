"""Numba kernels: every per-sample recursion of the DSP layer.

Each kernel works on preallocated arrays in place and returns at most a count, so a block
allocates nothing. State (phases, envelopes, filter memories, noise seeds) lives in arrays
owned by the module, never in the kernel, so rendering in one block or in many gives the same
samples. Everything is computed sample by sample; nothing depends on where a block starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "WAVE_SAW",
    "WAVE_SINE",
    "WAVE_SQUARE",
    "WAVE_TRIANGLE",
    "fill_zero",
    "hat_block",
    "kick_block",
    "master_block",
    "mix_block",
    "noise",
    "oscillator",
    "polyblep",
    "snare_block",
    "svf_coefs",
    "svf_tick",
    "synth_block",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F = TypeVar("F", bound=Callable[..., Any])

WAVE_SAW = 0
WAVE_SINE = 1
WAVE_SQUARE = 2
WAVE_TRIANGLE = 3

TWO_PI = 2.0 * math.pi
SILENT = 1e-5
"""Envelope level (−100 dB) below which a voice is finished."""


def jit(fn: F) -> F:
    """`numba.njit` with an on-disk cache, keeping the function's Python signature for mypy.

    `error_model="numpy"` drops Python's zero-division checks from the loops; no kernel
    divides by a value that can be zero.
    """
    return cast(F, numba.njit(cache=True, error_model="numpy")(fn))


@jit
def noise(rng: IntArray) -> float:
    """The next white-noise sample in [-1, 1] from a 32-bit xorshift held in `rng[0]` (≠ 0)."""
    x = rng[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    rng[0] = x
    return float(x) * (2.0 / 4294967295.0) - 1.0


@jit
def polyblep(t: float, dt: float) -> float:
    """The band-limited step residual at phase `t` for a phase increment `dt`."""
    if t < dt:
        t /= dt
        return t + t - t * t - 1.0
    if t > 1.0 - dt:
        t = (t - 1.0) / dt
        return t * t + t + t + 1.0
    return 0.0


@jit
def oscillator(wave: int, phase: float, dt: float) -> float:
    """One sample of a waveform at `phase` in [0, 1); saw and square are PolyBLEP."""
    if wave == WAVE_SAW:
        return 2.0 * phase - 1.0 - polyblep(phase, dt)
    if wave == WAVE_SINE:
        return math.sin(TWO_PI * phase)
    if wave == WAVE_SQUARE:
        half = phase + 0.5
        if half >= 1.0:
            half -= 1.0
        square = 1.0 if phase < 0.5 else -1.0
        return square + polyblep(phase, dt) - polyblep(half, dt)
    # Triangle starts at 0 like the sine; its harmonics fall at 12 dB/octave, so the
    # aliasing of the naive form stays low.
    quarter = phase + 0.25
    if quarter >= 1.0:
        quarter -= 1.0
    return 1.0 - 4.0 * abs(quarter - 0.5)


@jit
def svf_coefs(cutoff: float, k: float, sample_rate: float) -> tuple[float, float, float]:
    """Coefficients of the trapezoidal (TPT) state-variable filter; `k` = 1/Q."""
    g = math.tan(math.pi * cutoff / sample_rate)
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    return a1, a2, g * a2


@jit
def svf_tick(
    x: float, ic: FloatArray, j: int, a1: float, a2: float, a3: float, k: float
) -> tuple[float, float, float]:
    """One sample through a TPT SVF whose two memories are `ic[j]`, `ic[j + 1]`.

    Returns (low-pass, band-pass, high-pass). Stable under per-sample coefficient changes.
    """
    ic1 = ic[j]
    ic2 = ic[j + 1]
    v3 = x - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    ic[j] = 2.0 * v1 - ic1
    ic[j + 1] = 2.0 * v2 - ic2
    return v2, v1, x - k * v1 - v2


@jit
def synth_block(
    out: FloatArray,
    n: int,
    wave: int,
    phase: FloatArray,
    cur_inc: FloatArray,
    base_inc: FloatArray,
    ratio: FloatArray,
    glide_coef: float,
    level: FloatArray,
    stage: IntArray,
    remaining: IntArray,
    vgain: FloatArray,
    ic: FloatArray,
    smooth_cur: FloatArray,
    smooth_tgt: FloatArray,
    smooth_coef: FloatArray,
    env: FloatArray,
    sample_rate: float,
) -> None:
    """Write `n` samples of a polyphonic synth into `out[:n]`.

    Per voice `v`: two oscillators (phases `phase[2v]`, `phase[2v+1]`, increments
    `cur_inc[v] * ratio[o]`, gliding towards `base_inc[v]`), an ADSR (`level`, `stage`:
    0 idle, 1 attack, 2 decay/sustain, 3 release; `remaining` gate samples, -1 = held) and a
    low-pass SVF (memories `ic[2v:2v+2]`). `smooth_cur` holds log2(cutoff), res and amp,
    each moving towards `smooth_tgt` by `smooth_coef` per sample. `env` is (attack step,
    decay coefficient, sustain, release coefficient).
    """
    voices = level.shape[0]
    attack_step = env[0]
    decay_coef = env[1]
    sustain = env[2]
    release_coef = env[3]
    top = 0.45 * sample_rate
    fc_log = -1.0
    res = -1.0
    k = 2.0
    a1 = a2 = a3 = 0.0
    for i in range(n):
        for p in range(3):
            d = smooth_tgt[p] - smooth_cur[p]
            if d != 0.0:
                if abs(d) < 1e-9:
                    smooth_cur[p] = smooth_tgt[p]
                else:
                    smooth_cur[p] += d * smooth_coef[p]
        if smooth_cur[0] != fc_log or smooth_cur[1] != res:
            fc_log = smooth_cur[0]
            res = smooth_cur[1]
            k = 2.0 - 1.96 * res
            a1, a2, a3 = svf_coefs(min(2.0**fc_log, top), k, sample_rate)
        acc = 0.0
        for v in range(voices):
            st = stage[v]
            if st == 0:
                continue
            if remaining[v] == 0 and st != 3:
                st = 3
            elif remaining[v] > 0:
                remaining[v] -= 1
            lv = level[v]
            if st == 1:
                lv += attack_step
                if lv >= 1.0:
                    lv = 1.0
                    st = 2
            elif st == 2:
                lv = sustain + (lv - sustain) * decay_coef
            else:
                lv *= release_coef
                if lv < SILENT:
                    level[v] = 0.0
                    stage[v] = 0
                    ic[2 * v] = 0.0
                    ic[2 * v + 1] = 0.0
                    continue
            level[v] = lv
            stage[v] = st
            target = base_inc[v]
            inc = cur_inc[v]
            if inc != target:
                inc += (target - inc) * glide_coef
                if abs(target - inc) <= 1e-12 * target:
                    inc = target
                cur_inc[v] = inc
            s = 0.0
            for o in range(2):
                dt = inc * ratio[o]
                ph = phase[2 * v + o] + dt
                if ph >= 1.0:
                    ph -= 1.0
                phase[2 * v + o] = ph
                s += oscillator(wave, ph, dt)
            low, _, _ = svf_tick(0.5 * s, ic, 2 * v, a1, a2, a3, k)
            acc += low * lv * vgain[v]
        out[i] = acc * smooth_cur[2]


KICK_STATE = 6  # phase, pitch env, amp env, click env, gain, active


@jit
def kick_block(out: FloatArray, n: int, s: FloatArray, rng: IntArray, settings: FloatArray) -> None:
    """Write `n` samples of a kick: a sine swept down in pitch, plus a click of noise.

    `settings` = (base increment, sweep depth, pitch coef, amp coef, click coef, click level).
    """
    base_inc = settings[0]
    sweep = settings[1]
    for i in range(n):
        if s[5] == 0.0:
            out[i] = 0.0
            continue
        ph = s[0] + base_inc * (1.0 + sweep * s[1])
        if ph >= 1.0:
            ph -= 1.0
        s[0] = ph
        y = math.sin(TWO_PI * ph) * s[2] + noise(rng) * s[3] * settings[5]
        out[i] = y * s[4]
        s[1] *= settings[2]
        s[2] *= settings[3]
        s[3] *= settings[4]
        if s[2] < SILENT:
            s[0] = s[1] = s[2] = s[3] = s[5] = 0.0


SNARE_STATE = 8  # phase 1, phase 2, body env, noise env, gain, active, filter memories (2)


@jit
def snare_block(
    out: FloatArray, n: int, s: FloatArray, rng: IntArray, settings: FloatArray
) -> None:
    """Write `n` samples of a snare: two decaying sines plus band-passed noise.

    `settings` = (inc 1, inc 2, body coef, noise coef, a1, a2, a3, k, noise gain); the
    band-pass output peaks at 1/k, so the noise gain includes k.
    """
    for i in range(n):
        if s[5] == 0.0:
            out[i] = 0.0
            continue
        p1 = s[0] + settings[0]
        if p1 >= 1.0:
            p1 -= 1.0
        p2 = s[1] + settings[1]
        if p2 >= 1.0:
            p2 -= 1.0
        s[0] = p1
        s[1] = p2
        body = (math.sin(TWO_PI * p1) + 0.5 * math.sin(TWO_PI * p2)) * s[2]
        _, band, _ = svf_tick(noise(rng), s, 6, settings[4], settings[5], settings[6], settings[7])
        out[i] = (0.6 * body + settings[8] * band * s[3]) * s[4]
        s[2] *= settings[2]
        s[3] *= settings[3]
        if s[2] < SILENT and s[3] < SILENT:
            for j in range(8):
                s[j] = 0.0


HAT_STATE = 5  # env, gain, active, filter memories (2)


@jit
def hat_block(out: FloatArray, n: int, s: FloatArray, rng: IntArray, settings: FloatArray) -> None:
    """Write `n` samples of a hi-hat: high-passed noise with an exponential decay.

    `settings` = (env coef, a1, a2, a3, k).
    """
    for i in range(n):
        if s[2] == 0.0:
            out[i] = 0.0
            continue
        _, _, high = svf_tick(noise(rng), s, 3, settings[1], settings[2], settings[3], settings[4])
        out[i] = high * s[0] * s[1]
        s[0] *= settings[0]
        if s[0] < SILENT:
            for j in range(5):
                s[j] = 0.0


@jit
def fill_zero(buf: FloatArray, n: int) -> None:
    """Zero `buf[:n]` (without creating a slice)."""
    for i in range(n):
        buf[i] = 0.0


@jit
def mix_block(
    acc: FloatArray,
    src: FloatArray,
    n: int,
    gain: FloatArray,
    target: FloatArray,
    coef: float,
) -> int:
    """Add mono `src[:n]` into stereo `acc[:n]` with gains (L, R) smoothed towards `target`.

    Non-finite input samples are replaced by 0; returns how many there were.
    """
    bad = 0
    for i in range(n):
        for c in range(2):
            d = target[c] - gain[c]
            if d != 0.0:
                if abs(d) < 1e-9:
                    gain[c] = target[c]
                else:
                    gain[c] += d * coef
        x = src[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        acc[i, 0] += x * gain[0]
        acc[i, 1] += x * gain[1]
    return bad


@jit
def master_block(
    acc: FloatArray,
    out: npt.NDArray[np.float32],
    offset: int,
    n: int,
    limiter: FloatArray,
    threshold: float,
    release_coef: float,
) -> int:
    """Write the master bus `acc[:n]` into `out[offset:offset+n, :2]`, then zero `acc[:n]`.

    Non-finite samples become 0 (returns how many). A peak limiter with instant attack keeps
    every sample within ±`threshold`; its gain (`limiter[0]`) recovers towards 1 by
    `release_coef` per sample. A final clip at ±1 is a guarantee, not a sound.
    """
    bad = 0
    g = limiter[0]
    for i in range(n):
        left = acc[i, 0]
        right = acc[i, 1]
        acc[i, 0] = 0.0
        acc[i, 1] = 0.0
        if not math.isfinite(left):
            left = 0.0
            bad += 1
        if not math.isfinite(right):
            right = 0.0
            bad += 1
        g += (1.0 - g) * release_coef
        peak = max(abs(left), abs(right))
        if peak * g > threshold:
            g = threshold / peak
        left = min(max(left * g, -1.0), 1.0)
        right = min(max(right * g, -1.0), 1.0)
        out[offset + i, 0] = left
        out[offset + i, 1] = right
    limiter[0] = g
    return bad
