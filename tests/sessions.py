"""A live session for end-to-end tests: a null-backend engine that logs and records."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate


def logged_engine(tmp_path: Path, log: str = "s.log", wav: str = "out.wav") -> EngineProcess:
    """Boot a null-backend engine that writes its session log and its recording in
    `tmp_path` (as `log` and `wav`)."""
    return EngineProcess(
        port=0,
        backend="null",
        extra_args=["--log", str(tmp_path / log), "--record", str(tmp_path / wav)],
    ).boot()


def bass_line(notes: str = "c2 eb2 g2 c3") -> list[Message]:
    """A saw to the master playing `notes` as a pattern, started."""
    return [
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/connect", ("bass", "master")),
        validate("/seq/bass/pattern", (notes,)),
        validate("/seq/start", ()),
    ]


def wait_status(
    client: EngineClient, ok: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """Poll `/engine/status` until `ok` says yes; fail with the engine's events if it never
    does within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ok(status := client.status()):
        assert time.monotonic() < deadline, status["engine"]["events"]
        time.sleep(0.05)
    return status


def spare_made(status: dict[str, Any]) -> bool:
    """Whether the process template has forked the spare (after both CPU stampers, A, B and
    the audio I/O)."""
    forks = status["engine"]["template"]["forks"]
    return bool(forks >= 4 + min(2, len(os.sched_getaffinity(0))))
