"""The audio I/O replaced on the null backend: SIGKILLed twice while notes play.

(`test_io_restart_jack.py` runs the same on JACK's dummy driver, with a warm spare I/O.)

A real engine subprocess records its own output and logs every command with the sample it
applied at. Its audio I/O process is killed with a real SIGKILL; the supervisor holds the
sample clock meanwhile and starts a new I/O, which resumes on the clock it would have had.
Afterwards the recording is compared with an offline render of the session log: every
block played equals the render bit for bit; the blocks between the death and the resume
were rendered by the slots but not played (silence in the file, counted as missed); the
first block after the gap is the render faded in.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus.dsp.render import render_offline
from chronus.engine.client import EngineProcess
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.e2e.test_failover_null import (
    BLOCK,
    Player,
    Run,
    allowed_underruns,
    build_patch,
    classify_blocks,
)
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]


def _resumed_after(player: Player, killed_ns: int, timeout: float = 10.0) -> dict[str, Any]:
    """Play on until the I/O restarted after `killed_ns` has played a block; the status then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        player.play_for(0.1)
        status = player.client.status(timeout=10.0)
        io = status["io"]
        last = io["last_restart"]
        if io["process"] == "running" and last and last["resumed_ns"] > killed_ns:
            return status
    raise AssertionError(
        f"the audio I/O did not come back: {player.client.status(timeout=10.0)['io']}"
    )


def _spare_warm(player: Player, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while player.client.status(timeout=10.0)["io"]["spare"] != "warm":
        assert time.monotonic() < deadline, "no warm spare I/O"
        player.play_for(0.1)


def kill_the_io_twice(tmp_path: Path, backend: str) -> None:
    """Kill the I/O twice while notes play; check health, the news and the recording.

    On a device, each kill waits for a warm spare I/O, which must be the one that takes over.
    """
    log, wav = tmp_path / "session.log", tmp_path / "take.wav"
    engine = EngineProcess(
        port=0, backend=backend, extra_args=["--log", str(log), "--record", str(wav)]
    ).boot()
    gaps: list[tuple[int, int]] = []
    """(first block not played, first block played again) of each restart."""
    pids: list[int] = []
    told: set[tuple[int, str]] = set()
    """Engine events told to clients (serial, text)."""
    try:
        with StallMonitor() as host, engine.client() as client:
            build_patch(client)
            player = Player(client)
            player.play_for(1.5)
            for n in (1, 2):
                if backend == "device":
                    _spare_warm(player)
                before = client.status(timeout=10.0)["io"]
                assert before["process"] == "running" and before["state"] == "running"
                pids.append(int(before["pid"]))
                killed_ns = time.monotonic_ns()
                os.kill(pids[-1], signal.SIGKILL)
                io = _resumed_after(player, killed_ns)["io"]
                assert io["restarts"] == n
                assert io["pid"] not in pids and io["state"] == "running", io
                assert io["clock_held_by_supervisor"] is False
                assert io["spares_used"] == (n if backend == "device" else 0)
                last = io["last_restart"]
                assert last["code"] == -signal.SIGKILL
                died, resumed = int(last["died_at_block"]), int(last["resumed_at_block"])
                # The clock went on through the gap: every block in it is counted missed.
                assert resumed - died == last["blocks_missed"] > 0, last
                assert io["blocks_missed"] == sum(b - a for a, b in gaps) + last["blocks_missed"]
                gaps.append((died, resumed))
                told.update(  # now: slot events can push it out of the news kept later
                    (e["serial"], e["text"])
                    for e in client.now(timeout=5.0)["events"]
                    if e["kind"] == "engine"
                )
                player.play_for(3.2)  # past the backoff's young age: the next restart is at once
            final = client.status(timeout=10.0)
            assert Run(engine, client, log, wav).quit() == 0
    finally:
        engine.kill()
    engine_status = final["engine"]
    # No slot died: the I/O's death is not a slot's. (Divergences are not checked here: on a
    # loaded host the lockstep check also finds some on an engine whose I/O nobody kills.)
    assert engine_status["failovers"] == 0, engine_status
    restarted = [t for _, t in told if "audio I/O exited (code -9) and was restarted" in t]
    assert len(restarted) == 2, told  # each death told once
    missed = sum(b - a for a, b in gaps)
    # The dead I/O may have taken its last block without copying it to the recording.
    lost = engine_status["recording"]["lost_blocks"]
    assert missed <= lost <= missed + len(gaps), (lost, gaps)
    _compare(log, wav, gaps, final, allowed_underruns(host))


def _compare(
    log: Path, wav: Path, gaps: list[tuple[int, int]], final: dict[str, Any], allowed: int
) -> None:
    """The recording against an offline render of the session log: equal where played, but
    for underruns (the host's stalls must explain them); silent in each gap; the render faded
    in on the first block after it. Blocks from `played` on (played after the last status,
    up to the shutdown's fade) are not checked."""
    io, engine = final["io"], final["engine"]
    played, underruns = int(io["blocks_played"]), int(io["underruns"])
    recording, rate = read_wav(wav)
    session = read_stamped_log(log)
    reference = render_offline(session.commands, len(recording), rate, BLOCK)
    rec = recording.reshape(-1, BLOCK, recording.shape[1])
    ref = reference.reshape(-1, BLOCK, reference.shape[1])
    fade_in = ((np.arange(BLOCK, dtype=np.float32) + 1) / BLOCK).reshape(-1, 1)
    for a, b in gaps:
        assert np.all(rec[a:b] == 0.0), f"something was played in the gap {a}..{b}"
        assert np.any(ref[a:b] != 0.0), "the slots were silent in the gap: nothing is shown"
        assert np.array_equal(rec[b], ref[b] * fade_in), f"block {b} is not the render faded in"
        last_played = rec[a - 1]
        assert np.array_equal(last_played, ref[a - 1]) or not np.any(last_played)
    around = {k for a, b in gaps for k in range(a - 1, b + 1)} | set(range(played, len(rec)))
    result = classify_blocks(recording, reference)
    unexplained = [k for k in result.unexplained if k not in around]
    if unexplained and engine["divergences"]:
        # The lockstep check retired a standby that differed (seen on a loaded host with no
        # I/O killed, on the main branch too), and a block it covered may be one of these:
        # not this test's matter, and said so rather than passed or failed.
        pytest.xfail(f"blocks {unexplained[:10]} differ with {engine['divergences']} divergences")
    assert unexplained == [], (
        f"blocks {unexplained[:10]} differ from the offline render; gaps {gaps}, underruns "
        f"{underruns}, covered by the standby {io['covered_by_standby']}, divergences "
        f"{engine['divergences']}, overtaken commands {engine['overtaken_commands']}"
    )
    assert underruns <= allowed, (underruns, allowed)
    assert len([k for k in result.gaps if k not in around]) <= underruns, (result.gaps, gaps)
    assert len(rec) >= played


def test_two_sigkills_of_the_audio_io(tmp_path: Path) -> None:
    kill_the_io_twice(tmp_path, "null")
