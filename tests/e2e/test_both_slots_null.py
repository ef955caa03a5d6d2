"""Both slots killed at once: the engine comes back from the last checkpoint, on the beat.

A slot (the standby, while there is one) writes a checkpoint of its whole state about once
a second. With no slot left to copy, a new one starts from the newest checkpoint, is given
the commands stamped after it, and renders its way to the present: after the silence while
no slot lived, the session goes on exactly as if nothing had happened — the recording
equals the offline render of the session log sample for sample again, the kick still on
its grid.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from chronus.protocol import validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks
from tests.sessions import logged_engine

pytestmark = [pytest.mark.slow]

RATE = 48000
BLOCK = 128


def test_both_slots_killed_the_music_resumes_on_the_beat(tmp_path: Path) -> None:
    log, wav = tmp_path / "s.log", tmp_path / "out.wav"
    engine = logged_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send([
                validate("/patch/create", ("kick", "kick")),
                validate("/mod/kick/decay", (0.02,)),
                validate("/patch/connect", ("kick", "master")),
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
                validate("/seq/kick/pattern", ("x . . . x . . .",)),
                validate("/seq/bass/pattern", ("c2 eb2 <g2 bb2> c3",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            client.sync()
            time.sleep(2.5)  # a checkpoint or two
            status = client.status()
            killed_at = status["io"]["blocks_played"]
            underruns_before = status["io"]["underruns"]
            pids = [int(slot["pid"]) for slot in status["slots"]]
            assert len(pids) == 2 and all(pids)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 15
            while True:
                status = client.status()
                events = status["engine"]["events"]
                restarted = any("no slot" in e for e in events)  # either way back
                if restarted and all(s["seat"] == "running" for s in status["slots"]):
                    break
                assert time.monotonic() < deadline, (events, status["slots"])
                time.sleep(0.05)
            time.sleep(2.0)
            status = client.status()
        assert engine.quit() == 0
    finally:
        engine.kill()
    events = status["engine"]["events"]
    assert any("from the checkpoint at block" in e for e in events), events
    recorded, _ = read_wav(wav)
    offline = render_session(read_stamped_log(log), len(recorded))
    shutdown = status["io"]["blocks_played"]  # what the last status's underruns cover
    blocks = differing_blocks(recorded, offline, BLOCK, shutdown)
    assert blocks, "nothing was lost while no slot lived?"
    runs: list[list[int]] = []  # runs of consecutive differing blocks
    for b in blocks:
        if runs and b == runs[-1][-1] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    before = [b for run in runs for b in run if run[0] < killed_at - 4]
    assert len(before) <= 2 * underruns_before, f"audio before the kill differs: {before}"
    gap, *later = [run for run in runs if run[0] >= killed_at - 4]
    print(f"\nboth slots killed at block {killed_at}: the gap {gap[0]}–{gap[-1]}, "
          f"then {len(later)} underrun fades up to shutdown at {shutdown}")  # fmt: skip
    # the gap is the silence while no slot lived, then the fade back in; after it every block
    # is as the offline render has it (the patterns went on from where they were), but for
    # the fades of underruns the host caused later: a run of n blocks is n − 1 underruns
    # and the fade back in
    assert gap[-1] < killed_at + round(1.0 * RATE / BLOCK), gap[-10:]
    underruns_since = status["io"]["underruns"] - underruns_before
    assert sum(len(run) - 1 for run in later) <= underruns_since, later
    assert sum(len(run) for run in later) < round(0.1 * RATE / BLOCK), later
