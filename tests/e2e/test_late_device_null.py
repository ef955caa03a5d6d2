"""A device that is late (its I/O process stopped for 30 ms): the slots fill their rings.

A late device asks for the blocks it missed all at once when it comes back (JACK runs the
cycles its client missed back to back), so while the device is late each slot renders one
block more for every period it is late, up to its ring. Stamps follow what is rendered, so
a command sent meanwhile applies that much later — and the session log says where, so the
recording still equals the offline render of the log, sample for sample.
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
from tests.sessions import bass_line, logged_engine

pytestmark = [pytest.mark.slow]

BLOCK = 128
LEAD = 2


def test_the_slots_render_ahead_while_the_device_is_late(tmp_path: Path) -> None:
    log, wav = tmp_path / "s.log", tmp_path / "out.wav"
    engine = logged_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send(bass_line())
            client.sync()
            time.sleep(0.5)
            before = client.status()
            io_pid = before["io"]["pid"]
            os.kill(io_pid, signal.SIGSTOP)
            try:
                time.sleep(0.03)
                client.send([validate("/mod/bass/cutoff", (400.0,))])
                client.sync()
                late = client.status()
            finally:
                os.kill(io_pid, signal.SIGCONT)
            time.sleep(0.01)
            resumed = client.status()
            time.sleep(0.5)
            end = client.status()
        assert engine.quit() == 0
    finally:
        engine.kill()
    played = late["io"]["blocks_played"]
    ahead = [slot["blocks_rendered"] - played for slot in late["slots"]]
    print(f"\nwith the device 30 ms late: slots ahead by {ahead} blocks (lead {LEAD})")
    assert max(ahead) > LEAD + 2, late["slots"]
    assert all(slot["most_extra_blocks"] > 0 for slot in end["slots"]), end["slots"]
    recorded, _ = read_wav(wav)
    session = read_stamped_log(log)
    [cutoff] = [s for s, m in session.commands if m.address == "/mod/bass/cutoff"]
    assert cutoff >= (played + LEAD + 2) * BLOCK, "stamped after what the slots had rendered"
    offline = render_session(session, len(recorded))
    differing = differing_blocks(recorded, offline, BLOCK, end["io"]["blocks_played"])
    assert len(differing) <= 2 * end["io"]["underruns"], differing[:10]
    xruns = resumed["io"]["xruns"] - before["io"]["xruns"]
    put_on_host = resumed["io"]["xruns_in_host_stalls"] - before["io"]["xruns_in_host_stalls"]
    assert xruns >= 1, "a device 30 ms late is an xrun"
    if resumed["host"]["watched"] and resumed["host"]["stalls"] == before["host"]["stalls"]:
        assert put_on_host == 0, "no CPU stalled: this xrun was the I/O's own"
