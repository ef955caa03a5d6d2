"""Loading, reloading and unloading a user module while a pattern plays on JACK.

The code is imported and warmed by the spare, the template and the standby (the seats swap
roles so that the active never imports), the reload is built in the standby and crossfaded
in, the unload fades its modules out: the device must not miss a block for any of it
(beyond what the host's stalls can explain, which the test states).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import validate
from tests.conftest import require_jack
from tests.plugins.modules import write_gain
from tests.sessions import answer
from tests.stalls import StallMonitor, told_on_failure, what_happened

pytestmark = [pytest.mark.realtime, pytest.mark.slow]

BLOCK_MS = 128 / 48


def test_load_reload_and_unload_while_a_pattern_plays_without_underruns(tmp_path: Path) -> None:
    require_jack()
    source = write_gain(tmp_path, 1.0)
    engine = EngineProcess(
        port=0, backend="device", extra_args=["--plugin-store", str(tmp_path / "store")]
    ).boot()
    try:
        with engine.client() as client, StallMonitor() as host:
            client.send([
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
                validate("/seq/bass/pattern", ("c2 eb2 g2 c3 g2 eb2",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            client.sync()
            time.sleep(1.0)
            start = client.status()
            since = time.monotonic()
            marks = [(since, "load")]
            client.send_raw("/plugins/load", str(source), "gain", 1, "inline")  # reloaded
            assert answer(client, "/plugins/loaded")[0] == "/plugins/loaded"
            client.send([
                validate("/patch/create", ("g", "gain")),
                validate("/patch/disconnect", ("bass", "master")),
                validate("/patch/connect", ("bass", "g")),
                validate("/patch/connect", ("g", "master")),
            ])  # fmt: skip
            time.sleep(1.0)
            write_gain(tmp_path, 0.5)
            marks.append((time.monotonic(), "reload"))
            client.send_raw("/plugins/reload", "gain", 1)
            assert answer(client, "/plugins/loaded")[0] == "/plugins/loaded"
            time.sleep(1.0)
            marks.append((time.monotonic(), "unload"))
            client.send_raw("/plugins/unload", "gain")
            assert answer(client, "/plugins/unloaded")[0] == "/plugins/unloaded"
            client.send([validate("/patch/connect", ("bass", "master"))])
            time.sleep(1.0)
            end = client.status()
        io = end["io"]
        underruns = io["underruns"] - start["io"]["underruns"]
        played = io["blocks_played"] - start["io"]["blocks_played"]
        print(
            f"\nplugins on JACK: {played} blocks, {underruns} underruns, xruns {io['xruns']}, "
            f"commits {end['engine']['commits']}, host stalls {host.stalls_ms}"
        )
        with told_on_failure(lambda: what_happened(end, host, since, marks)):
            assert end["engine"]["commits"] == 1 and end["engine"]["failovers"] == 0
            assert io["last_onset_age_s"] is not None and io["last_onset_age_s"] < 1.0
            if host.realtime and host.stalls_ms:
                assert underruns <= host.blocks_bound(BLOCK_MS)
            else:
                assert underruns == 0
    finally:
        assert engine.quit() == 0
