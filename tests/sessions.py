"""A live session for end-to-end tests: a null-backend engine that logs and records."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate
from chronus.session.stamped_log import HostCalls, read_stamped_log


def logged_engine(tmp_path: Path, log: str = "s.log", wav: str = "out.wav") -> EngineProcess:
    """Boot a null-backend engine that writes its session log and its recording in
    `tmp_path` (as `log` and `wav`)."""
    return EngineProcess(
        port=0,
        backend="null",
        extra_args=["--log", str(tmp_path / log), "--record", str(tmp_path / wav)],
    ).boot()


def plugin_engine(tmp_path: Path) -> EngineProcess:
    """Boot a null-backend engine that logs and records in `tmp_path` (`s.log`, `out.wav`),
    stores plugins in `tmp_path/store` and finds modules in `tmp_path/modules`."""
    return EngineProcess(
        port=0,
        backend="null",
        extra_args=[
            "--log", str(tmp_path / "s.log"), "--record", str(tmp_path / "out.wav"),
            "--plugin-store", str(tmp_path / "store"), "--modules", str(tmp_path / "modules"),
        ],
    ).boot()  # fmt: skip


def bass_line(notes: str = "c2 eb2 g2 c3") -> list[Message]:
    """A saw to the master playing `notes` as a pattern, started."""
    return [
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/connect", ("bass", "master")),
        validate("/seq/bass/pattern", (notes,)),
        validate("/seq/start", ()),
    ]


def crisp_bass(bpm: float | None = None) -> list[Message]:
    """A saw to the master whose notes start and end on their samples (no attack, a 2 ms
    release: where MIDI out's timing is read against the audio), at `bpm` if given."""
    tempo = [] if bpm is None else [validate("/tempo", (bpm, 1))]
    return [
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/connect", ("bass", "master")),
        validate("/mod/bass/attack", (0.0,)),
        validate("/mod/bass/release", (0.002,)),
        *tempo,
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
    does within `timeout` seconds. Each ask waits up to the time left: a busy engine on a
    loaded host answered one after over 2 s (load 19)."""
    deadline = time.monotonic() + timeout
    while not ok(status := client.status(timeout=max(2.0, deadline - time.monotonic()))):
        assert time.monotonic() < deadline, status["engine"]["events"]
        time.sleep(0.05)
    return status


def slots_running(status: dict[str, Any]) -> bool:
    """Whether both slots run in their seats. A commit retires the slot that held the patch
    before it: its new worker joins from the other's state, which took up to 2 s at load 7."""
    return all(slot["seat"] == slot["state"] == "running" for slot in status["slots"])


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


def wait_written(written: list[str], pattern: str, timeout: float = 60.0) -> re.Match[str]:
    """The first line the shell wrote that matches `pattern` (waiting for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(written):
            if found := re.search(pattern, line):
                return found
        time.sleep(0.02)
    raise AssertionError(f"never written: {pattern!r}; written: {written}")


class Terminal:
    """The real shell in a terminal of its own (a pty): what it showed, and keys to type."""

    def __init__(self, process: subprocess.Popen[bytes], leader: int) -> None:
        self.process = process
        self.leader = leader
        self.seen = b""

    def type(self, line: str) -> None:
        """Type `line` and Enter."""
        os.write(self.leader, line.encode() + b"\r")

    def wait(self, pattern: bytes, timeout: float = 60.0) -> re.Match[bytes]:
        """The first match of `pattern` in what the terminal showed (waiting for it)."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.seen)) is None:
            assert time.monotonic() < deadline, self.seen
            if select.select([self.leader], [], [], 0.2)[0]:
                self.seen += os.read(self.leader, 65536)
        return found


@contextmanager
def shell_in_terminal(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> Iterator[Terminal]:
    """`chronus ARGS` in a pty of its own session; killed (if still alive) on the way out."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "chronus", *args],
        stdin=follower, stdout=follower, stderr=follower, cwd=cwd, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    try:
        yield Terminal(process, leader)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(leader)


def refused_render(tmp_path: Path, text: str, *options: str) -> Path:
    """`chronus render` of a script of `text` (with `options`) fails; its output, unwritten."""
    from chronus.cli import main

    script = tmp_path / "refused.chr"
    script.write_text(text)
    out = tmp_path / "refused.wav"
    assert main(["render", str(script), "-o", str(out), *options]) == 1
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
    return out


def check_hosted_replay(tmp_path: Path, status: dict[str, Any], what: str) -> HostCalls:
    """Check a `plugin_engine` session with one isolated module whose host was killed once:
    two hosts started, calls bypassed and rendered, and the log's offline render equal to
    the recording but for underruns. The module's calls."""
    session = read_stamped_log(tmp_path / "s.log")
    [calls] = session.hosts.values()
    assert len(calls.fresh) == 2, "the first host and the one that replaced it"
    assert calls.bypassed, "calls before the first host, and while none served, were bypassed"
    rendered = set(range(min(calls.fresh), max(calls.fresh) + 200)) - calls.bypassed
    assert len(rendered) > 200, "the hosts rendered the calls they served"
    check_replay(tmp_path, status, what)
    return calls


def check_replay(tmp_path: Path, status: dict[str, Any], what: str) -> None:
    """The offline render of a `plugin_engine` session's log equals its recording but for
    the underruns of `status` (the last status before the engine quit)."""
    import numpy as np

    from chronus.session.offline import render_session
    from chronus.session.wav import read_wav
    from tests.blocks import differing_blocks, explained_blocks, replay_story

    session = read_stamped_log(tmp_path / "s.log")
    recorded, _ = read_wav(tmp_path / "out.wav")
    offline = render_session(session, len(recorded))
    assert np.abs(offline).max() > 0.01
    running = differing_blocks(recorded, offline, session.block, status["io"]["blocks_played"])
    underruns = status["io"]["underruns"]
    print(f"\n{what} replay: {len(running)} blocks differ {running[:8]}, underruns {underruns}")
    assert len(running) <= explained_blocks(status["io"]), (
        f"{running[:10]}\n{replay_story(session, recorded, offline, running)}"
    )
