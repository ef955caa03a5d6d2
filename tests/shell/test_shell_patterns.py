"""Patterns typed in the shell play in time: every onset of a recording lands on its sample."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.wav import read_wav
from chronus.shell.app import Shell
from tests.onsets import onsets


@pytest.fixture
def own_engine() -> Iterator[EngineProcess]:
    """An engine of its own: the shell tests' shared one may hold tracks that other tests
    left, and `pkick x . . .` would start them with it (onsets not the kick's)."""
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()


def test_typed_patterns_play_on_their_exact_samples(
    own_engine: EngineProcess, tmp_path: Path
) -> None:
    client = own_engine.client()
    written: list[str] = []
    shell = Shell(client, Interpreter(Context.from_dump(client.dump())), written.append)
    take = tmp_path / "take.wav"
    # Let the new kick's route fade in, so that the recording holds the pattern alone.
    for line in ("stop", "panic", "tempo 120", "add kick called pkick", "pkick decay 20 ms"):
        assert shell.handle(line), written
    time.sleep(0.5)
    for line in (f"record 4 seconds to {take}", "pkick x . . . x . . ."):
        assert shell.handle(line), written
    deadline = time.monotonic() + 30  # 4 s of recording, told on a loaded host
    while not any(line.startswith("recorded") for line in written):
        assert time.monotonic() < deadline, written
        time.sleep(0.05)
    assert shell.handle("clear pkick") and shell.handle("remove pkick")
    audio, _ = read_wav(take)
    found = onsets(audio)
    assert len(found) >= 6, found  # a kick every 8th at 120 bpm: 24000 samples apart
    assert np.diff(found).tolist() == [24000] * (len(found) - 1)
    errors = [line for line in written if line.startswith("error")]
    assert errors == []
