"""Ableton Link across a supervisor takeover (null backend, real UDP, real SIGKILL, a real
Link peer in another process).

Link is turned on over OSC (not `--link`), with a quantum of 8 and start/stop sync; the
supervisor is SIGKILLed while a kick plays on every beat; the one that takes over is in the
session again with the same settings, chronus's tempo plays on meanwhile, a tempo the peer
sets after the kill is followed, the recorded beats fall on the peer's again, and the session
log (the nudges of both supervisors in it) renders to the recording.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chronus.dsp.render import render_offline
from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.e2e.test_failover_null import classify_blocks
from tests.e2e.test_link_null import BLOCK, RATE, kick_on_every_beat, linked_engine, wait_for
from tests.link_measure import JOIN_S, Timeline, on_whole_blocks, percentile
from tests.link_peers import PeerProcess
from tests.onsets import onsets
from tests.sessions import wait_status

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # Link peers find every session on the machine
    pytest.mark.usefixtures("private_link_network"),  # …unless the test has a network of its own
]


SETTLE_S = 6.0
"""How long the engine plays at 133 bpm, after the tempo change and after its last xrun, before
its last beats are judged settled: an error of 30 ms (a change noticed ~90 ms late, or a long
stall) is made up to 1 ms within 7 beats (`HORIZON_BEATS`), and 6 s at 133 bpm are 13 beats."""


def _link(client: EngineClient) -> dict[str, Any]:
    return dict(client.status(timeout=5.0)["engine"]["link"])


def _answered_after(
    engine: EngineProcess, client: EngineClient, old: int, timeout: float = 30.0
) -> dict[str, Any]:
    """The first status a supervisor other than `old` answers; if none does, the failure
    says what the client was last told and what the engine wrote.

    Each ask waits as long as is left: while nothing listens it is refused at once, and a
    supervisor that listens answers late on a loaded host (over 2 s was seen at load 19), so
    an ask given up after a second, and asked again, may never see its answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            status = client.status(timeout=max(1.0, deadline - time.monotonic()))
        except EngineError as exc:
            last = str(exc)
        else:
            if status["engine"]["supervisor"]["pid"] != old:
                return status
            last = "the old supervisor's status"
        if time.monotonic() >= deadline:
            notices = "".join(engine.notices)
            code = engine.process.poll() if engine.process is not None else None
            pytest.fail(f"no new supervisor answered: {last}; engine exit code {code}; {notices}")
        time.sleep(0.05)


def test_a_new_supervisor_is_in_the_link_session_again_and_follows_it(tmp_path: Path) -> None:
    peer = PeerProcess(90.0)
    engine, log, wav = linked_engine(tmp_path, link=False)
    timeline = Timeline(RATE, BLOCK)
    try:
        client = engine.client()
        json.loads(str(client.ask("/link", 1, timeout=JOIN_S)[0]))
        json.loads(str(client.ask("/link/quantum", 8)[0]))
        assert json.loads(str(client.ask("/link/sync", 1)[0]))["start_stop_sync"]
        peer.wait_peers(1)
        peer.set_tempo(90.0)  # the engine was first in the session, at its own tempo
        wait_for(lambda: client.now()["bpm"] == 90.0)
        kick_on_every_beat(client)
        before = wait_status(
            client,
            lambda s: bool(s["io"]["sounding_blocks"] and s["engine"]["supervisor"]["standby"]),
            timeout=60.0,
        )
        timeline.watch(client, peer, 2.0)
        old = before["engine"]["supervisor"]["pid"]
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        _answered_after(engine, client, old)
        assert client.now()["bpm"] == pytest.approx(90.0, abs=0.5)  # it played on meanwhile
        link = wait_for(lambda: (kept := _link(client)).get("peers", 0) >= 1 and kept, 15.0)
        rejoined = time.monotonic()
        assert link["enabled"] and link["quantum"] == 8 and link["start_stop_sync"]
        timeline.watch(client, peer, 2.0)
        peer.set_tempo(133.0)
        changed = time.monotonic()
        timeline.watch(client, peer, 10.0, lambda: abs(client.now()["bpm"] - 133.0) < 1.33)
        print(
            f"in the session again {rejoined - killed:.2f} s after the kill; 133 bpm followed "
            f"{time.monotonic() - changed:.2f} s after the peer set it"
        )
        timeline.watch(client, peer, SETTLE_S)
        # An xrun (the host held the null I/O up for over a period: it then hands the
        # following samples over that much late) puts the beats late anew, and the nudges
        # make that up over bars, as designed: the settled beats are judged after the last.
        timeline.watch(client, peer, 30.0, lambda: timeline.calm_s() >= SETTLE_S)
        assert client.now()["running"]
        client.close()
        assert engine.quit() == 0
    finally:
        engine.quit()
        peer.close()
    recording, _ = read_wav(wav)
    session = read_stamped_log(log)
    reference = render_offline(session.commands, len(recording), RATE, BLOCK)
    comparison = classify_blocks(recording, reference)
    assert comparison.unexplained == []
    hits = timeline.watched(onsets(recording))
    faded = [*comparison.gaps, *comparison.fade_ins]
    errors = timeline.errors_ms(on_whole_blocks(hits, faded, BLOCK))
    print(" ".join(f"{e:.2f}" for e in errors))
    print(f"beats against the peer's after the takeover: p50 {percentile(errors, 50):.3f} ms")
    print(f"xruns (samples handed over by the reading that saw each): {timeline.xrun_samples()}")
    assert len(hits) > 15 and percentile(errors[-6:], 100) < 1.0  # settled at 133 bpm
    assert np.abs(errors).max() < 100.0  # never a jump
