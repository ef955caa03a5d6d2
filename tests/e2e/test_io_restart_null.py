"""The audio I/O replaced on the null backend: SIGKILLed twice while notes play.

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
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.e2e.test_failover_null import (
    BLOCK,
    Player,
    allowed_underruns,
    build_patch,
    classify_blocks,
    engine_run,
)
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]


def _resumed_after(player: Player, restarts: int, timeout: float = 10.0) -> dict[str, Any]:
    """Play on until the I/O's `restarts`-th restart has played a block; the status then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        player.play_for(0.1)
        status = player.client.status()
        io = status["io"]
        if io["restarts"] == restarts and io["process"] == "running" and io["last_restart"]:
            return status
    raise AssertionError(f"the audio I/O did not come back: {player.client.status()['io']}")


def test_two_sigkills_of_the_audio_io(tmp_path: Path) -> None:
    gaps: list[tuple[int, int]] = []
    """(first block not played, first block played again) of each restart."""
    pids: list[int] = []
    with StallMonitor() as host, engine_run(tmp_path) as run:
        client = run.client
        build_patch(client)
        player = Player(client)
        player.play_for(1.5)
        for n in (1, 2):
            before = client.status()["io"]
            assert before["process"] == "running" and before["state"] == "running"
            pids.append(int(before["pid"]))
            os.kill(pids[-1], signal.SIGKILL)
            io = _resumed_after(player, n)["io"]
            assert io["pid"] not in pids and io["state"] == "running", io
            assert io["clock_held_by_supervisor"] is False
            last = io["last_restart"]
            assert last["code"] == -signal.SIGKILL
            died, resumed = int(last["died_at_block"]), int(last["resumed_at_block"])
            # The clock went on through the gap: every block in it is counted missed.
            assert resumed - died == last["blocks_missed"] > 0, last
            assert io["blocks_missed"] == sum(b - a for a, b in gaps) + last["blocks_missed"]
            gaps.append((died, resumed))
            player.play_for(3.2)  # past the backoff's young age: the next restart is at once
        final = client.status()
        news = [e["text"] for e in client.now()["events"] if e["kind"] == "engine"]
        assert run.quit() == 0
    engine = final["engine"]
    assert engine["failovers"] == 0 and engine["divergences"] == 0, engine
    restarted = [t for t in news if "audio I/O exited (code -9) and was restarted" in t]
    assert len(restarted) == 2, news  # each death told once
    missed = sum(b - a for a, b in gaps)
    # The dead I/O may have taken its last block without copying it to the recording.
    lost = engine["recording"]["lost_blocks"]
    assert missed <= lost <= missed + len(gaps), (lost, gaps)

    recording, rate = read_wav(run.wav)
    session = read_stamped_log(run.log)
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
    # Everywhere else the recording is the offline render, bit for bit, but for underruns
    # (a fade out, then a fade in) that the host's stalls explain.
    around = {k for a, b in gaps for k in range(a - 1, b + 1)}
    result = classify_blocks(recording, reference)
    unexplained = [k for k in result.unexplained if k not in around]
    assert unexplained == [], f"blocks {unexplained[:10]} differ from the offline render"
    underruns = int(final["io"]["underruns"])
    assert underruns <= allowed_underruns(host), (underruns, host.stalls_ms)
    assert len([k for k in result.gaps if k not in around]) <= underruns
