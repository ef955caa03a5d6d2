"""The table in which the guard counts what user plugin modules do, one row per type.

Plain int64, so that a slot can keep it in shared memory and the supervisor read it without
a lock: each row holds the type's name, its counters, its last error's text and a circular
window of CPU times. numpy only: the supervisor reads it without importing any DSP.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CPU_WINDOW",
    "ERROR_TEXT_BYTES",
    "NAME_BYTES",
    "PLUGIN_ROWS",
    "TABLE_SIZE",
    "PluginField",
    "plugin_rows",
    "put_text",
    "read_rows",
    "row_cpu_us",
    "row_error",
    "row_name",
]

PLUGIN_ROWS: Final = 16
"""Plugin types the table has room for; modules of any more are guarded, not measured."""
CPU_WINDOW: Final = 128
"""CPU times kept per plugin type (the most recent calls), for its percentiles."""
NAME_BYTES: Final = 64
ERROR_TEXT_BYTES: Final = 256


class PluginField(IntEnum):
    """Column offsets of one plugin type's row in the guard's table (all int64)."""

    NAME = 0
    """`NAME_BYTES` of UTF-8, zero-padded: the type; all zero for a free row."""
    SUCCESS = 8
    """Blocks its modules processed without an error."""
    ERRORS = 9
    SUSPENDED = 10
    """Modules of this type suspended (a count that only grows)."""
    QUARANTINED = 11
    ERROR_SEQ = 12
    """Bumped each time `LAST_ERROR` is written."""
    CPU_COUNT = 13
    """Calls timed so far; the last `CPU_WINDOW` are in `CPU` (ns), circularly."""
    OVERRUNS = 14
    """Modules of this type suspended for running past the guard's time limit in a call."""
    LAST_ERROR = 16
    """`ERROR_TEXT_BYTES` of UTF-8, zero-padded, the last error's text."""
    CPU = 16 + ERROR_TEXT_BYTES // 8
    SIZE = 16 + ERROR_TEXT_BYTES // 8 + CPU_WINDOW


TABLE_SIZE: Final = PLUGIN_ROWS * PluginField.SIZE
"""int64 values in the whole table."""


def plugin_rows(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A flat int64 area of `PLUGIN_ROWS * PluginField.SIZE` as the guard's 2-D table."""
    return values[: PLUGIN_ROWS * PluginField.SIZE].reshape(PLUGIN_ROWS, PluginField.SIZE)


def put_text(row: npt.NDArray[np.int64], at: int, size: int, text: str) -> None:
    """Write `text` as zero-padded UTF-8 (cut to `size` bytes) at column `at` of `row`."""
    raw = text.encode("utf-8", "replace")[:size]
    padded = np.zeros(size, dtype=np.uint8)
    padded[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    row[at : at + size // 8] = padded.view(np.int64)


def _get_text(row: npt.NDArray[np.int64], at: int, size: int) -> str:
    raw = np.ascontiguousarray(row[at : at + size // 8]).view(np.uint8).tobytes()
    return raw.rstrip(b"\0").decode("utf-8", "replace")


def row_name(row: npt.NDArray[np.int64]) -> str:
    """The plugin type a table row is about ("" for a free row)."""
    return _get_text(row, PluginField.NAME, NAME_BYTES)


def row_error(row: npt.NDArray[np.int64]) -> str:
    """The last error text a row holds."""
    return _get_text(row, PluginField.LAST_ERROR, ERROR_TEXT_BYTES)


def row_cpu_us(row: npt.NDArray[np.int64]) -> tuple[float, float]:
    """p50 and p99 of a row's recent CPU times per call, in µs (zeros before any)."""
    filled = min(int(row[PluginField.CPU_COUNT]), CPU_WINDOW)
    if filled == 0:
        return 0.0, 0.0
    window = row[PluginField.CPU : PluginField.CPU + filled].astype(np.float64) / 1000.0
    p50, p99 = np.percentile(window, [50, 99])
    return round(float(p50), 1), round(float(p99), 1)


def read_rows(table: npt.NDArray[np.int64]) -> dict[str, dict[str, Any]]:
    """Every used row of a table, by plugin type: its counters, last error and CPU figures
    (`success_count`, `error_count`, `suspended`, `quarantined`, `overruns`, `last_error`,
    `cpu_us_p50`, `cpu_us_p99`)."""
    rows: dict[str, dict[str, Any]] = {}
    for row in table:
        name = row_name(row)
        if not name:
            continue
        p50, p99 = row_cpu_us(row)
        rows[name] = {
            "success_count": int(row[PluginField.SUCCESS]),
            "error_count": int(row[PluginField.ERRORS]),
            "suspended": int(row[PluginField.SUSPENDED]),
            "quarantined": int(row[PluginField.QUARANTINED]),
            "overruns": int(row[PluginField.OVERRUNS]),
            "last_error": row_error(row),
            "cpu_us_p50": p50,
            "cpu_us_p99": p99,
        }
    return rows
