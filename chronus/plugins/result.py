"""What validating a user module in the sandbox found: a plain, picklable result.

Shared by the sandbox (which makes it), the registry (which keeps the last one) and every
front end (which shows it). `validate` never raises; every way a module can fail is one
`error_type` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["ERROR_TYPES", "ValidationResult"]

ERROR_TYPES: dict[str, str] = {
    "syntax_error": "the file does not compile",
    "import_error": "importing the file raised",
    "no_module": "the file defines no Module subclass (or more than one, and none is named MODULE)",
    "bad_params": "parameters undeclared, out of range, or their defaults not finite",
    "exception": "the module raised while made or processing",
    "exit": "the module called sys.exit / os._exit or raised SystemExit",
    "crash": "the process died of a signal (segfault, abort)",
    "timeout": "validation went past its time limit (an endless loop)",
    "memory": "the module went past its memory limit",
    "non_finite": "the module wrote NaN or infinity",
    "non_deterministic": "the same input and parameters gave different samples",
    "state_round_trip": "capture → restore did not give the same samples",
    "too_slow": "the module's CPU per block is over its budget",
    "internal": "the sandbox itself failed (a bug in chronus, not the module)",
}
"""Every `error_type` a validation can report, with what it means."""


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The outcome of validating one module file.

    `ok` is true only if every check passed; then `error_type` and `error_message` are empty.
    `figures` holds what was measured (e.g. `cpu_us_p50`, `cpu_us_p99`, `blocks`,
    `peak_rss_mb`; from the sandbox also `child_cpu_ms` and `child_minor_faults`, what the
    checks cost its child, and the hand-offs: `children_ms` waiting for the worker to hand
    over the job's children, `request_ms` from the request sent to the child having it,
    `checks_ms` from then to its answer written, `answer_ms` from then to the pool having it,
    `rehearsal_cut` 1 if the request came while the child still rehearsed); `duration` is
    the wall time of the whole validation in seconds.
    """

    ok: bool
    error_type: str = ""
    error_message: str = ""
    duration: float = 0.0
    module_class: str = ""
    """The class found in the file (its Python name)."""
    processor: bool = False
    """Whether it is a `Processor` (has an audio input) rather than a source."""
    params: tuple[str, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ok and self.error_type:
            raise ValueError("an ok result has no error_type")
        if not self.ok and self.error_type not in ERROR_TYPES:
            raise ValueError(f"unknown error_type {self.error_type!r}")

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON-ready data."""
        out = {each.name: getattr(self, each.name) for each in fields(self)}
        out["params"] = list(self.params)
        out["figures"] = dict(self.figures)  # its values are floats: no deep copy (`asdict`)
        return out
