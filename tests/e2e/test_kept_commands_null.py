"""A burst of commands is not kept in the supervisor once a checkpoint follows it (a real
engine, null backend): it was, until 65,536 newer commands pushed it out (about 13 MB)."""

from __future__ import annotations

import time

import pytest

from chronus.engine.client import EngineProcess
from chronus.engine.keeper import LOG_FLOOR
from chronus.protocol import encode, validate

pytestmark = [pytest.mark.slow]

BURST = LOG_FLOOR + 2000


def test_a_burst_is_forgotten_once_a_checkpoint_follows_it() -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            client.send([validate("/patch/create", ("p", "sine"))])
            client.sync()
            packet = encode(validate("/mod/p/pan", (0.25,)))
            for n in range(BURST):
                client.send_bytes(packet)
                if n % 200 == 199:
                    client.sync(timeout=10.0)  # no kernel drops: every command is taken
            client.sync(timeout=10.0)
            deadline = time.monotonic() + 5.0  # a checkpoint comes about once a second
            while time.monotonic() < deadline:
                status = client.status()["engine"]
                if status["commands_kept"] <= LOG_FLOOR:
                    break
                time.sleep(0.2)
        assert status["osc"]["commands"] >= BURST
        assert status["commands_kept"] == LOG_FLOOR, status["commands_kept"]
    finally:
        assert engine.quit() == 0
