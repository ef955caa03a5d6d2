"""The engine on a real PortAudio device: the JACK server's dummy driver."""

from __future__ import annotations

import time

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import validate
from tests.conftest import require_jack
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def test_ten_seconds_on_jack_without_underruns() -> None:
    require_jack()
    engine = EngineProcess(port=0, backend="device").boot()
    try:
        assert "backend=device" in engine.ready_line
        with engine.client() as client, StallMonitor() as host:
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
        io, slot = end["io"], end["slots"][0]
        played = io["blocks_played"] - start["io"]["blocks_played"]
        underruns = io["underruns"] - start["io"]["underruns"]
        expected = 10.0 * 48000 / 128
        print(
            f"\nJACK 10 s: {played} blocks, {underruns} underruns, xruns {io['xruns']}, "
            f"callback {io['callback']}, render {slot['render']}, "
            f"slowest slot cycle {slot['max_cycle_us']} µs, host stalls {host.stalls_ms}"
        )
        # A host stall of the CPU running JACK costs callbacks, not blocks of ours.
        assert played >= 0.97 * expected - host.blocks_bound(128 / 48)
        assert slot["late_commands"] == 0
        assert io["last_onset_ns"] > 0, "no block with sound reached the device"
        assert slot["realtime"] and io["realtime"]
        if host.realtime and host.stalls_ms:
            # Underruns the hypervisor can explain are reported above; more are ours.
            assert underruns <= host.blocks_bound(128 / 48), end
        else:
            assert underruns == 0, end
    finally:
        assert engine.quit() == 0
