"""The plugin registry: every user module the engine knows, its lifecycle and its health.

One registry lives in the supervisor. It is thread-safe (the OSC loop, the sandbox's result
callbacks and the HTTP server's threads all touch it) and holds data only: reading health
never runs plugin code. Every change of state is a `Transition`, timestamped, with a reason
code and a detail for people.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from chronus.plugins.result import ValidationResult

__all__ = [
    "ALLOWED",
    "PluginMetrics",
    "PluginRecord",
    "PluginRegistry",
    "PluginState",
    "Transition",
]


class PluginState(StrEnum):
    """Where a plugin is in its life."""

    DISCOVERED = "discovered"
    """Named by the user (a file or a configured folder); nothing run yet."""
    VALIDATING = "validating"
    """In the sandbox pool."""
    READY = "ready"
    """Passed validation; its code is being loaded into the engine's processes."""
    ACTIVE = "active"
    """Loaded in every engine process: modules of its type can be made and play."""
    FAILED = "failed"
    """Did not pass validation; the last result says why. Nothing of it runs."""
    SUSPENDED = "suspended"
    """Raised or wrote non-finite samples in too many blocks in a row: bypassed until reloaded."""
    QUARANTINED = "quarantined"
    """Crashed or hung an engine process: bypassed until reloaded."""
    UNLOADED = "unloaded"
    """Taken out by the user; its modules were removed."""


_S = PluginState
ALLOWED: dict[PluginState, frozenset[PluginState]] = {
    _S.DISCOVERED: frozenset({_S.VALIDATING, _S.UNLOADED}),
    _S.VALIDATING: frozenset({_S.READY, _S.FAILED, _S.UNLOADED}),
    _S.READY: frozenset({_S.ACTIVE, _S.FAILED, _S.UNLOADED}),
    _S.ACTIVE: frozenset({_S.VALIDATING, _S.SUSPENDED, _S.QUARANTINED, _S.UNLOADED}),
    _S.FAILED: frozenset({_S.DISCOVERED, _S.VALIDATING, _S.UNLOADED}),
    _S.SUSPENDED: frozenset({_S.VALIDATING, _S.ACTIVE, _S.UNLOADED}),
    _S.QUARANTINED: frozenset({_S.VALIDATING, _S.UNLOADED}),
    _S.UNLOADED: frozenset({_S.DISCOVERED, _S.VALIDATING}),
}
"""Which state may follow which. A reload of an active plugin validates the new version
while the old one keeps playing: the record stays ACTIVE (its `pending` field says so) and
moves to VALIDATING only when nothing of it is playing."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state: when (Unix time), to what, a reason code and a detail."""

    at: float
    state: PluginState
    reason: str
    detail: str = ""


@dataclass(slots=True)
class PluginMetrics:
    """What the engine measured of a plugin's modules (summed over them, active slot)."""

    success_count: int = 0
    """Blocks processed without an error."""
    error_count: int = 0
    last_error: str = ""
    restarts: int = 0
    """Loads after the first: reloads, and loads again after a suspension or quarantine."""
    cpu_us_p50: float = 0.0
    cpu_us_p99: float = 0.0
    """CPU per block (µs) over the recent blocks."""
    runs_in: str = "inline"
    """Where its code runs: `inline` (in the slots) or `isolated` (a host process per
    module, one block late)."""


@dataclass(slots=True)
class PluginRecord:
    """Everything the registry keeps about one plugin."""

    name: str
    path: str
    """The file the user named (or found in a configured folder)."""
    version: str = ""
    """The first 12 hex digits of the SHA-256 of the source that was loaded."""
    state: PluginState = PluginState.DISCOVERED
    transitions: list[Transition] = field(default_factory=list)
    validation: ValidationResult | None = None
    metrics: PluginMetrics = field(default_factory=PluginMetrics)
    active_since: float | None = None
    pending: str = ""
    """A version being validated or swapped in while this one plays ("" if none)."""

    def to_dict(self, now: float) -> dict[str, Any]:
        """As plain JSON-ready data; `uptime_seconds` counts from when it became active."""
        uptime = 0.0 if self.active_since is None else max(0.0, now - self.active_since)
        metrics = {
            "success_count": self.metrics.success_count,
            "error_count": self.metrics.error_count,
            "last_error": self.metrics.last_error,
            "restarts": self.metrics.restarts,
            "cpu_us_p50": self.metrics.cpu_us_p50,
            "cpu_us_p99": self.metrics.cpu_us_p99,
            "uptime_seconds": round(uptime, 3),
        }
        return {
            "name": self.name,
            "path": self.path,
            "version": self.version,
            "state": str(self.state),
            "runs_in": self.metrics.runs_in,
            "pending": self.pending,
            **metrics,
            "validation": None if self.validation is None else self.validation.to_dict(),
            "transitions": [
                {"at": t.at, "state": str(t.state), "reason": t.reason, "detail": t.detail}
                for t in self.transitions
            ],
        }


class PluginRegistry:
    """Thread-safe: every method takes the lock and returns copies or plain data."""

    def __init__(self, clock: Any = time.time) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, PluginRecord] = {}
        self._clock = clock

    def discover(self, name: str, path: str, reason: str = "named", detail: str = "") -> None:
        """Add a plugin named by the user, or set the file of one already known (then it
        must be failed, unloaded or discovered: an active plugin is reloaded instead)."""
        with self._lock:
            record = self._records.get(name)
            if record is None:
                record = self._records[name] = PluginRecord(name=name, path=path)
                record.transitions.append(
                    Transition(self._clock(), PluginState.DISCOVERED, reason, detail)
                )
                return
            if record.state is not PluginState.DISCOVERED:
                self._move(record, PluginState.DISCOVERED, reason, detail)
            record.path = path

    def transition(self, name: str, state: PluginState, reason: str, detail: str = "") -> None:
        """Move a plugin to `state`; `KeyError` if unknown, `ValueError` if not allowed."""
        with self._lock:
            self._move(self._records[name], state, reason, detail)

    def _move(self, record: PluginRecord, state: PluginState, reason: str, detail: str) -> None:
        if state not in ALLOWED[record.state]:
            raise ValueError(f"plugin {record.name}: {record.state} cannot become {state}")
        now = self._clock()
        if state is PluginState.ACTIVE:
            if any(t.state is PluginState.ACTIVE for t in record.transitions):
                record.metrics.restarts += 1
            record.active_since = now
        elif state is not PluginState.VALIDATING:
            record.active_since = None
        record.state = state
        record.transitions.append(Transition(now, state, reason, detail))

    def set_validation(self, name: str, result: ValidationResult, version: str) -> None:
        """Keep the last validation's result and the version it was of."""
        with self._lock:
            record = self._records[name]
            record.validation = result
            record.version = version

    def set_version(self, name: str, version: str) -> None:
        """Set the version being loaded (one forced past validation has no result to say it)."""
        with self._lock:
            self._records[name].version = version

    def swapped(self, name: str, version: str, reason: str, detail: str = "") -> None:
        """An active plugin's new version is now the one playing (a reload): a transition
        to ACTIVE again, one more restart, uptime from now, nothing pending."""
        with self._lock:
            record = self._records[name]
            if record.state is not PluginState.ACTIVE:
                raise ValueError(f"plugin {name}: {record.state}, not active: nothing to swap")
            now = self._clock()
            record.version, record.pending = version, ""
            record.metrics.restarts += 1
            record.active_since = now
            record.transitions.append(Transition(now, PluginState.ACTIVE, reason, detail))

    def set_pending(self, name: str, version: str) -> None:
        """Mark (or with "" clear) a new version being validated while the old one plays."""
        with self._lock:
            self._records[name].pending = version

    def update_metrics(self, name: str, **values: Any) -> None:
        """Set some of a plugin's `PluginMetrics` fields (unknown names raise `TypeError`)."""
        with self._lock:
            record = self._records[name]
            record.metrics = replace(record.metrics, **values)

    def state(self, name: str) -> PluginState | None:
        """A plugin's state, or None if the registry does not know it."""
        with self._lock:
            record = self._records.get(name)
            return None if record is None else record.state

    def names(self) -> list[str]:
        """Every known plugin's name, in the order they were first named."""
        with self._lock:
            return list(self._records)

    def set_runs_in(self, name: str, where: str) -> None:
        """Where the plugin's code runs from now on (`inline` or `isolated`)."""
        with self._lock:
            self._records[name].metrics.runs_in = where

    def health(self, name: str) -> dict[str, Any]:
        """One plugin in detail, as plain data; `KeyError` if unknown."""
        with self._lock:
            return self._records[name].to_dict(self._clock())

    def export(self) -> tuple[PluginRecord, ...]:
        """Copies of every record, for the supervisor that takes over if this one dies."""
        with self._lock:
            return tuple(copy.deepcopy(record) for record in self._records.values())

    def adopt(self, records: tuple[PluginRecord, ...], detail: str) -> None:
        """Go on from the records a supervisor that died kept (`export`). A load it had
        under way died with it: such a plugin becomes failed (reason `supervisor_died`,
        `detail`), and a new version it was validating for an active one is dropped."""
        with self._lock:
            for kept in records:
                record = self._records[kept.name] = copy.deepcopy(kept)
                record.pending = ""
                if record.state in (PluginState.VALIDATING, PluginState.READY):
                    self._move(record, PluginState.FAILED, "supervisor_died", detail)

    def listing(self) -> list[dict[str, Any]]:
        """Every plugin as plain data, without the transition history."""
        with self._lock:
            now = self._clock()
            out = []
            for record in self._records.values():
                data = record.to_dict(now)
                data.pop("transitions")
                out.append(data)
            return out
