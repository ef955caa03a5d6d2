"""A native plugin that segfaults, played by a real engine (null backend): it kills its host
only. The test plugin `crash` (tests/plugins/ladspa/crash.c, built with the system C
compiler) segfaults in the fifth block each instance renders. Forced past validation into a
chain while a pattern plays, it kills four hosts in a row: the respawns follow the ladder
(at once, after 2 s, after 10 s, each host serving soon after), the fourth death suspends it,
health names the plugin, the music plays on through it (bypassed), both slots stay in
lockstep, and the session log renders offline — in a separate `chronus render`, since it
runs the plugin's code — equal to the recording.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks, explained_blocks
from tests.plugins.ladspa.conftest import build
from tests.sessions import answer, plugin_engine

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WARM_SLACK_S = 8.0
"""How long a respawned host may take to serve after its delay: a spare still importing when
the host it replaces crashed (the test plugin crashes 13 ms after it starts) takes about a
second on a quiet machine and several under load. `benchmarks/host_start.py` times it."""


def _watch(client: EngineClient, timeout: float) -> dict[str, object]:
    """Poll the crashing module's host until it is suspended: its last health. When each
    host served is the keeper's record (`respawns`), not this poll's: a host that crashes
    13 ms after it starts lives between two polls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host = client.plugin_health("crash")["hosts"]["boom"]
        if host["host_state"] == "suspended":
            return host
        time.sleep(0.05)
    raise AssertionError(f"not suspended within {timeout} s: {host}")


def test_a_segfaulting_plugin_kills_its_host_only_and_ends_suspended(tmp_path: Path) -> None:
    library = build(tmp_path / "crash.so")
    engine = plugin_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send_raw("/plugins/load", f"{library}#crash", "crash", 1, "isolated")
            address, args = answer(client, "/plugins/loaded", 60.0)
            assert address == "/plugins/loaded", args
            for address_, *rest in (
                ("/patch/create", "bass", "saw"),
                ("/patch/create", "boom", "crash"),
                ("/patch/connect", "bass", "boom"),
                ("/patch/connect", "boom", "master"),
                ("/seq/bass/pattern", "c2 eb2 g2 c3"),
                ("/seq/start",),
            ):
                client.send_raw(address_, *rest)
            before = int(client.status()["io"]["blocks_played"])
            host = _watch(client, 60.0)
            assert host["deaths"] == ["died of signal 11"] * 4, host["deaths"]
            assert str(host["decision"]).startswith("suspended: crash loop"), host["decision"]
            assert host["different"] == 0 and host["host_errors"] == 0
            ladder = [(r["delay_s"], r["serving_after_s"]) for r in host["respawns"]]
            assert [delay for delay, _ in ladder] == [0, 2, 10, None], ladder
            for delay, serving in ladder[
                :3
            ]:  # never before the ladder says; a warm host soon after
                assert serving is not None and delay <= serving < delay + WARM_SLACK_S, ladder
            crashing = sum(serving for _, serving in ladder[:3])
            news = [event["text"] for event in client.now()["events"]]
            assert any(text.startswith("boom: its plugin host died of signal 11; suspended")
                       for text in news), news  # fmt: skip
            listed = {plugin["name"]: plugin for plugin in client.plugins()}
            assert listed["crash"]["hosts"]["boom"]["host_state"] == "suspended"
            time.sleep(0.5)
            status = client.status()
            played = int(status["io"]["blocks_played"]) - before
            assert played > 0.9 * crashing * 48000 / 128, "it played on through the crashes"
            assert status["engine"]["divergences"] == 0
        assert engine.quit() == 0
    finally:
        engine.kill()
    offline = tmp_path / "offline.wav"
    done = subprocess.run(
        [sys.executable, "-m", "chronus", "render", str(tmp_path / "s.log"), "-o", str(offline)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    recorded, _ = read_wav(tmp_path / "out.wav")
    rendered, _ = read_wav(offline)
    running = differing_blocks(recorded, rendered[: len(recorded)], 128,
                               status["io"]["blocks_played"])  # fmt: skip
    assert len(running) <= explained_blocks(status["io"]), running[:10]
