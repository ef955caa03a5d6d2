"""MIDI events and typed commands in the order the supervisor took them: a CC that comes
just after a typed change to the parameter it moves applies after it in the slots too, so
the patch the supervisor holds (what `/engine/dump` shows) is what plays. The MIDI events
are sent as the MIDI process sends them (dated bundles over UDP), dated too early to be on
time, as an event that came while the supervisor was busy would be."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.sample_clock import ntp_of_unix
from chronus.midi.bridge import dated_bundle
from chronus.protocol import encode_raw, validate
from chronus.session.stamped_log import read_stamped_log

pytestmark = pytest.mark.slow

ROUNDS = 20


def test_a_cc_just_after_a_typed_change_applies_after_it(tmp_path: Path) -> None:
    engine = EngineProcess(
        port=0, backend="null", extra_args=["--log", str(tmp_path / "s.log")]
    ).boot()
    try:
        with engine.client() as client:
            client.send([validate("/patch/create", ("bass", "saw"))])
            assert client.ask("/midi/map", 74, "bass", "cutoff") == (74, "bass", "cutoff")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for round_ in range(ROUNDS):
                typed = encode_raw("/mod/bass/cutoff", 400.0 + round_)
                cc = dated_bundle(ntp_of_unix(time.time()), encode_raw("/midi/cc", 74, 127))
                sock.sendto(typed, ("127.0.0.1", engine.port))
                sock.sendto(cc, ("127.0.0.1", engine.port))
                time.sleep(0.02)
            sock.close()
            client.sync()
            time.sleep(0.2)
            cutoff = client.dump()["modules"]["bass"]["params"]["cutoff"]
    finally:
        assert engine.quit() == 0
    assert cutoff == 20000.0
    moves = [(stamp, m.args[0]) for stamp, m in read_stamped_log(tmp_path / "s.log").commands
             if m.address == "/mod/bass/cutoff"]  # fmt: skip
    assert len(moves) == 2 * ROUNDS
    for (typed_at, typed), (cc_at, cc) in zip(moves[::2], moves[1::2], strict=True):
        assert typed < 1000.0 and cc == 20000.0, "logged in the order they were sent"
        assert cc_at >= typed_at, "the slots apply the CC after the typed change"
