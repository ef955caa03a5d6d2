"""`/engine/now` from a real engine (null backend, real UDP): the transport's beat and
tempo, the output level, a recording, and the events a toolbar writes above the prompt."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.now import SILENT_DB
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate

RATE = 48000


def wait_now(client: EngineClient, ok: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Poll `now()` until `ok(answer)`; the answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.now()
        if ok(answer):
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)


def test_the_beat_follows_the_tempo_and_the_level_the_sound(null_engine: EngineProcess) -> None:
    with null_engine.client() as client:
        quiet = client.now()
        assert quiet["peak_db"] == [SILENT_DB, SILENT_DB] and quiet["beat"] is None
        client.send([
            validate("/tempo", (150, 1)),
            validate("/patch/create", ("bass", "saw")),
            validate("/patch/connect", ("bass", "master")),
            validate("/seq/bass/pattern", ("c2 eb2 g2 c3",)),
        ])  # fmt: skip
        client.sync()
        first = wait_now(client, lambda a: a["running"] and max(a["peak_db"]) > SILENT_DB)
        time.sleep(1.0)
        second = client.now()
        assert first["bpm"] == second["bpm"] == 150.0
        seconds = (second["sample"] - first["sample"]) / RATE
        # the beat at the output moves with the output's sample clock: 2.5 beats a second
        assert second["beat"] - first["beat"] == pytest.approx(2.5 * seconds, 1e-3)
        assert seconds > 0.5
        assert all(
            peak >= rms > -60.0
            for peak, rms in zip(second["peak_db"], second["rms_db"], strict=True)
        )
        assert second["active"] in ("A", "B") and 0.0 < second["dsp_load"] < 1.0
        client.send([validate("/seq/stop", ())])
        client.sync()
        stopped = wait_now(client, lambda a: not a["running"])
        assert stopped["beat"] is None


def test_a_timed_recording_shows_while_it_runs_and_ends_with_one_event(
    null_engine: EngineProcess, tmp_path: Path
) -> None:
    path = tmp_path / "take.wav"
    with null_engine.client() as client:
        seen = max((e["serial"] for e in client.now()["events"]), default=0)
        client.send([validate("/record/start", (str(path), RATE // 2))])
        client.sync()
        taking = wait_now(client, lambda a: a["recording"] is not None)
        assert taking["recording"]["path"] == str(path)
        assert 0.0 <= taking["recording"]["seconds"] <= 0.5
        done = wait_now(client, lambda a: a["recording"] is None)
        done = wait_now(client, lambda a: any(e["serial"] > seen for e in a["events"]))
    new = [e for e in done["events"] if e["serial"] > seen]
    assert [(e["kind"], e["text"]) for e in new] == [("recording", f"recorded 0.5 s to {path}")]


def test_a_crashing_module_gives_a_failover_and_a_quarantine_event(
    fault_engine_null: EngineProcess,
) -> None:
    with fault_engine_null.client() as client:
        client.send([
            validate("/patch/create", ("bass", "saw")),
            validate("/patch/create", ("crash", "fault_segfault")),
            validate("/patch/connect", ("bass", "crash")),
            validate("/patch/connect", ("crash", "master")),
            validate("/note/bass", (40, 100)),
        ])  # fmt: skip
        client.sync()
        before = client.now()
        client.send([validate("/mod/crash/armed", (1,))])
        client.sync()
        after = wait_now(
            client, lambda a: {"failover", "quarantine"} <= {e["kind"] for e in a["events"]}
        )
    kinds = [e["kind"] for e in after["events"]]
    serials = [e["serial"] for e in after["events"]]
    assert serials == sorted(set(serials))  # rising, each once
    assert kinds.count("failover") == kinds.count("quarantine") == 1
    quarantine = next(e for e in after["events"] if e["kind"] == "quarantine")
    assert quarantine["text"].startswith("module crash crashed (signal 11)")
    assert after["failovers"] == before["failovers"] + 1
    assert after["active"] != before["active"]


def test_restart_takes_the_running_transport_back_to_its_first_beat(
    null_engine: EngineProcess,
) -> None:
    interpreter = Interpreter()
    with null_engine.client() as client:
        for line in ("add a saw called top", "top: c2 eb2 g2 c3", "start", "restart"):
            result = interpreter.interpret(line)
            assert result.ok, line
            earliest, _ = client.sync()  # the restart applies at or after this sample
            client.send(list(result.messages))
            stamp, errors = client.sync()  # ... and at or before this one
            assert errors == []
            if line == "start":
                wait_now(client, lambda a: a["running"] and a["beat"] > 2.0)
        # Beat 0 fell on the sample the line applied at: the beat now counts from there. On a
        # quiet host the two syncs name the same sample; a host that held the engine between
        # the line and its sync leaves a span, and the beat must fall within it.
        after = wait_now(client, lambda a: a["running"] and a["sample"] > stamp)
        per_sample = after["bpm"] / 60 / RATE
        assert (after["sample"] - stamp) * per_sample - 1e-3 <= after["beat"]
        assert after["beat"] <= (after["sample"] - earliest) * per_sample + 1e-3
        assert stamp - earliest < RATE  # the span is a host's hiccup, not a lost beat
        client.send([validate("/patch/remove", ("top",)), validate("/seq/stop", ())])
        client.sync()
