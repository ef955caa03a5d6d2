"""Bursts of commands on a real engine (null backend): whatever the host does to the
supervisor between stamping a command and pushing it, both slots apply every command at the
same sample, and the session log says which (`engine/decisions.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.protocol import encode, validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks
from tests.sessions import bass_line, logged_engine

pytestmark = [pytest.mark.slow]

BLOCK = 128
BURSTS, BURST = 4, 5000


def test_bursts_leave_the_slots_in_lockstep_and_the_log_exact(tmp_path: Path) -> None:
    engine = logged_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send(bass_line())
            client.sync()
            for burst in range(BURSTS):
                for n in range(BURST):
                    pan = -0.9 + 0.0003 * ((burst * BURST + n) % 6000)
                    client.send_bytes(encode(validate("/mod/bass/pan", (pan,))))
                    if n % 500 == 499:
                        client.sync(timeout=10.0)  # the kernel drops none
                client.sync(timeout=10.0)
            status = client.status()
        assert engine.quit() == 0
    finally:
        engine.kill()
    slots, io = status["slots"], status["io"]
    print(
        f"\n{status['engine']['overtaken_commands']} overtaken, late "
        f"{[s['late_commands'] for s in slots]}, waited {[s['waited_for_peer'] for s in slots]}"
    )
    assert status["engine"]["divergences"] == 0, status["engine"]["events"]
    assert status["engine"]["failovers"] == 0
    assert slots[0]["late_commands"] == slots[1]["late_commands"]
    recorded, _ = read_wav(tmp_path / "out.wav")
    offline = render_session(read_stamped_log(tmp_path / "s.log"), len(recorded))
    differing = differing_blocks(recorded, offline, BLOCK, io["blocks_played"])
    assert len(differing) <= 2 * io["underruns"], differing[:10]
