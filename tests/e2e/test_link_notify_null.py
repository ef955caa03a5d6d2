"""What Ableton Link changes is told to the shells on the engine (`/notify`), once.

A real engine in a Link session with a real peer in another process (`tests.link_peers`),
and raw UDP subscribers: when another app moves the session's tempo, every subscriber hears
`/changed <n> link /tempo <bpm>` once; a tempo a client types goes to the session, and is
told as that client's once the session took it; the small nudges that keep chronus on the
session's phase (each a `/tempo` stamped and logged) are not told, or a shell on a Link
session would print a line every beat.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.protocol import encode_raw
from tests.e2e.test_ensemble_null import _changes, _subscriber
from tests.e2e.test_link_null import kick_on_every_beat, linked_engine, wait_for
from tests.link_peers import PeerProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # Link peers find every session on the machine
    pytest.mark.usefixtures("private_link_network"),  # …unless the test has a network of its own
]


def test_a_tempo_another_app_sets_is_told_once_and_the_nudges_never(tmp_path: Path) -> None:
    peer = PeerProcess(90.0)
    engine, _, _ = linked_engine(tmp_path)
    try:
        with engine.client() as client:
            peer.wait_peers(1)
            wait_for(lambda: client.now()["bpm"] == 90.0)
            listener, typist = _subscriber(engine.port), _subscriber(engine.port)
            try:
                kick_on_every_beat(client)  # the transport runs: the phase is kept by nudges
                peer.set_tempo(133.0)
                heard = _changes(listener, 6.0)
                link = client.status()["engine"]["link"]
                typist.sendto(encode_raw("/tempo", 100.0), ("127.0.0.1", engine.port))
                heard += _changes(listener, 4.0)
                peer_bpm = peer.read().bpm
            finally:
                listener.close()
                typist.close()
    finally:
        engine.quit()
        peer.close()
    tempos = [args[1:] for args in heard if args[2] == "/tempo"]
    assert tempos == [
        ("link", "/tempo", pytest.approx(133.0, abs=0.01)),
        ("raw", "/tempo", pytest.approx(100.0, abs=0.01)),  # the typist's, told as theirs
    ], heard
    assert link["nudges"] >= 2, link  # chronus did send tempos meanwhile: they stayed untold
    assert abs(link["bpm"] - 133.0) < 0.01
    assert peer_bpm == pytest.approx(100.0)  # the typed tempo went to the session
