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


LANED = ("amp", "res", "attack", "sustain", "detune", "glide", "bend", "env_amount", "drive",
         "volume", "pan", "mute", "solo")  # fmt: skip
"""Every saw parameter whose range takes values 0–1."""


def lane_values(saw: int, param: int) -> str:
    """The 128-step lane saw number `saw` gets on `LANED[param]` in `wide_patch`."""
    return " ".join(f"0.{(step * 37 + saw + param) % 1000:03d}" for step in range(128))


def wide_patch(saws: int) -> list[list[Message]]:
    """A patch whose dump is large but whose slots do little: `big00`, `big01`, … saws, none
    connected, the transport stopped, each with 13 lanes of 128 steps (about 10.5 KB of
    dump a saw). One batch of commands a saw, so the sender can pace them."""
    batches = []
    for saw in range(saws):
        name = f"big{saw:02d}"
        batch = [validate("/patch/create", (name, "saw"))]
        batch += [
            validate(f"/seq/{name}/lane", (param, lane_values(saw, k)))
            for k, param in enumerate(LANED)
        ]
        batches.append(batch)
    return batches


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


def answer(client: EngineClient, wanted: str, timeout: float = 30.0) -> tuple[str, Any]:
    """The first reply that is `wanted` or an `/error`, skipping others (AssertionError if
    none comes in `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.receive(0.1)
        if reply is not None and reply[0] in (wanted, "/error"):
            return reply
    raise AssertionError(f"no {wanted} in {timeout} s")


def refused_render(tmp_path: Path, text: str, *options: str) -> Path:
    """`chronus render` of a script of `text` (with `options`) fails; its output, unwritten."""
    from chronus.cli import main

    script = tmp_path / "refused.chr"
    script.write_text(text)
    out = tmp_path / "refused.wav"
    assert main(["render", str(script), "-o", str(out), *options]) == 1
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
    return out
