"""Blue/green commits and OSC-controlled recording, in a real engine (null backend).

A staged change is built in the standby, tested, and crossfaded in; a change that fails its test
leaves the output bit-identical to an offline render of the session log (the staged commands
never played); an aborted change leaves the patch as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.render import render_offline
from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.engine.slot import SLOT_PRIORITY
from chronus.protocol import Message, validate
from chronus.session.committing import CommitOutcome, commit_change
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks
from tests.foreign_realtime import ForeignRealtime, blocks_explained
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]

RATE, BLOCK = 48000, 128


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _replies(client: EngineClient, seconds: float) -> list[tuple[str, tuple[Any, ...]]]:
    out: list[tuple[str, tuple[Any, ...]]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = client.receive(0.05)
        if reply is not None:
            out.append(reply)
    return out


def _both_running(client: EngineClient) -> bool:
    deadline = time.monotonic() + 8.0
    while time.monotonic() < deadline:
        if all(s["seat"] == "running" for s in client.status()["slots"]):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[EngineProcess, Path]]:
    process = EngineProcess(
        port=0,
        backend="null",
        extra_args=["--log", str(tmp_path / "s.log"), "--record", str(tmp_path / "out.wav")],
    ).boot()
    try:
        yield process, tmp_path
    finally:
        process.kill()


def _finish(process: EngineProcess, tmp_path: Path) -> tuple[npt.NDArray[np.float32], Any]:
    assert process.quit() == 0
    recorded, _ = read_wav(tmp_path / "out.wav")
    session = read_stamped_log(tmp_path / "s.log")
    return recorded, session


def _start_tone(client: EngineClient) -> None:
    client.send([
        _m("/patch/create", "a", "sine"), _m("/patch/connect", "a", "master"),
        _m("/note/a", 69, 100, 20.0),
    ])  # fmt: skip
    client.sync()
    time.sleep(0.3)


def test_a_commit_crossfades_to_the_change_without_a_click(
    engine: tuple[EngineProcess, Path],
) -> None:
    process, tmp_path = engine
    with (
        process.client() as client,
        StallMonitor() as host,
        ForeignRealtime(SLOT_PRIORITY) as others,
    ):
        _start_tone(client)
        client.send([_m("/patch/begin")])
        client.send([
            _m("/patch/create", "d", "distortion"), _m("/mod/d/drive", 8.0),
            _m("/patch/disconnect", "a", "master"), _m("/patch/connect", "a", "d"),
            _m("/patch/connect", "d", "master"),
        ])  # fmt: skip
        assert "d" not in client.dump()["modules"], "a staged change must not play yet"
        client.send([_m("/patch/commit", 50.0)])
        replies = _replies(client, 1.0)
        committed = [args for address, args in replies if address == "/patch/committed"]
        assert committed, replies
        assert _both_running(client)
        status = client.status()
        dump = client.dump()
    recorded, session = _finish(process, tmp_path)
    assert status["engine"]["commits"] == 1 and status["engine"]["failovers"] == 0
    assert status["io"]["underruns"] <= blocks_explained(host, others, 1000 * BLOCK / RATE)
    assert ("a", "d") in {tuple(c) for c in dump["connections"]}
    switch = int(str(committed[0][1]).rsplit(" ", 1)[1])
    fade = round(0.05 * RATE / BLOCK)
    left = recorded[:, 0].astype(np.float64)
    steps = np.abs(np.diff(left))
    before = steps[(switch - 40) * BLOCK : (switch - 1) * BLOCK].max()
    after = steps[(switch + fade + 1) * BLOCK : (switch + fade + 40) * BLOCK].max()
    during = steps[(switch - 1) * BLOCK : (switch + fade + 1) * BLOCK].max()
    print(f"\ncommit: steps before {before:.4f}, during {during:.4f}, after {after:.4f}")
    assert after > 1.5 * before, "the distortion was not heard after the commit"
    assert during <= 1.1 * max(before, after) + 1e-3, "the crossfade clicked"
    # The session log has the commit: its commands at the sample the standby applied them,
    # and the crossfade; rendered offline, it sounds as the engine played it.
    [commit] = session.commits
    assert ("d", "distortion") in [m.args for m in commit.messages if m.address == "/patch/create"]
    assert (commit.switch, commit.crossfade) == (switch * BLOCK, fade * BLOCK)
    assert not any(m.args == ("d", "distortion") for _, m in session.commands)
    offline = render_session(session, len(recorded))
    running = differing_blocks(recorded, offline, BLOCK, status["io"]["blocks_played"])
    underruns = status["io"]["underruns"]
    print(f"commit replay: {len(running)} blocks differ {running[:8]}, underruns {underruns}")
    assert len(running) <= 2 * underruns, running[:10]
    switch_blocks = range(switch, switch + fade)
    assert not any(b in switch_blocks for b in running) or underruns, "the crossfade differs"


def test_a_failing_commit_changes_nothing(engine: tuple[EngineProcess, Path]) -> None:
    process, tmp_path = engine
    with (
        process.client() as client,
        StallMonitor() as host,
        ForeignRealtime(SLOT_PRIORITY) as others,
    ):
        _start_tone(client)
        client.send([_m("/patch/begin"), _m("/mod/a/volume", -60.0)])
        client.send([_m("/patch/commit")])
        replies = _replies(client, 1.0)
        errors = [args for address, args in replies if address == "/error"]
        assert errors and "silent" in str(errors[0][1]) and "nothing changed" in str(errors[0][1])
        assert _both_running(client)
        status = client.status()
        assert client.dump()["modules"]["a"]["params"].get("volume", 0.0) != -60.0
    recorded, session = _finish(process, tmp_path)
    assert status["engine"]["commits"] == 0 and status["engine"]["failed_commits"] == 1
    underruns = status["io"]["underruns"]
    assert underruns <= blocks_explained(host, others, 1000 * BLOCK / RATE)
    offline = render_offline(session.commands, len(recorded), RATE, BLOCK)
    differing = differing_blocks(recorded, offline, BLOCK, status["io"]["blocks_played"])
    assert len(differing) <= 2 * underruns, differing[:10]


def test_abort_drops_the_staged_change(engine: tuple[EngineProcess, Path]) -> None:
    process, _ = engine
    with process.client() as client:
        _start_tone(client)
        client.send([_m("/patch/begin"), _m("/patch/create", "x", "saw"), _m("/patch/abort")])
        replies = _replies(client, 0.3)
        assert ("/patch/aborted", (1,)) in replies
        assert "x" not in client.dump()["modules"]
        client.send([_m("/patch/commit")])
        assert any(address == "/error" for address, _ in _replies(client, 0.3))
    assert process.quit() == 0


def test_commits_back_to_back_never_build_on_the_slot_being_retired(
    engine: tuple[EngineProcess, Path],
) -> None:
    """After a commit the slot that held the old patch is killed, and runs on until its death
    is seen: meanwhile the lockstep check must not compare it (it differs on purpose) and the
    next commit must not be built on it. Both once happened in most runs of this test."""
    process, _ = engine
    changes = [
        [_m("/mod/bass/cutoff", 3000.0), _m("/patch/create", "hit", "kick"),
         _m("/patch/connect", "hit", "master"), _m("/seq/hit/pattern", "x . x .")],
        [_m("/mod/bass/cutoff", 300.0), _m("/patch/remove", "hit")],
    ]  # fmt: skip
    with process.client() as client:
        client.send([
            _m("/patch/create", "bass", "saw"), _m("/patch/connect", "bass", "master"),
            _m("/note/bass", 40, 100, 30.0), _m("/seq/start"),
        ])  # fmt: skip
        client.sync()
        outcomes: list[CommitOutcome] = []
        try:
            for n in range(12):
                outcomes.append(commit_change(client, changes[n % 2], silence_ok=True))
        except EngineError as error:  # the engine's story of the commit it did not answer
            events = client.status()["engine"]["events"][-16:]
            raise AssertionError((len(outcomes), str(error), events)) from error
        assert _both_running(client)
        engine_status = client.status()["engine"]
    failed = [(n, o.text) for n, o in enumerate(outcomes) if not o.ok]
    assert not failed, (failed, engine_status["events"][-12:])
    assert engine_status["commits"] == 12, engine_status
    assert engine_status["failed_commits"] == 0, engine_status["events"]
    assert engine_status["divergences"] == 0, engine_status["events"]
    assert process.quit() == 0


def test_record_start_and_stop_over_osc(tmp_path: Path) -> None:
    log, target = tmp_path / "s.log", tmp_path / "take.wav"
    process = EngineProcess(port=0, backend="null", extra_args=["--log", str(log)]).boot()
    try:
        with process.client() as client:
            _start_tone(client)
            client.send([_m("/record/start", str(target))])
            started = client.wait_for("/record/started")
            time.sleep(0.5)
            client.send([_m("/record/stop")])
            stopped = client.wait_for("/record/stopped")
            client.send([_m("/record/stop")])
            assert any(address == "/error" for address, _ in _replies(client, 0.3))
            underruns = client.status()["io"]["underruns"]
        assert process.quit() == 0
    finally:
        process.kill()
    take, rate = read_wav(target)
    first = int(started[1])
    assert rate == RATE and len(take) == int(stopped[1]) > 0.4 * RATE
    session = read_stamped_log(log)
    offline = render_offline(session.commands, first + len(take), RATE, BLOCK)[first:]
    if underruns == 0:
        np.testing.assert_array_equal(take, offline)
