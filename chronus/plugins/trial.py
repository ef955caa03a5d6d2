"""The test renders of a module class: what `chronus.plugins.validation` runs after it has
imported a plugin and checked its parameters (checks 4–8 there).

A `_Rig` makes one instance with seeded random parameter values in range and feeds it
fixed notes and a fixed input, block by block, with its output buffer filled with NaN
first; `exercise` renders it, renders a second fresh instance and compares (and the
dual-mono path with the stereo one), hands the state of a third over to a fourth (pickled,
as between processes), and judges the CPU per block. What fails raises `CheckFailed` with
its `error_type`.
"""

from __future__ import annotations

import errno
import math
import pickle
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp.guard import call_mono, call_source, call_stereo
from chronus.dsp.module import Module, Processor
from chronus.dsp.params import ParamSpec

__all__ = [
    "CheckFailed", "CheckSettings", "crc32", "exercise", "failure", "first_render", "guard",
]  # fmt: skip

FloatArray = npt.NDArray[np.float64]
MESSAGE_CHARS = 300
"""An exception's own text is cut to this many characters: replies travel in UDP packets."""


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """How a module is exercised: the engine's rate and block, how long, and the budget."""

    sample_rate: int = 48000
    block: int = 128
    warmup_blocks: int = 8
    """Blocks rendered before any is timed (numba compiles on first call)."""
    timed_blocks: int = 96
    """Full blocks timed after the warm-up."""
    capture_at: int = 24
    """The block after which the round trip captures the state."""
    cpu_budget: float = 0.25
    """The p99 of CPU per block, and the median of wall-clock time per block, must stay
    below this share of the block's period."""
    seed: int = 1
    cross_process: bool = True
    """Whether the sandbox renders once more in a second process and compares (see
    `render_crc32`); `run_checks` alone cannot."""

    @property
    def budget_us(self) -> float:
        """The CPU budget per block in microseconds."""
        return self.cpu_budget * 1e6 * self.block / self.sample_rate


class CheckFailed(Exception):
    """A check the module failed: its `error_type` and a message for people."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _where(exc: BaseException, path: str) -> str:
    """` (line N)` of the deepest frame in the plugin's file, or ""."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    return "" if line is None else f" (line {line})"


def _text(make: Callable[[], str]) -> str:
    """Text the module made (an exception's message), cut short; it may fail to make it."""
    try:
        text = make()
    except Exception:
        return "(its message cannot be shown)"
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "…"


def failure(exc: BaseException, error_type: str, doing: str, path: str) -> CheckFailed:
    """What an exception raised while `doing` something means."""
    if isinstance(exc, CheckFailed):
        return exc
    if isinstance(exc, SystemExit):
        code = _text(lambda: repr(exc.code))
        return CheckFailed("exit", f"{doing}: the module raised SystemExit({code})")
    if isinstance(exc, MemoryError):
        return CheckFailed("memory", f"{doing}: the module went past the memory limit")
    text = _text(lambda: str(exc).strip())
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, PermissionError) and exc.errno == errno.EPERM:
        detail += (" (the sandbox lets no module start a process, run a program or signal "
                   "another process)")  # fmt: skip
    return CheckFailed(error_type, f"{doing} raised {detail}{_where(exc, path)}")


def guard(error_type: str, doing: str, path: str, call: Callable[[], Any]) -> Any:
    """`call()`, with what it raises turned into `CheckFailed` (see `failure`)."""
    try:
        return call()
    except BaseException as exc:
        raise failure(exc, error_type, doing, path) from None


def _random_params(specs: tuple[ParamSpec, ...], seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {s.name: float(rng.uniform(s.minimum, s.maximum)) for s in specs}


def _sizes(settings: CheckSettings) -> list[int]:
    """Block sizes of a test render: full blocks, and a partial one now and then (the graph
    splits a block where an event lands) — but only full ones while timed."""
    block = settings.block
    sizes = [block if k % 5 else 1 + (k * 37) % block for k in range(settings.warmup_blocks)]
    sizes[0] = block
    return sizes + [block] * settings.timed_blocks


_EVENTS: dict[int, tuple[str, tuple[Any, ...]]] = {
    0: ("note_on", (60.0, 100.0, 1024)),
    6: ("note_on", (67.0, 80.0, -1)),
    20: ("gate", (False,)),
    30: ("note_on", (48.0, 127.0, 4000)),
    70: ("note_on", (72.0, 64.0, 300)),
}
"""Notes the test render plays, by block (processors get them too, as in the graph)."""


class _Rig:
    """One instance of the module under test, fed a fixed input and fixed events."""

    def __init__(
        self,
        cls: type[Module],
        params: dict[str, float],
        settings: CheckSettings,
        signal: FloatArray,
        path: str,
    ) -> None:
        self.path = path
        self.settings = settings
        self.signal = signal
        self.module: Module = guard("exception", "making the module", path,
                             lambda: cls(settings.sample_rate, settings.block))  # fmt: skip
        self.processor = isinstance(self.module, Processor)
        block = settings.block
        self.inp = np.zeros((block, 2))
        self.inp_mono = np.zeros(block)
        self.out = np.zeros((block, 2) if self.processor else block)
        self.out_mono = np.zeros(block)

        def setup() -> None:
            self.module.reseed(12345)
            self.module.tempo_changed(120.0)
            for name, value in params.items():
                self.module.set_param(name, value)

        guard("exception", "setting its parameters", path, setup)

    def render(
        self, sizes: list[int], first: int, into: FloatArray, mono: bool = False
    ) -> list[tuple[int, int]]:
        """Render blocks `first`… of `sizes` into `into` (from the sample where block
        `first` starts); the thread CPU time and the wall time of each call in ns."""
        start = sum(sizes[:first])
        times: list[tuple[int, int]] = []
        for k in range(first, len(sizes)):
            n = sizes[k]
            if k in _EVENTS:
                self._event(k)
            t0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            written = self._block(k, n, start, mono)
            times.append((time.thread_time_ns() - t0, time.perf_counter_ns() - w0))
            if not np.isfinite(written).all():
                bad = int(np.count_nonzero(~np.isfinite(written)))
                raise CheckFailed(
                    "non_finite",
                    f"block {k}{' (dual mono)' if mono else ''}: {bad} of the samples written "
                    "are NaN or infinite (process must WRITE all of out[:n], finite)",
                )
            into[start : start + n] = written
            start += n
            guard("exception", f"quiet() (block {k})", self.path, self.module.quiet)
        return times

    def _event(self, k: int) -> None:
        method, args = _EVENTS[k]
        guard("exception", f"{method} (block {k})", self.path,
               lambda: getattr(self.module, method)(*args))  # fmt: skip

    def _block(self, k: int, n: int, start: int, mono: bool) -> FloatArray:
        module = self.module
        processor = cast(Processor, module)
        chunk = self.signal[start : start + n]
        if mono:
            self.inp_mono[:n] = chunk[:, 0]
            self.out_mono.fill(np.nan)
            guard("exception", f"process_mono (block {k})", self.path,
                   lambda: call_mono(processor, self.inp_mono, self.out_mono, n))  # fmt: skip
            return self.out_mono[:n]
        self.out.fill(np.nan)
        if self.processor:
            self.inp[:n] = chunk
            guard("exception", f"process_stereo (block {k})", self.path,
                   lambda: call_stereo(processor, self.inp, self.out, n))  # fmt: skip
        else:
            guard("exception", f"process (block {k})", self.path,
                   lambda: call_source(module, self.out, n))  # fmt: skip
        return self.out[:n]


def _test_signal(samples: int, seed: int, dual_mono: bool) -> FloatArray:
    """A deterministic input: a rising sine and seeded noise, different on each channel
    (the same on both for a dual-mono test)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 48000.0
    sweep = 0.5 * np.sin(2 * np.pi * (110.0 + 400.0 * t) * t)
    left = sweep + 0.2 * rng.standard_normal(samples)
    right = left if dual_mono else 0.5 * sweep - 0.3 * rng.standard_normal(samples)
    return np.ascontiguousarray(np.stack([left, right], axis=1))


def _first_difference(a: FloatArray, b: FloatArray, sizes: list[int]) -> str:
    index = int(np.flatnonzero((a != b).reshape(len(a), -1).any(axis=1))[0])
    block = int(np.searchsorted(np.cumsum(sizes), index, side="right"))
    return f"block {block}, sample {index}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def _plan(
    specs: tuple[ParamSpec, ...], settings: CheckSettings
) -> tuple[dict[str, float], list[int], FloatArray]:
    """The parameter values, block sizes and input of every test render."""
    sizes = _sizes(settings)
    return _random_params(specs, settings.seed), sizes, _test_signal(sum(sizes), settings.seed,
                                                                     dual_mono=False)  # fmt: skip


def first_render(
    cls: type[Module], specs: tuple[ParamSpec, ...], settings: CheckSettings, path: str
) -> tuple[FloatArray, list[tuple[int, int]]]:
    """The first test render of a fresh instance, and the times of its blocks."""
    params, sizes, signal = _plan(specs, settings)
    samples = sum(sizes)
    rendered = np.zeros((samples, 2) if issubclass(cls, Processor) else (samples,))
    times = _Rig(cls, params, settings, signal, path).render(sizes, 0, rendered)
    return rendered, times  # the instance is gone once it has rendered


def crc32(rendered: FloatArray) -> float:
    """The CRC-32 of rendered samples' bytes, as a float (figures are floats)."""
    return float(zlib.crc32(rendered.tobytes()))


def _timing(times: list[tuple[int, int]], settings: CheckSettings) -> tuple[float, float, float]:
    """CPU µs per timed block at p50 and p99, and wall-clock µs at p50."""
    timed = times[settings.warmup_blocks :]
    cpu = [t / 1000 for t, _ in timed]
    wall = _percentile([w / 1000 for _, w in timed], 50)
    return _percentile(cpu, 50), _percentile(cpu, 99), wall


def exercise(
    cls: type[Module],
    specs: tuple[ParamSpec, ...],
    settings: CheckSettings,
    path: str,
    figures: dict[str, float],
) -> None:
    """Checks 4–8 of `chronus.plugins.validation` on `cls`; raises `CheckFailed`. Figures
    go into `figures` as soon as they are known."""
    params, sizes, signal = _plan(specs, settings)

    def rig(source: FloatArray = signal) -> _Rig:
        return _Rig(cls, params, settings, source, path)

    processor = issubclass(cls, Processor)
    rendered, times = first_render(cls, specs, settings, path)
    shape = rendered.shape
    figures["render_crc32"] = crc32(rendered)
    p50, p99, wall = _timing(times, settings)
    figures.update(cpu_us_p50=p50, cpu_us_p99=p99, wall_us_p50=wall,
                   blocks=float(settings.timed_blocks))  # fmt: skip
    if processor and getattr(cls, "DUAL_MONO", False):
        _dual_mono(rig, sizes, settings)
    again = np.zeros(shape)
    second = _timing(rig().render(sizes, 0, again), settings)
    p50, p99, wall = (min(a, b) for a, b in zip((p50, p99, wall), second, strict=True))
    figures.update(cpu_us_p50=p50, cpu_us_p99=p99, wall_us_p50=wall)  # one spike fails nothing
    if not np.array_equal(rendered, again):
        raise CheckFailed(
            "non_deterministic",
            "two fresh instances with the same parameters and input differ at "
            f"{_first_difference(rendered, again, sizes)}: both slots must render the same "
            "samples (no clocks, no unseeded random, no state shared between instances)",
        )
    if getattr(cls, "state_capture", True):
        _round_trip(rig, sizes, settings, rendered, path)
    else:
        try:
            _round_trip(rig, sizes, settings, rendered, path)
            figures["state_round_trip"] = 1.0
        except CheckFailed as failed:
            if failed.error_type != "state_round_trip":
                raise
            figures["state_round_trip"] = 0.0
    if p99 >= settings.budget_us:
        raise CheckFailed(
            "too_slow",
            f"CPU per block p99 {p99:.0f} µs (p50 {p50:.0f} µs), over the budget of "
            f"{settings.budget_us:.0f} µs ({100 * settings.cpu_budget:g} % of a "
            f"{settings.block}-frame block at {settings.sample_rate} Hz)",
        )
    if wall >= settings.budget_us:
        raise CheckFailed(
            "too_slow",
            f"a block takes {wall:.0f} µs of wall-clock time (median) but {p50:.0f} µs of "
            f"CPU: process waits (sleep, I/O, a lock); the budget is {settings.budget_us:.0f} "
            "µs",
        )


def _dual_mono(rig: Callable[[FloatArray], _Rig], sizes: list[int], s: CheckSettings) -> None:
    signal = _test_signal(sum(sizes), s.seed + 1, dual_mono=True)
    stereo = np.zeros((len(signal), 2))
    mono = np.zeros(len(signal))
    stereo_rig = rig(signal)
    stereo_rig.render(sizes, 0, stereo)
    module = cast(Processor, stereo_rig.module)
    guard("exception", "channels_equal()", stereo_rig.path, module.channels_equal)
    del stereo_rig, module
    rig(signal).render(sizes, 0, mono, mono=True)
    for channel in (0, 1):
        if not np.array_equal(stereo[:, channel], mono):
            where = _first_difference(stereo[:, channel], mono, sizes)
            raise CheckFailed(
                "non_deterministic",
                f"process_mono differs from process_stereo on a dual-mono input at {where} "
                "(see Processor's dual-mono contract)",
            )


def _hand_over(module: Module) -> Any:
    """The module's state as another process would get it."""
    return pickle.loads(pickle.dumps(module.state()))


def _round_trip(
    rig: Callable[[], _Rig], sizes: list[int], s: CheckSettings, rendered: FloatArray, path: str
) -> None:
    capture = min(s.capture_at, len(sizes) - 1)
    before = rig()
    scratch = np.zeros_like(rendered)
    before.render(sizes[:capture], 0, scratch)

    state = guard("state_round_trip", "state()", path, partial(_hand_over, before.module))
    del before
    after = rig()
    guard("state_round_trip", "load_state()", path, lambda: after.module.load_state(state))
    after.render(sizes, capture, scratch)
    start = sum(sizes[:capture])
    if not np.array_equal(scratch[start:], rendered[start:]):
        where = _first_difference(scratch[start:], rendered[start:], sizes[capture:])
        raise CheckFailed(
            "state_round_trip",
            f"after state() at block {capture} and load_state() into a fresh instance, the "
            f"samples differ ({where} after the capture): state() misses something",
        )
