"""Issue 15's "done when", as a user lives it, on a real null engine with the HTTP API on.

From the prompt: load a module written as the walk-through says, hear it in a chain, break it
while it plays (a setting it cannot take makes it write infinities: it passes validation,
which tries settings at random, and fails on the stage), watch the engine survive it (the
module is bypassed, then suspended; the saw keeps sounding; both slots keep running) and
report it in `modules` and `/plugins/<name>/health`, fix the file and reload it: it plays
again, one restart counted. `GET /v1/plugins` and `/v1/plugins/<name>/health` tell the same
story as the OSC replies.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import learn_plugins
from chronus.plugins.source import version_of
from chronus.shell.app import Shell

pytestmark = [pytest.mark.slow]

WARM = """
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


class Warm(Processor):
    \"\"\"A soft saturator: x · d / (1 + d · |x|), its drive d = 1 / (1 - LIMIT · heat).\"\"\"

    PARAMS = (ParamSpec("heat", 0.3, 0.0, 1.0, "", 0.0, "how hard it saturates"),
              *mix_specs(0.0))

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._den = np.zeros((max_block, 2))
        self._init_params()

    def process_stereo(self, inp, out, n: int) -> None:
        drive = 1.0 / np.float64(1.0 - LIMIT * self.current("heat"))
        np.abs(inp[:n], out=self._den[:n])
        np.multiply(self._den[:n], drive, out=self._den[:n])
        np.add(self._den[:n], 1.0, out=self._den[:n])
        np.multiply(inp[:n], drive, out=out[:n])
        np.divide(out[:n], self._den[:n], out=out[:n])
"""


def _source(limit: float) -> str:
    """`limit` 1.0 is the bug: at the top of its range (heat 1, which validation's random
    settings do not hit) the drive is infinite and the output NaN. 0.5 is the fix."""
    return WARM.replace("LIMIT", repr(limit))


def _get(http: tuple[str, int], path: str) -> Any:
    with urllib.request.urlopen(f"http://{http[0]}:{http[1]}{path}", timeout=5) as response:
        return json.loads(response.read())


def _until(what: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def _said(written: list[str], text: str) -> Callable[[], str | None]:
    return lambda: next((line for line in reversed(written) if text in line), None)


def _blocks(client: EngineClient) -> int:
    return int(client.status()["io"]["blocks_played"])


def test_write_load_hear_break_survive_fix_reload_and_http_tells_the_same(
    tmp_path: Path,
) -> None:
    engine = EngineProcess(port=0, backend="null", extra_args=["--http", "127.0.0.1:0"]).boot()
    assert engine.http is not None
    try:
        client = engine.client()
        written: list[str] = []
        shell = Shell(client, Interpreter(Context.from_engine(client.dump())), written.append)
        path = tmp_path / "warm.py"
        path.write_text(_source(1.0), encoding="utf-8")
        broken = version_of(path.read_bytes())

        assert shell.handle(f"load module {path} as warm inline")
        _until(_said(written, f"loaded warm (v {broken}): active"))
        assert shell.handle("add a saw called bass; add a warm called w1 after bass")
        assert shell.handle("play c2 eb2 g2 c3 every 16th on bass")
        _until(lambda: client.plugin_health("warm")["success_count"] > 50)
        assert client.plugin_health("warm")["error_count"] == 0, "heard, and healthy"

        assert shell.handle("set w1 heat to 1")  # the top of its range: it blows up
        health = _until(lambda: (h := client.plugin_health("warm"))["state"] == "suspended" and h)
        assert health["error_count"] >= 16 and "non-finite" in health["last_error"].lower()
        assert [t["reason"] for t in health["transitions"]][-1] == "errors"
        before = _blocks(client)
        time.sleep(0.5)
        status = client.status()
        assert _blocks(client) - before > 100, "the music goes on"
        assert all(slot["seat"] == "running" for slot in status["slots"])
        assert status["engine"]["failovers"] == 0, "a module's fault costs no slot"
        assert shell.handle("modules")
        row = next(line for line in written[-1].splitlines() if line.lstrip().startswith("warm"))
        assert "suspended" in row

        over_http = _get(engine.http, "/v1/plugins/warm/health")
        assert over_http["state"] == "suspended"
        assert over_http["error_count"] >= health["error_count"]

        path.write_text(_source(0.5), encoding="utf-8")
        fixed = version_of(path.read_bytes())
        assert shell.handle("reload warm")
        _until(_said(written, f"loaded warm (v {fixed}): active"))
        _until(lambda: client.plugin_health("warm")["success_count"] > 0)
        errors = client.plugin_health("warm")["error_count"]
        time.sleep(1.0)
        health = client.plugin_health("warm")
        if health["state"] != "active":
            print(health["transitions"], health["last_error"], client.status()["engine"]["events"])
        assert health["state"] == "active" and health["version"] == fixed
        assert health["restarts"] == 1 and health["error_count"] == errors, "fixed: no errors"
        assert client.dump()["modules"]["w1"]["params"]["heat"] == 1.0, "its setting kept"

        listed = {row["name"]: row for row in _get(engine.http, "/v1/plugins")}
        assert listed["warm"]["state"] == "active" and listed["warm"]["version"] == fixed
        story = [t["state"] for t in _get(engine.http, "/v1/plugins/warm/health")["transitions"]]
        assert story == [
            "discovered", "validating", "ready", "active", "suspended",
            "validating", "ready", "active",
        ]  # fmt: skip
    finally:
        learn_plugins({})
        engine.quit()
