"""Code changed on disk under a running engine: a new slot is not made a copy of an old one.

A user module (loaded through CHRONUS_MODULES) is edited while the engine plays. Workers are
forks of the process template, and run the code it imported at boot: the edit alone changes
nothing. Once the template dies and a new one has imported the new code, the spare made
before still has the old code and may replace a killed slot; the spare made from the new
template has the new code, so the next killed slot's seat is suspended with a note saying
why, instead of being filled by a worker that cannot render (or even read) the old state.
The music goes on in the other slot.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import validate
from tests.sessions import spare_made, wait_status

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MODULE = "chronus_user_module_under_edit"


def _boot(module_dir: Path) -> EngineProcess:
    path = [str(module_dir), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {"CHRONUS_MODULES": MODULE, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    return EngineProcess(port=0, backend="null", env=env).boot()


def _both_running(status: dict[str, Any]) -> bool:
    return all(slot["seat"] == "running" for slot in status["slots"])


def _kill_active(status: dict[str, Any]) -> str:
    active = next(slot for slot in status["slots"] if slot["role"] == "active")
    os.kill(int(active["pid"]), signal.SIGKILL)
    return str(active["name"])


def test_a_slot_is_not_copied_into_a_worker_with_other_code(tmp_path: Path) -> None:
    source = tmp_path / f"{MODULE}.py"
    source.write_text('"""A user module that registers nothing."""\nVERSION = 1\n')
    engine = _boot(tmp_path)
    try:
        with engine.client() as client:
            client.send([
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
                validate("/seq/bass/pattern", ("c3 e3 g3 c4",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            client.sync()
            wait_status(client, lambda s: _both_running(s) and spare_made(s))
            source.write_text('"""A user module that registers nothing."""\nVERSION = 2\n')
            os.kill(int(client.status()["engine"]["template"]["pid"]), signal.SIGKILL)
            wait_status(
                client,
                lambda s: (
                    s["engine"]["template"]["restarts"] == 1
                    and s["engine"]["template"]["state"] == "warm"
                ),
            )
            first = _kill_active(client.status())
            # the spare forked from the first template has the old code: it may take the seat
            status = wait_status(
                client,
                lambda s: (
                    _both_running(s)
                    and any("rejoined in lockstep" in e for e in s["engine"]["events"])
                ),
            )
            second = _kill_active(status)
            assert second != first
            status = wait_status(
                client,
                lambda s: (
                    any(slot["seat"] == "suspended" for slot in s["slots"])
                    and any("code on disk" in e for e in s["engine"]["events"])
                ),
            )
            suspended = next(slot for slot in status["slots"] if slot["seat"] == "suspended")
            assert suspended["name"] == second
            assert "restart the engine" in suspended["note"]
            playing = next(slot for slot in status["slots"] if slot["seat"] == "running")
            assert playing["role"] == "active"
            before = status["io"]["sounding_blocks"]
            time.sleep(0.5)
            after = client.status()
            assert after["io"]["sounding_blocks"] > before + 100, "the music stopped"
            assert after["engine"]["respawns"] == 1, after["engine"]["events"]
    finally:
        code = engine.quit()
    assert code == 0
