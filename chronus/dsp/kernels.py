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
    "CONTROL_ROWS",
    "CTRL_PERIOD",
    "NYQUIST_DT",
    "SMOOTH_PARAMS",
    "SYNTH_SETTINGS",
    "VOICE_FLOATS",
    "VOICE_INTS",
    "WAVE_NOISE",
    "WAVE_PINK",
    "WAVE_SAW",
    "WAVE_SINE",
    "WAVE_SQUARE",
    "WAVE_TRIANGLE",
    "blamp",
    "blep",
    "drive_gains",
    "entry",
    "fast_tan",
    "fast_tanh",
    "fill_zero",
    "hat_block",
    "kick_block",
    "master_block",
    "mix_block",
    "noise",
    "noise_seed",
    "oscillator",
    "same_values",
    "snare_block",
    "svf_coefs",
    "svf_tick",
    "synth_block",
    "synth_controls",
    "synth_note_on",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F = TypeVar("F", bound=Callable[..., Any])

WAVE_SAW = 0
WAVE_SINE = 1
WAVE_SQUARE = 2
WAVE_TRIANGLE = 3
WAVE_NOISE = 4
"""White noise: uniform in [-1, 1] from a per-voice xorshift; the note's pitch is unused."""
WAVE_PINK = 5
"""Pink noise (−3 dB/octave): the white noise through Paul Kellet's refined filter."""

TWO_PI = 2.0 * math.pi
SILENT = 1e-5
"""Envelope level (−100 dB) below which a voice is finished."""


def jit(fn: F) -> F:
    """`numba.njit` with an on-disk cache, keeping the function's Python signature for mypy.

    `error_model="numpy"` drops Python's zero-division checks from the loops; no kernel
    divides by a value that can be zero.
    """
    return cast(F, numba.njit(cache=True, error_model="numpy")(fn))


def entry(kernel: F) -> F:
    """`kernel`'s compiled entry point, for a render path that calls it with the same kinds
    of arguments every time: numba's dispatcher types every argument of every call to choose
    a signature (~0.2 µs a call, more with many arguments); the entry point only converts
    them. The very same machine code, so the same samples. While the kernel has not exactly
    one signature (not compiled yet, or for more than one kind of argument), the kernel
    itself: it compiles, and chooses."""
    overloads = kernel.overloads  # type: ignore[attr-defined]
    if len(overloads) != 1:
        return kernel
    (compiled,) = overloads.values()
    return cast(F, compiled.entry_point)


def _approach(current: float, target: float, coef: float) -> float:
    """One step of one-pole smoothing: `coef` of the way to `target`, exactly on it once
    within 1e-9 (so a settled value stops moving and compares equal)."""
    d = target - current
    if d == 0.0:
        return current
    if abs(d) < 1e-9:
        return target
    return current + d * coef


approach = cast(
    Callable[[float, float, float], float],
    numba.njit(cache=True, error_model="numpy", inline="always")(_approach),
)
"""`_approach` compiled and inlined into every kernel that smooths (strips, routes, params)."""


def noise_seed(stream: int, index: int) -> int:
    """A non-zero 32-bit xorshift seed for voice `index` of noise stream `stream`.

    Distinct streams (white, pink, drums) and voices get unrelated seeds (a golden-ratio
    Weyl step, then a 32-bit mix), so voices and modules never share a sequence start.
    """
    x = (0x2545F491 + 0x9E3779B9 * (1 + index + 0x10001 * stream)) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & 0xFFFFFFFF
    x = ((x ^ (x >> 15)) * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x if x != 0 else 0x2545F491


@jit
def noise(rng: IntArray) -> float:
    """The next white-noise sample in [-1, 1] from a 32-bit xorshift held in `rng[0]` (≠ 0)."""
    x = rng[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    rng[0] = x
    return float(x) * (2.0 / 4294967295.0) - 1.0


BLEP_HALF = 12
"""Half-width in samples of the band-limited step: a note's edges are smoothed over ±12."""
BLEP_OS = 256
"""Table points per sample of the step residual (linear interpolation: error < 1e-5)."""
BLEP_CUTOFF = 0.4
"""Cutoff of the step's kernel in cycles per sample (19.2 kHz at 48 kHz)."""
BLEP_BETA = 8.0
"""Kaiser window β of the kernel: its side lobes, hence the aliases, stay below −80 dB."""


def _blep_table() -> FloatArray:
    """The residual of a band-limited unit step `u` samples before the step, u in [0, W].

    The step is the running integral of a Kaiser-windowed sinc (linear phase, so the edge
    stays on time and the pitch is untouched); after the step the residual is the negative
    mirror image. Entry `k` is at u = k / `BLEP_OS`; the last is 0.
    """
    w, os_ = BLEP_HALF, BLEP_OS
    t = np.arange(-w * os_, 1) / os_  # −W … 0
    window = np.i0(BLEP_BETA * np.sqrt(np.clip(1.0 - (t / w) ** 2, 0.0, None))) / np.i0(BLEP_BETA)
    h = 2.0 * BLEP_CUTOFF * np.sinc(2.0 * BLEP_CUTOFF * t) * window
    area = np.concatenate(([0.0], np.cumsum(0.5 * (h[1:] + h[:-1]))))
    area *= 0.5 / area[-1]  # the symmetric kernel reaches half the step at the edge
    table = np.ascontiguousarray(area[::-1])
    table[-1] = 0.0
    return table


BLEP_TABLE = _blep_table()
NYQUIST_DT = 0.5
"""A phase increment per sample at Nyquist; band-limited waves at or above it are silent."""


def _blamp_table(step: FloatArray) -> FloatArray:
    """The residual of a band-limited unit ramp (slope change 1 per sample) `u` samples from
    its corner, u in [0, W]: the integral of the step residual, A(u) = ∫_u^W R.

    The band-limited ramp is the running integral of the band-limited step, and the step's
    residual is odd in time, so the ramp's residual is even: the same A(|t|) before and
    after the corner (positive: a convex corner is rounded from above). Exact for the
    linearly interpolated step table; the last entry is 0.
    """
    segments = 0.5 * (step[1:] + step[:-1]) / BLEP_OS
    table = np.zeros_like(step)
    table[:-1] = np.cumsum(segments[::-1])[::-1]
    return table


BLAMP_TABLE = _blamp_table(BLEP_TABLE)


@jit
def blep(phase: float, dt: float) -> float:
    """The band-limited residual of unit steps at every wrap of `phase` (in [0, 1)).

    Sums the residuals of the wraps within `BLEP_HALF` samples, behind (`phase / dt` samples
    ago) and ahead; a step of height h at the wrap is corrected by adding −h × this. With
    `dt` = 0 (a frozen phase) there is no step and the result is 0.
    """
    if dt <= 0.0:
        return 0.0
    inv = 1.0 / dt
    acc = 0.0
    u = phase * inv
    while u < BLEP_HALF:
        x = u * BLEP_OS
        k = int(x)
        acc += BLEP_TABLE[k] + (x - k) * (BLEP_TABLE[k + 1] - BLEP_TABLE[k])
        u += inv
    u = (1.0 - phase) * inv
    while u < BLEP_HALF:
        x = u * BLEP_OS
        k = int(x)
        acc -= BLEP_TABLE[k] + (x - k) * (BLEP_TABLE[k + 1] - BLEP_TABLE[k])
        u += inv
    return acc


@jit
def _blamp_sum(u: float, inv: float) -> float:
    """Sum of the ramp residual at `u`, `u` + `inv`, … samples while within `BLEP_HALF`."""
    acc = 0.0
    while u < BLEP_HALF:
        x = u * BLEP_OS
        k = int(x)
        acc += BLAMP_TABLE[k] + (x - k) * (BLAMP_TABLE[k + 1] - BLAMP_TABLE[k])
        u += inv
    return acc


@jit
def blamp(phase: float, dt: float) -> float:
    """The band-limited residual of unit slope changes at every wrap of `phase` (in [0, 1)).

    Like `blep`, for corners instead of steps: a slope change of s per sample at the wrap is
    corrected by adding s × this. The residual is even, so corners behind and ahead add up
    with the same sign. With `dt` = 0 the result is 0.
    """
    if dt <= 0.0:
        return 0.0
    inv = 1.0 / dt
    return _blamp_sum(phase * inv, inv) + _blamp_sum((1.0 - phase) * inv, inv)


@jit
def oscillator(wave: int, phase: float, dt: float) -> float:
    """One sample of a waveform at `phase` in [0, 1), band-limited.

    Saw and square correct their steps with `blep`, the triangle its corners with `blamp`.
    Noise waves need state and are generated in `synth_block`; here they give 0. A pitched
    wave at or above Nyquist (`dt` ≥ ½) is silent: it has no partial below Nyquist to play.
    """
    if dt >= NYQUIST_DT and wave != WAVE_SINE:
        return 0.0
    if wave == WAVE_SAW:
        return 2.0 * phase - 1.0 + 2.0 * blep(phase, dt)
    if wave == WAVE_SINE:
        return math.sin(TWO_PI * phase)
    if wave == WAVE_SQUARE:
        half = phase + 0.5
        if half >= 1.0:
            half -= 1.0
        square = 1.0 if phase < 0.5 else -1.0
        return square - 2.0 * blep(phase, dt) + 2.0 * blep(half, dt)
    if wave == WAVE_TRIANGLE:
        # Starts at 0 like the sine, peaks at phase ¼ and bottoms at ¾. Its slope is ±4·dt per
        # sample, so the peak is a slope change of −8·dt and the trough one of +8·dt.
        quarter = phase + 0.25
        if quarter >= 1.0:
            quarter -= 1.0
        since_peak = phase - 0.25
        if since_peak < 0.0:
            since_peak += 1.0
        since_trough = phase - 0.75
        if since_trough < 0.0:
            since_trough += 1.0
        corners = blamp(since_trough, dt) - blamp(since_peak, dt)
        return 1.0 - 4.0 * abs(quarter - 0.5) + 8.0 * dt * corners
    return 0.0


TANH_EDGE = 4.971786858528273
"""Where the [7/6] Padé form of tanh reaches exactly 1; beyond it the result is ±1."""


@jit
def fast_tanh(x: float) -> float:
    """tanh within 1e-4 (−80 dB), continuous, monotone and bounded by ±1, at 1/5 libm's cost.

    The [7/6] Padé approximant (Lambert's continued fraction), clamped where it meets ±1.
    """
    if x >= TANH_EDGE:
        return 1.0
    if x <= -TANH_EDGE:
        return -1.0
    x2 = x * x
    num = x * (135135.0 + x2 * (17325.0 + x2 * (378.0 + x2)))
    return num / (135135.0 + x2 * (62370.0 + x2 * (3150.0 + 28.0 * x2)))


@jit
def fast_tan(x: float) -> float:
    """tan for 0 ≤ x ≤ 0.45π (a filter's prewarping) within 4e-9 relative, 6× cheaper than libm.

    The [7/6] Padé approximant; its pole lies just beyond π/2.
    """
    x2 = x * x
    num = x * (135135.0 - x2 * (17325.0 - x2 * (378.0 - x2)))
    return num / (135135.0 - x2 * (62370.0 - x2 * (3150.0 - 28.0 * x2)))


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


CTRL_PERIOD = 8
"""Samples between two updates of a voice's filter coefficients (on an absolute grid)."""
CURVE_END = math.exp(-4.0)
"""The filter envelope is SuperCollider's curve −4 segment from 1 to 0: exp(−4t/T), offset."""
CURVE_NORM = 1.0 / (1.0 - CURVE_END)

# Columns of a synth's per-voice float state (one row per voice).
F_PHASE0, F_PHASE1, F_CUR_INC, F_BASE_INC, F_LEVEL, F_VGAIN = 0, 1, 2, 3, 4, 5
F_IC1, F_IC2, F_FENV, F_STALE, F_C11, F_C1S, F_C2S = 6, 7, 8, 9, 10, 11, 12
F_PINK0 = 13
"""F_PINK0 … F_PINK0 + 6: the memories b0–b6 of the pink-noise filter."""
VOICE_FLOATS = 20
"""F_STALE < 0 asks for the filter coefficients (c11 = 2a1 − 1, c1s = 2a2, c2s = 2a3 of the
TPT SVF) to be derived on the next sample."""
# Columns of a synth's per-voice int state.
I_STAGE, I_REMAINING, I_SERIAL, I_RNG = 0, 1, 2, 3
VOICE_INTS = 4
"""I_RNG: the voice's 32-bit xorshift state (noise waves), never 0."""

# Paul Kellet's refined pink filter (six one-poles and a one-sample delay, summed with the
# white input): within ±0.05 dB of −3 dB/octave from 9.2 Hz × (sample rate / 44.1 kHz) to
# Nyquist. Poles, input gains, direct and delayed gains.
PINK_POLES = (0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616)
PINK_GAINS = (0.0555179, 0.0750759, 0.1538520, 0.3104856, 0.5329522, -0.0168980)
PINK_DIRECT = 0.5362
PINK_DELAYED = 0.115926


def _pink_norm() -> float:
    """The gain that gives the pink output the RMS of its white input (that of a saw)."""
    poles, gains = np.array(PINK_POLES), np.array(PINK_GAINS)
    energy = float(np.sum(np.outer(gains, gains) / (1.0 - np.outer(poles, poles))))
    energy += PINK_DIRECT**2 + PINK_DELAYED**2
    energy += 2.0 * PINK_DIRECT * float(gains.sum()) + 2.0 * PINK_DELAYED * float(gains @ poles)
    return 1.0 / math.sqrt(energy)


PINK_NORM = _pink_norm()
P0, P1, P2, P3, P4, P5 = PINK_POLES
G0, G1, G2, G3, G4, G5 = (g * PINK_NORM for g in PINK_GAINS)
G_DIRECT = PINK_DIRECT * PINK_NORM
G_DELAYED = PINK_DELAYED * PINK_NORM
SYNTH_SETTINGS = 9
"""attack step, decay coef, sustain, release coef, filter env coef, glide coef, sample rate,
oscillator ratios (2)."""


SMOOTH_PARAMS = 6
"""Columns of a synth's `smooth`: log2 cutoff, res, amp, env amount, drive, bend (octaves)."""
CONTROL_ROWS = 7
"""Rows of a synth's `controls`: cutoff (Hz), SVF damping k, amp, env amount, drive in, out,
pitch ratio of the bend."""


@jit
def drive_gains(drive: float) -> tuple[float, float]:
    """Gains into and out of the tanh for a `drive`.

    Below 1 the curve is scaled back to unity slope, so drive → 0 fades continuously to
    clean; 0 bypasses the tanh.
    """
    if drive >= 1.0:
        return drive, 1.0
    if drive > 0.0:
        return drive, 1.0 / drive
    return 0.0, 0.0


@jit
def synth_controls(n: int, smooth: FloatArray, controls: FloatArray) -> bool:
    """Advance a synth's smoothed parameters (`SMOOTH_PARAMS`) by `n` samples.

    `smooth` rows are current, target and per-sample coefficient. Returns False when none
    is moving (the current values then hold for the whole block); otherwise writes the
    per-sample values into `controls[:, :n]` (see `CONTROL_ROWS`).
    """
    cur = smooth[0]
    tgt = smooth[1]
    coef = smooth[2]
    settled = True
    for p in range(SMOOTH_PARAMS):
        if cur[p] != tgt[p]:
            settled = False
    if settled:
        return False
    fc_log = cur[0]
    cutoff = 2.0**fc_log
    for i in range(n):
        for p in range(SMOOTH_PARAMS):
            cur[p] = approach(cur[p], tgt[p], coef[p])
        if cur[0] != fc_log:
            fc_log = cur[0]
            cutoff = 2.0**fc_log
        controls[0, i] = cutoff
        controls[1, i] = 2.0 - 1.96 * cur[1]
        controls[2, i] = cur[2]
        controls[3, i] = cur[3]
        controls[4, i], controls[5, i] = drive_gains(cur[4])
        controls[6, i] = 2.0 ** cur[5]
    return True


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})  # fused multiply-adds only
def synth_block(
    out: FloatArray,
    n: int,
    wave: int,
    fv: FloatArray,
    iv: IntArray,
    smooth: FloatArray,
    controls: FloatArray,
    settings: FloatArray,
    clock: IntArray,
) -> None:
    """Write `n` samples of a polyphonic acid synth into `out[:n]`: all voices in one call.

    Per voice (row of `fv`, `iv`; see the F_ and I_ columns): two oscillators (phases, increments
    `cur_inc × ratio[o]` gliding towards `base_inc`; one when the ratios are equal), or for the
    noise waves one noise source from the voice's own xorshift state (and, for pink, filter
    memories) → low-pass TPT SVF whose cutoff is the smoothed cutoff × (1 + env amount × filter
    envelope), the envelope a curve −4 decay retriggered per note → drive (tanh) → ADSR (`level`;
    stage 0 idle, 1 attack, 2 decay/sustain, 3 release; `remaining` gate samples, −1 = held) ×
    velocity gain, then × amp. A voice's filter coefficients are derived every `CTRL_PERIOD` samples
    of the absolute clock (`clock[0]` counts modulo it), so chunking changes nothing. `settings`:
    see `SYNTH_SETTINGS`; `smooth`: see `synth_controls`.

    The voice loop is outside the sample loop so that a voice's state stays in registers;
    few arguments keep numba's per-call dispatch cheap.
    """
    attack_step = settings[0]
    decay_coef = settings[1]
    sustain = settings[2]
    release_coef = settings[3]
    env_coef = settings[4]
    glide_coef = settings[5]
    sample_rate = settings[6]
    r0 = settings[7]
    r1 = settings[8]
    two = r0 != r1 and wave < WAVE_NOISE
    noisy = wave >= WAVE_NOISE
    top = 0.45 * sample_rate
    w_scale = math.pi / sample_rate
    cutoff = 2.0 ** smooth[0, 0]
    k = 2.0 - 1.96 * smooth[0, 1]
    amp = smooth[0, 2]
    env_amount = smooth[0, 3]
    drive_in, drive_out = drive_gains(smooth[0, 4])
    bend = 2.0 ** smooth[0, 5]
    moving = synth_controls(n, smooth, controls)
    for i in range(n):
        out[i] = 0.0
    active = False
    start_clock = clock[0]
    for v in range(fv.shape[0]):
        st = iv[v, I_STAGE]
        if st == 0:
            continue
        active = True
        rem = iv[v, I_REMAINING]
        lv = fv[v, F_LEVEL]
        inc = fv[v, F_CUR_INC]
        target = fv[v, F_BASE_INC]
        p0 = fv[v, F_PHASE0]
        p1 = fv[v, F_PHASE1]
        ic1 = fv[v, F_IC1]
        ic2 = fv[v, F_IC2]
        fe = fv[v, F_FENV]
        stale = fv[v, F_STALE] < 0.0
        c11 = fv[v, F_C11]
        c1s = fv[v, F_C1S]
        c2s = fv[v, F_C2S]
        gain = fv[v, F_VGAIN]
        seed = iv[v, I_RNG]
        b0 = fv[v, F_PINK0]
        b1 = fv[v, F_PINK0 + 1]
        b2 = fv[v, F_PINK0 + 2]
        b3 = fv[v, F_PINK0 + 3]
        b4 = fv[v, F_PINK0 + 4]
        b5 = fv[v, F_PINK0 + 5]
        b6 = fv[v, F_PINK0 + 6]
        ck = start_clock
        last_fc = last_k = -1.0
        for i in range(n):
            if rem == 0 and st != 3:
                st = 3
            elif rem > 0:
                rem -= 1
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
                    st = 0
                    lv = 0.0
                    ic1 = ic2 = 0.0
                    break
            if inc != target:
                inc += (target - inc) * glide_coef
                if abs(target - inc) <= 1e-12 * target:
                    inc = target
            if ck == 0 or stale:
                stale = False
                e = (fe - CURVE_END) * CURVE_NORM
                if e < 0.0:
                    e = 0.0
                if moving:
                    cutoff = controls[0, i]
                    k = controls[1, i]
                    env_amount = controls[3, i]
                fc = cutoff * (1.0 + env_amount * e)
                if fc > top:
                    fc = top
                elif fc < 20.0:
                    fc = 20.0
                if fc != last_fc or k != last_k:  # a still filter (no envelope) costs nothing
                    last_fc = fc
                    last_k = k
                    g = fast_tan(w_scale * fc)
                    a1 = 1.0 / (1.0 + g * (g + k))
                    c11 = 2.0 * a1 - 1.0
                    c1s = 2.0 * g * a1
                    c2s = g * c1s
            ck += 1
            if ck == CTRL_PERIOD:
                ck = 0
            fe *= env_coef
            if moving:
                bend = controls[6, i]
            dt = inc * r0 * bend
            p0 += dt
            if p0 >= 1.0:
                p0 -= 1.0
                if p0 >= 1.0:  # above the sample rate: dt > 1
                    p0 -= math.floor(p0)
            if wave == WAVE_SAW:  # the common case
                x = 2.0 * p0 - 1.0 + 2.0 * blep(p0, dt) if dt < NYQUIST_DT else 0.0
            elif noisy:
                seed ^= (seed << 13) & 0xFFFFFFFF
                seed ^= seed >> 17
                seed ^= (seed << 5) & 0xFFFFFFFF
                x = float(seed) * (2.0 / 4294967295.0) - 1.0
                if wave == WAVE_PINK:
                    b0 = P0 * b0 + G0 * x
                    b1 = P1 * b1 + G1 * x
                    b2 = P2 * b2 + G2 * x
                    b3 = P3 * b3 + G3 * x
                    b4 = P4 * b4 + G4 * x
                    b5 = P5 * b5 + G5 * x
                    pink = b0 + b1 + b2 + b3 + b4 + b5 + b6 + G_DIRECT * x
                    b6 = G_DELAYED * x
                    x = pink
            else:
                x = oscillator(wave, p0, dt)
            if two:
                dt = inc * r1 * bend
                p1 += dt
                if p1 >= 1.0:
                    p1 -= 1.0
                    if p1 >= 1.0:
                        p1 -= math.floor(p1)
                x = 0.5 * (x + oscillator(wave, p1, dt))
            # The TPT SVF in state-space form: the same filter with a shorter loop-carried
            # chain and three coefficients; its low-pass output is the mean of old and new s2.
            v3 = x - ic2
            t1 = c11 * ic1 + c1s * v3
            t2 = ic2 + c2s * v3 + c1s * ic1
            low = 0.5 * (ic2 + t2)
            ic1 = t1
            ic2 = t2
            if moving:
                drive_in = controls[4, i]
                drive_out = controls[5, i]
            if drive_in > 0.0:
                low = fast_tanh(drive_in * low) * drive_out
            out[i] += low * lv * gain
        iv[v, I_STAGE] = st
        iv[v, I_REMAINING] = rem
        fv[v, F_LEVEL] = lv
        fv[v, F_CUR_INC] = inc
        fv[v, F_PHASE0] = p0
        fv[v, F_PHASE1] = p1 if two else p0
        fv[v, F_IC1] = ic1
        fv[v, F_IC2] = ic2
        fv[v, F_FENV] = fe if fe > 1e-30 else 0.0
        fv[v, F_STALE] = -1.0 if stale else 0.0
        fv[v, F_C11] = c11
        fv[v, F_C1S] = c1s
        fv[v, F_C2S] = c2s
        if noisy:
            iv[v, I_RNG] = seed
            fv[v, F_PINK0] = b0
            fv[v, F_PINK0 + 1] = b1
            fv[v, F_PINK0 + 2] = b2
            fv[v, F_PINK0 + 3] = b3
            fv[v, F_PINK0 + 4] = b4
            fv[v, F_PINK0 + 5] = b5
            fv[v, F_PINK0 + 6] = b6
    if active:
        if moving:
            for i in range(n):
                out[i] *= controls[2, i]
        else:
            for i in range(n):
                out[i] *= amp
    clock[0] = (start_clock + n) % CTRL_PERIOD


@jit
def synth_note_on(
    fv: FloatArray,
    iv: IntArray,
    inc: float,
    start_inc: float,
    length: int,
    vgain: float,
    serial: int,
) -> int:
    """Start a note on a synth's voices; returns the voice it took.

    The voice is an idle one, else the oldest releasing one, else the oldest of all. A
    stolen voice keeps its phase, level and filter memory (no click); an idle one starts
    from zero. `start_inc` is where a glide starts (`inc` when there is none).
    """
    voices = iv.shape[0]
    v = -1
    for j in range(voices):
        if iv[j, I_STAGE] == 0:
            v = j
            break
    if v < 0:
        for j in range(voices):
            if iv[j, I_STAGE] == 3 and (v < 0 or iv[j, I_SERIAL] < iv[v, I_SERIAL]):
                v = j
    if v < 0:
        v = 0
        for j in range(1, voices):
            if iv[j, I_SERIAL] < iv[v, I_SERIAL]:
                v = j
    if iv[v, I_STAGE] == 0:
        fv[v, F_PHASE0] = 0.0
        fv[v, F_PHASE1] = 0.0
        fv[v, F_LEVEL] = 0.0
        fv[v, F_IC1] = 0.0
        fv[v, F_IC2] = 0.0
    fv[v, F_FENV] = 1.0
    fv[v, F_STALE] = -1.0
    fv[v, F_CUR_INC] = start_inc
    fv[v, F_BASE_INC] = inc
    fv[v, F_VGAIN] = vgain
    iv[v, I_STAGE] = 1
    iv[v, I_REMAINING] = length
    iv[v, I_SERIAL] = serial
    return v


AHEAD_COLUMNS = 6
"""A note waiting inside a synth's next block: (sample in the block, then `synth_note_on`'s
inc, start_inc, length, vgain, serial)."""


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})  # as `synth_block`
def synth_block_ahead(
    out: FloatArray,
    n: int,
    wave: int,
    fv: FloatArray,
    iv: IntArray,
    smooth: FloatArray,
    controls: FloatArray,
    settings: FloatArray,
    clock: IntArray,
    ahead: FloatArray,
    count: int,
) -> None:
    """`synth_block` with the first `count` notes of `ahead` (rows of `AHEAD_COLUMNS`, in the
    order of their samples, each < n) started at their samples: the block rendered in
    pieces between them, exactly as blocks split there would be."""
    done = 0
    for j in range(count):
        at = int(ahead[j, 0])
        if at > done:
            synth_block(out[done:], at - done, wave, fv, iv, smooth, controls, settings, clock)
            done = at
        synth_note_on(
            fv, iv, ahead[j, 1], ahead[j, 2], int(ahead[j, 3]), ahead[j, 4], int(ahead[j, 5])
        )
    if n > done:
        synth_block(out[done:], n - done, wave, fv, iv, smooth, controls, settings, clock)


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
            gain[c] = approach(gain[c], target[c], coef)
        x = src[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        acc[i, 0] += x * gain[0]
        acc[i, 1] += x * gain[1]
    return bad


@jit
def same_values(a: FloatArray, b: FloatArray) -> bool:
    """Whether the 1-D arrays `a` and `b` (views of any stride) hold equal values."""
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


@jit
def exceeds(buf: npt.NDArray[np.float32], threshold: float) -> bool:
    """Whether any sample of `buf` (frames, channels) lies outside ±`threshold`; one pass."""
    for i in range(buf.shape[0]):
        for c in range(buf.shape[1]):
            if abs(buf[i, c]) > threshold:
                return True
    return False


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
