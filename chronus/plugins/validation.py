"""The checks a user module must pass before it plays: run in the sandbox's child process.

`run_checks` runs the plugin's code in the calling process: the sandbox calls it in a
confined child (see `chronus.plugins.sandbox`); the benchmark calls it in-process to measure
what the sandbox adds. The checks, in order, each failing with one `error_type`:

1. compile the file (`syntax_error`, with the line);
2. import it through `import_plugin` (`import_error`, `no_module`, `exit`); a LADSPA
   plugin (`<library>#<label>`) is opened through `load_ladspa_type` instead of 1–2
   (`import_error` if the library cannot be opened, `no_module` if it has no such label);
3. its parameters: `volume` and `pan` declared (the graph mixes with them), every range and
   default finite, each default in its range (`bad_params`);
4. make the module (`exception`);
5. render test blocks with seeded random parameter values in range: a source plays notes, a
   processor gets a deterministic stereo test signal (and a dual-mono one through
   `process_mono` if it has `DUAL_MONO`); every sample written must be finite (`non_finite`;
   the output buffer is filled with NaN first, so a sample left unwritten counts too) and
   nothing may raise (`exception`), nor `quiet()` and `channels_equal()`, which the graph
   calls too;
6. determinism: a second fresh instance with the same parameters and input gives the same
   samples, bit for bit (`non_deterministic`; also a `process_mono` that differs from
   `process_stereo` on a dual-mono input); the sandbox also compares the first render with
   one made in a second process (`render_crc32`);
7. state round trip: `state()` after some blocks, pickled as a hand-over does, loaded into a
   fresh instance: the blocks after give the same samples (`state_round_trip`); a type
   that says its state cannot be captured (`state_capture = False`: a LADSPA plugin's
   memory is its own) is tried too, and the figure `state_round_trip` says whether it
   happened to continue exactly (1) or not (0) instead of failing;
8. CPU per full block (thread CPU time, after a warm-up): p99 within the budget; and the
   wall-clock time's median too, which catches a module that waits (`too_slow`). Each
   figure is the better of the first two renders (one spike of the machine's fails
   nothing), with the garbage collector off while they run, as in a slot.

A `MemoryError` anywhere is `memory`; `SystemExit` anywhere is `exit`. At most two
instances of the module (and one captured state) are alive at a time: a module's memory
counts up to twice against the sandbox's limit.
"""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import time
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chronus.dsp.module import Module, Processor
from chronus.dsp.params import ParamSpec
from chronus.plugins.confine import status_mb
from chronus.plugins.ladspa.reference import split_reference
from chronus.plugins.result import ValidationResult
from chronus.plugins.source import (
    NAME_PATTERN,
    PluginSourceError,
    import_plugin,
    plugin_module_name,
    version_of,
)
from chronus.plugins.trial import CheckFailed, CheckSettings, crc32, exercise, failure, first_render

__all__ = [
    "CheckSettings", "describe", "peak_rss_mb", "rehearsal", "rehearse", "render_crc32",
    "run_checks",
]  # fmt: skip

REQUIRED_PARAMS = ("volume", "pan")
"""Parameters the graph reads of every module (its strip's gain)."""


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    return status_mb("VmHWM")


def _compile(path: str) -> bytes:
    try:
        source = Path(path).read_bytes()
    except OSError as exc:
        raise CheckFailed("import_error", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CheckFailed("syntax_error", f"line {exc.lineno}: {exc.msg}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckFailed("syntax_error", f"not Python source: {exc}") from None
    return source


def _import(path: str, name: str, source: bytes) -> type[Module]:
    try:
        return import_plugin(path, name, version_of(source))
    except PluginSourceError as exc:
        raise CheckFailed("no_module", str(exc)) from None
    except BaseException as exc:
        raise failure(exc, "import_error", "importing the file", path) from None


def _import_ladspa(reference: str, path: str, name: str) -> type[Module]:
    from chronus.plugins.ladspa.module import type_of_reference

    try:
        return type_of_reference(reference, name)
    except OSError as exc:
        raise CheckFailed("import_error", f"cannot open the LADSPA library {path}: {exc}") from None
    except (KeyError, ValueError) as exc:
        raise CheckFailed("no_module", str(exc.args[0] if exc.args else exc)) from None
    except BaseException as exc:
        raise failure(exc, "exception", "making the LADSPA type", path) from None


def _load(path: str, name: str) -> type[Module]:
    """The module class of a plugin file, or of a LADSPA plugin (`<library>#<label>`)."""
    native = split_reference(path)
    if native is not None:
        return _import_ladspa(path, native[0], name)
    return _import(path, name, _compile(path))


def _check_params(cls: type[Module]) -> tuple[ParamSpec, ...]:
    specs = getattr(cls, "PARAMS", None)
    if not isinstance(specs, tuple) or not all(isinstance(s, ParamSpec) for s in specs):
        raise CheckFailed("bad_params", "PARAMS must be a tuple of ParamSpec")
    names = [spec.name for spec in specs]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise CheckFailed("bad_params", f"parameter declared twice: {', '.join(doubled)}")
    missing = [n for n in REQUIRED_PARAMS if n not in names]
    if missing:
        raise CheckFailed(
            "bad_params",
            f"no {' or '.join(missing)} parameter: the graph mixes every module with them "
            "(add *mix_specs(0.0) to PARAMS)",
        )
    for spec in specs:
        if not isinstance(spec.name, str) or not spec.name.isidentifier():
            raise CheckFailed("bad_params", f"{spec.name!r} is not a parameter name")
        numbers = (spec.default, spec.minimum, spec.maximum)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers):
            raise CheckFailed(
                "bad_params", f"{spec.name}: default and range must be finite numbers"
            )
        if spec.minimum > spec.maximum:
            raise CheckFailed("bad_params", f"{spec.name}: minimum {spec.minimum:g} > maximum")
        if not spec.minimum <= spec.default <= spec.maximum:
            raise CheckFailed(
                "bad_params", f"{spec.name}: default {spec.default:g} outside {spec.range_text}"
            )
    return specs


def render_crc32(path: str | Path, name: str, settings: CheckSettings | None = None) -> float:
    """The CRC-32 of the module's first test render (the `render_crc32` figure), made in
    this process: the sandbox makes it in a second process and compares, which catches
    state a module takes at import from the clock, its process id or os.urandom (two
    instances in one process share it; two slots do not). Raises what the module raises."""
    settings = settings or CheckSettings()
    path = str(path)
    cls = _load(path, name)
    specs = _check_params(cls)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return crc32(first_render(cls, specs, settings, path)[0])


def describe(exc: BaseException, path: str) -> str:
    """An exception the module raised, as the checks report it."""
    return failure(exc, "exception", "rendering", path).message


REHEARSED = ("saw",)
"""Built-in modules `rehearse` runs the checks on: a source (the rehearsal plugin is a
processor)."""
REHEARSAL = CheckSettings(warmup_blocks=8, timed_blocks=8, capture_at=4)
"""Short: a rehearsal is for touching what the checks touch, not for figures."""
REHEARSAL_FILE = Path(__file__).with_name("rehearsal.py")
"""A plugin file shaped like a typical user module, validated by `rehearse`."""
REHEARSAL_NAME = "rehearsal"


def rehearse(settings: CheckSettings = REHEARSAL, whole: bool = True) -> None:
    """Run checks 4–8 on built-in modules, then every check on `REHEARSAL_FILE` (only its
    first render, as `render_crc32` makes it, if not `whole`), and forget that file's
    module, so that this process has loaded and run what a validation uses (numba's cached
    kernels, numpy's paths, the checks' own code, a plugin's import and its kernel loaded
    from numba's disk cache): a warm worker does, once, so that its forks start warm (and
    the file's kernel is cached); each spare does (`rehearsal`), so that the pages a
    validation writes are copied before the validation starts. Raises if one fails them."""
    for _ in rehearsal(settings, whole):
        pass


def rehearsal(
    settings: CheckSettings = REHEARSAL, whole: bool = True
) -> Generator[None, None, None]:
    """`rehearse` in steps of a few ms: it yields between two, where the caller may stop
    (and close it: the file's module is forgotten then too)."""
    from chronus.dsp.catalog import MODULE_TYPES

    path = str(REHEARSAL_FILE)
    try:
        if whole:
            for name in REHEARSED:
                cls = MODULE_TYPES[name]
                exercise(cls, _check_params(cls), settings, "", {})
                yield
        render_crc32(path, REHEARSAL_NAME, settings)  # the import, the kernel's load
        if whole:
            yield
            result = run_checks(path, REHEARSAL_NAME, settings)
            if not result.ok:
                raise RuntimeError(f"the rehearsal plugin failed: {result.error_type}: "
                                   f"{result.error_message}")  # fmt: skip
    finally:
        sys.modules.pop(plugin_module_name(REHEARSAL_NAME, version_of(_compile(path))), None)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_checks(
    path: str | Path, name: str, settings: CheckSettings | None = None
) -> ValidationResult:
    """Validate the module file at `path` as plugin `name` in this process.

    Runs the plugin's code here: call it in a sandboxed child (or a benchmark). Returns the
    result; raises only what the checks cannot catch (a signal, `os._exit`).
    """
    settings = settings or CheckSettings()
    path = str(path)
    began = time.perf_counter()
    found: dict[str, Any] = {}
    figures: dict[str, float] = {}
    try:
        if not NAME_PATTERN.fullmatch(name):
            raise CheckFailed("import_error", f"{name!r} is not a plugin name (a-z, 0-9, _; "
                          "1–32 characters, a letter first)")  # fmt: skip
        t0 = time.perf_counter()
        cls = _load(path, name)
        figures["import_ms"] = (time.perf_counter() - t0) * 1000
        found["module_class"] = cls.__mro__[1].__name__
        found["processor"] = issubclass(cls, Processor)
        specs = _check_params(cls)
        found["params"] = tuple(spec.name for spec in specs)
        with np.errstate(all="ignore"), warnings.catch_warnings(), _no_gc():
            warnings.simplefilter("ignore")  # the module's own: the checks judge its samples
            exercise(cls, specs, settings, path, figures)
    except BaseException as exc:
        failed = failure(exc, "exception", "validating", path)
        figures["peak_rss_mb"] = peak_rss_mb()
        return ValidationResult(
            ok=False, error_type=failed.error_type, error_message=failed.message,
            duration=time.perf_counter() - began, figures=figures, **found,
        )  # fmt: skip
    figures["peak_rss_mb"] = peak_rss_mb()
    return ValidationResult(ok=True, duration=time.perf_counter() - began, figures=figures,
                            **found)  # fmt: skip
