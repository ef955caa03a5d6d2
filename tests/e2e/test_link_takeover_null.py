"""Ableton Link across a supervisor takeover (null backend, real UDP, real SIGKILL, a real
Link peer in another process).

Link is turned on over OSC (not `--link`), with a quantum of 8 and start/stop sync; the
supervisor is SIGKILLed while a kick plays; the one that takes over is in the session again
with the same settings, chronus's tempo plays on meanwhile, and a tempo the peer sets after
the kill is followed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from tests.e2e.test_link_null import kick_on_every_beat, wait_for
from tests.link_peers import PeerProcess
from tests.sessions import wait_status

pytestmark = pytest.mark.slow


def _link(client: EngineClient) -> dict[str, object]:
    return dict(client.status(timeout=5.0)["engine"]["link"])


def test_a_new_supervisor_is_in_the_link_session_again_and_follows_it() -> None:
    peer = PeerProcess(90.0)
    engine = EngineProcess(port=0, backend="null")
    try:
        engine.boot()
        client = engine.client()
        json.loads(str(client.ask("/link", 1)[0]))
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
        old = before["engine"]["supervisor"]["pid"]
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 30.0
        while True:
            with contextlib.suppress(EngineError):
                after = client.status(timeout=1.0)
                break
            assert time.monotonic() < deadline, "no new supervisor answered"
        assert after["engine"]["supervisor"]["pid"] != old
        assert client.now()["bpm"] == pytest.approx(90.0, abs=0.5)  # it played on meanwhile
        link = wait_for(lambda: (kept := _link(client)).get("peers", 0) >= 1 and kept, timeout=15.0)
        assert link["enabled"] and link["quantum"] == 8 and link["start_stop_sync"]
        peer.set_tempo(133.0)
        changed = time.monotonic()
        wait_for(lambda: abs(client.now()["bpm"] - 133.0) < 1.33, timeout=10.0)
        print(
            f"in the session again {changed - killed:.2f} s after the kill; "
            f"133 bpm followed {time.monotonic() - changed:.2f} s after the peer set it"
        )
        wait_for(lambda: (e := _link(client)["phase_error_ms"]) is not None and abs(e) < 1.0)
        assert client.now()["running"]
        client.close()
        assert engine.quit() == 0
    finally:
        engine.quit()
        peer.close()
