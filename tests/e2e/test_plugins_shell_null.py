"""Issue 15's story from the prompt, on a real null engine: load a module file, play its type,
break it, reload it (the old version plays on), watch it, unload it; `chronus plugins` agrees.

It needs the engine side of issue 15 (`/plugins…` answered by the supervisor); on an engine
without it, it is skipped. Written with the shell, before that side was merged: the lead
checks its expectations against the merged engine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chronus.cli import main
from chronus.engine.client import EngineError, EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import learn_plugins
from chronus.plugins.source import version_of
from chronus.shell.app import Shell

FOLD = """
import numpy as np

from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec, mix_specs


class Fold(Processor):
    PARAMS = (ParamSpec("drive", 0.3, 0.0, 1.0, "", 0.0, "how hard it folds"), *mix_specs(0.0))

    def __init__(self, sample_rate: int, max_block: int) -> None:
        super().__init__(sample_rate, max_block)
        self._gain = 1.0
        self._init_params()

    def _param_changed(self, name: str, value: float) -> None:
        if name == "drive":
            self._gain = 1.0 + GAIN * value

    def process_stereo(self, inp, out, n: int) -> None:
        np.multiply(inp[:n], self._gain, out=out[:n])
        np.sin(out[:n], out=out[:n])
"""


def _source(gain: float, broken: bool = False) -> str:
    text = FOLD.replace("GAIN", repr(gain))
    if broken:
        text = text.replace("np.sin(out[:n], out=out[:n])", "raise ZeroDivisionError('broken')")
    return text


def _wait_for(written: list[str], text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in written if text in line]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no line with {text!r}: {written}")


def test_load_play_break_reload_watch_unload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        client = engine.client()
        try:
            client.plugins()
        except EngineError:
            pytest.skip("this engine does not answer /plugins (issue 15's engine side)")
        written: list[str] = []
        shell = Shell(client, Interpreter(Context.from_engine(client.dump())), written.append)
        path = tmp_path / "fold.py"
        path.write_text(_source(4.0), encoding="utf-8")
        version = version_of(path.read_bytes())

        assert shell.handle(f"load module {path} as fold inline")
        _wait_for(written, f"loaded fold (v {version}): active")
        assert shell.handle("add a saw called bass; add a fold called f1 after bass")
        assert shell.handle("set f1 drive to 0.7; play c2 eb2 g2 c3 every 16th on bass")
        dump = client.dump()
        assert dump["modules"]["f1"]["type"] == "fold"
        assert dump["modules"]["f1"]["params"]["drive"] == pytest.approx(0.7)
        assert shell.handle("modules")
        row = next(line for line in written[-1].splitlines() if line.lstrip().startswith("fold"))
        assert "active" in row and version in row

        path.write_text(_source(4.0, broken=True), encoding="utf-8")
        assert shell.handle("reload fold")
        failed = _wait_for(written, "error: reload fold failed")
        assert "exception" in failed and f"version {version} plays on" in failed
        assert client.plugin_health("fold")["version"] == version

        path.write_text(_source(2.0), encoding="utf-8")
        assert shell.handle("watch fold")
        _wait_for(written, "watching")
        path.write_text(_source(3.0), encoding="utf-8")
        _wait_for(written, "fold: its file changed — reloading")
        _wait_for(written, f"loaded fold (v {version_of(_source(3.0).encode())})")
        assert shell.handle("unwatch fold")
        assert client.dump()["modules"]["f1"]["params"]["drive"] == pytest.approx(0.7)

        capsys.readouterr()
        assert main(["plugins", "--json", "--engine", f"127.0.0.1:{engine.port}"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(row["name"], row["state"]) for row in listed] == [("fold", "active")]
        assert shell.handle("unload fold")
        _wait_for(written, "unloaded fold")
        assert shell.handle("tempo 120")  # the next line learns the engine's plugins again
        assert "f1" not in client.dump()["modules"]
        assert shell.handle("add a fold called f2")
        assert 'there is no module type "fold"' in written[-1]
    finally:
        learn_plugins({})
        engine.quit()
