"""Big patches built live on the JACK device, line by line as a player types them: the sound
holds (no underrun the host does not explain), no slot is killed, and the idle patch is free.

Each chain is `add a saw called vN through an acid filter` then `vN through distortion`, put
into OSC by the language and sent over UDP; each line waits for the engine's sync. The
figures (build time, the longest command in a slot, idle render) are printed for the record;
the targets are measured in `benchmarks/live_build.py`, not asserted here.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.lang.interpreter import Interpreter
from tests.conftest import require_jack
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def build(client: EngineClient, chains: int) -> list[str]:
    """Type the chains' lines; the errors the engine answered."""
    interpreter = Interpreter()
    errors: list[str] = []
    for v in range(1, chains + 1):
        for line in (f"add a saw called v{v} through an acid filter", f"v{v} through distortion"):
            result = interpreter.interpret(line)
            assert result.ok, result.error
            client.send(result.messages)
            errors += [str(note[1]) for note in client.sync(timeout=30.0)[1]]
    return errors


def _active(status: dict[str, Any]) -> dict[str, Any]:
    return next(slot for slot in status["slots"] if slot["role"] == "active")


@pytest.mark.parametrize("chains", [32, 128])
def test_a_big_patch_built_live_keeps_the_sound(chains: int) -> None:
    require_jack()
    engine = EngineProcess(port=0, backend="device").boot()
    try:
        with engine.client() as client, StallMonitor() as host:
            start = client.status()
            began = time.monotonic()
            errors = build(client, chains)
            took = time.monotonic() - began
            time.sleep(1.5)  # the paced commands land; then it idles
            end = client.status()
        underruns = end["io"]["underruns"] - start["io"]["underruns"]
        engine_end = end["engine"]
        active = _active(end)
        print(
            f"\n{chains} chains built live in {took:.2f} s: {underruns} underruns, "
            f"longest command in a slot {max(s['max_apply_us'] for s in end['slots'])} µs, "
            f"render now {active['render']}, xruns {end['io']['xruns']}, "
            f"host stalls {host.stalls_ms}"
        )
        assert errors == []
        assert engine_end["respawns"] == 0 and engine_end["failovers"] == 0, engine_end["events"]
        assert all(slot["seat"] == "running" for slot in end["slots"])
        if host.realtime and host.stalls_ms:
            assert underruns <= host.blocks_bound(128 / 48), end["io"]
        else:
            assert underruns == 0, end["io"]
        with engine.client() as client:
            modules = client.dump()["modules"]
        assert len(modules) == 3 * chains
    finally:
        assert engine.quit() == 0
