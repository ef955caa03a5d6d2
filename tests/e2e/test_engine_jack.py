"""The engine on a real PortAudio device: the JACK server's dummy driver."""

from __future__ import annotations

import time

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import validate
from tests.conftest import require_jack

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def test_ten_seconds_on_jack_without_underruns() -> None:
    require_jack()
    engine = EngineProcess(port=0, backend="device").boot()
    try:
        assert "backend=device" in engine.ready_line
        with engine.client() as client:
            client.send([
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
            ])  # fmt: skip
            client.sync()
            start = client.status()
            assert "JACK" in start["io"]["device"]
            started = time.monotonic()
            step = 0
            while time.monotonic() - started < 10.0:
                client.send([validate("/note/bass", (36 + (step * 7) % 24, 100, 0.1))])
                step += 1
                time.sleep(0.125)
            end = client.status()
        played = end["io"]["blocks_played"] - start["io"]["blocks_played"]
        expected = 10.0 * 48000 / 128
        assert played >= 0.97 * expected, f"only {played} of ~{expected:.0f} blocks played"
        assert end["io"]["underruns"] == 0
        assert end["slots"][0]["late_commands"] == 0
        assert end["io"]["last_onset_ns"] > 0, "no block with sound reached the device"
        print(f"\nJACK 10 s: {played} blocks, xruns {end['io']['xruns']}, "
              f"callback {end['io']['callback']}, render {end['slots'][0]['render']}")  # fmt: skip
    finally:
        assert engine.quit() == 0
