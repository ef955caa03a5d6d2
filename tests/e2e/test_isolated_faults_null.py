"""Faulty user modules loaded the default way (isolated), in a playing engine (null backend).

The isolated counterpart of the slots' guard (tests/e2e/test_plugins_null.py loads the same
faults `inline`): a module that raises or writes NaN does so in its host, which bypasses
those calls (the bass passes through) and counts them; one that never returns stops its host
from beating, and the keeper kills and respawns it; one that raises in every block fails its
host's warm-up block, which the keeper takes for a death. Either way no slot stalls or fails
over, both stay in lockstep, and the music goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import Message, validate
from tests.sessions import answer

pytestmark = [pytest.mark.slow]

FAULTY = Path(__file__).resolve().parents[1] / "plugins" / "faulty"


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


@pytest.fixture(scope="module")
def engine() -> Any:
    """A null-backend engine with a bass line playing."""
    process = EngineProcess(port=0, backend="null").boot()
    with process.client() as client:
        client.send([
            _m("/patch/create", "bass", "saw"), _m("/patch/connect", "bass", "master"),
            _m("/seq/bass/pattern", "c2 eb2 g2 c3"), _m("/seq/start"),
        ])  # fmt: skip
        client.sync()
    yield process
    assert process.quit() == 0


def _host(client: EngineClient, name: str) -> dict[str, Any]:
    health = client.plugin_health(name)
    assert health["runs_in"] == "isolated"
    return dict((health.get("hosts") or {}).get("x") or {})


def _until(client: EngineClient, name: str, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 60.0  # a host's first start may compile its kernels
    while not ok(host := _host(client, name)):
        assert time.monotonic() < deadline, host
        time.sleep(0.1)
    return host


def _errors(host: dict[str, Any]) -> bool:
    return int(host.get("host_errors", 0)) >= 50 and int(host.get("bypasses", 0)) >= 50


def _respawned(host: dict[str, Any]) -> bool:
    return int(host.get("restarts", 0)) >= 1 and bool(host.get("deaths"))


def _never_started(host: dict[str, Any]) -> bool:
    """A host renders a block before it serves (its kernels load then): one that raises
    there fails to start, which is a death like any (the ladder, then suspended)."""
    said = " ".join(str(death) for death in host.get("deaths") or [])
    return "failed to start" in said and "ZeroDivisionError" in said


LATER = '''"""{what} in every call from its 8th on (a fresh instance counts again)."""

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


class Later(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._calls = 0
        self._init_params()

    def process_stereo(self, inp, out, n):
        self._calls += 1
        out[:n] = inp[:n]
        if self._calls >= 8:
            {fault}
'''
WRITTEN = {
    "raises_later.py": LATER.format(what="Raises", fault='raise ZeroDivisionError("later")'),
    "nan_later.py": LATER.format(what="Writes NaN", fault='out[0, 0] = float("nan")'),
    "loops_later.py": LATER.format(what="Never returns", fault="while True: pass"),
}
"""Faults the host's warm-up block does not meet (it fails to start on one that does)."""


@pytest.mark.parametrize(
    ("fixture", "ok"),
    [
        ("raises_later.py", _errors),
        ("nan_later.py", _errors),
        ("loops_later.py", _respawned),
        ("raises_in_process.py", _never_started),
    ],
)
def test_a_faulty_isolated_module_costs_its_own_sound_only(
    engine: EngineProcess,
    fixture: str,
    ok: Callable[[dict[str, Any]], bool],
    tmp_path: Path,
) -> None:
    name = "bad_" + fixture.split("_")[0]
    path = FAULTY / fixture
    if fixture in WRITTEN:
        path = tmp_path / fixture
        path.write_text(WRITTEN[fixture])
    with engine.client() as client:
        client.send_raw("/plugins/load", str(path), name, 1)  # forced; hosting unsaid: isolated
        address, args = answer(client, "/plugins/loaded", 60.0)
        assert address == "/plugins/loaded", args
        before = client.status()
        client.send([
            _m("/patch/create", "x", name), _m("/patch/disconnect", "bass", "master"),
            _m("/patch/connect", "bass", "x"), _m("/patch/connect", "x", "master"),
        ])  # fmt: skip
        began = time.monotonic()
        host = _until(client, name, ok)
        print(f"\n{fixture}: {time.monotonic() - began:.1f} s to {ok.__name__}: {host}")
        time.sleep(0.5)
        status = client.status()
        client.send_raw("/plugins/unload", name)  # x goes with it
        assert answer(client, "/plugins/unloaded")[0] == "/plugins/unloaded"
        client.send([_m("/patch/connect", "bass", "master")])
        client.sync()
    assert host["different"] == 0, "both slots offered the same calls: in lockstep"
    engine_before, engine_after = before["engine"], status["engine"]
    assert engine_after["failovers"] == engine_before["failovers"], engine_after["events"]
    assert engine_after["quarantined"] == {}, "the slots never ran its code"
    assert all(slot["seat"] == "running" for slot in status["slots"])
    played = status["io"]["blocks_played"] - before["io"]["blocks_played"]
    sounding = status["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
    assert sounding >= 0.9 * played > 0, "the bass went on, through the bypass"
