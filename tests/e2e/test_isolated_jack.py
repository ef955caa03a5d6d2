"""An isolated module on JACK (a user module, and the TAP reverberator, a native plugin): its
host SIGKILLed, then SIGSTOPped, while a pattern plays.

The device must not miss a block for any of it (beyond what the machine's stalls explain,
which the test states), the keeper respawns the host along its ladder (at once after the
kill; after 2 s for the stop, found by its missing heartbeat), and both slots stay in
lockstep: no divergence, and the ring never saw the two slots offer different input.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate
from tests.conftest import require_jack
from tests.plugins.modules import write_gain
from tests.sessions import answer
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

BLOCK_MS = 128 / 48


REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"


def _host(client: EngineClient, name: str, restarts: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host = client.plugin_health(name).get("hosts", {}).get("g")
        if host and host["host_state"] == "running" and host["restarts"] == restarts:
            return dict(host)
        time.sleep(0.1)
    raise AssertionError(f"no running host after {restarts} restarts")


@pytest.mark.parametrize("plugin", ["gain", "tap_reverb"])
def test_a_host_killed_and_stopped_while_a_pattern_plays_costs_no_block(
    tmp_path: Path, plugin: str
) -> None:
    require_jack()
    if plugin == "gain":
        source = str(write_gain(tmp_path, 1.0))
    elif Path(REVERB.split("#")[0]).is_file():
        source = REVERB
    else:
        pytest.skip("needs tap-plugins (apt install tap-plugins)")
    engine = EngineProcess(
        port=0, backend="device", extra_args=["--plugin-store", str(tmp_path / "store")]
    ).boot()
    try:
        with engine.client() as client, StallMonitor() as machine:
            client.send_raw("/plugins/load", source, plugin, 1, "isolated")
            assert answer(client, "/plugins/loaded")[0] == "/plugins/loaded"
            client.send([
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/create", ("g", plugin)),
                validate("/patch/connect", ("bass", "g")),
                validate("/patch/connect", ("g", "master")),
                validate("/seq/bass/pattern", ("c2 eb2 g2 c3 g2 eb2",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            first = _host(client, plugin, 0)
            time.sleep(1.0)
            start = client.status()
            os.kill(first["host_pid"], signal.SIGKILL)
            second = _host(client, plugin, 1)
            time.sleep(1.0)
            os.kill(second["host_pid"], signal.SIGSTOP)
            third = _host(client, plugin, 2)
            time.sleep(1.0)
            end = client.status()
        io = end["io"]
        underruns = io["underruns"] - start["io"]["underruns"]
        played = io["blocks_played"] - start["io"]["blocks_played"]
        print(
            f"\nisolated {plugin} on JACK: {played} blocks, {underruns} underruns, xruns "
            f"{io['xruns']}, deaths {third['deaths']}, bypasses {third['bypasses']}, "
            f"machine stalls {machine.stalls_ms}"
        )
        assert third["deaths"][0] == "died of signal 9"
        assert third["deaths"][1].startswith("no heartbeat for")
        assert third["different"] == 0 and end["engine"]["divergences"] == 0
        assert end["engine"]["failovers"] == 0
        sounding = io["sounding_blocks"] - start["io"]["sounding_blocks"]
        assert sounding >= 0.95 * played, "the music played on (a bypass passes it through)"
        if machine.realtime and machine.stalls_ms:
            assert underruns <= machine.blocks_bound(BLOCK_MS), end
        else:
            assert underruns == 0, end
    finally:
        assert engine.quit() == 0
