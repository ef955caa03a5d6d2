"""Busy pattern changes on a live engine: 25 a second, none parsed in a slot, all as logged.

The supervisor parses each pattern (the patch checks it) and hands the parsed tables to the
slots (`chronus/engine/prepared.py`); a slot loads them before the block that applies the
command, so its render path never parses. The recording must equal the offline render of the
session log, which parses every pattern afresh: the same samples either way.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from chronus.protocol import validate
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.blocks import differing_blocks
from tests.busy_patterns import busy_patterns
from tests.sessions import logged_engine

pytestmark = [pytest.mark.slow]

BLOCK = 128
PER_SECOND = 25


def test_busy_pattern_changes_are_loaded_not_parsed_and_sound_as_logged(tmp_path: Path) -> None:
    patterns = busy_patterns(3 * PER_SECOND + 1, seed=29)  # each change a pattern not seen yet
    engine = logged_engine(tmp_path)
    try:
        with engine.client() as client:
            client.send([
                validate("/patch/create", ("lead", "saw")),
                validate("/mod/lead/volume", (-18.0,)),
                validate("/patch/connect", ("lead", "master")),
                validate("/patch/create", ("kick", "kick")),
                validate("/patch/connect", ("kick", "master")),
                validate("/seq/lead/pattern", (patterns[0],)),
                validate("/seq/kick/pattern", ("x . . .",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            client.sync()
            began = time.monotonic()
            for i in range(3 * PER_SECOND):
                time.sleep(max(0.0, began + i / PER_SECOND - time.monotonic()))
                track = ("lead", "kick")[i % 2]
                now = int(i % 4 == 3)  # some at once, the others on the next bar line
                client.send([validate(f"/seq/{track}/pattern", (patterns[i + 1], now))])
            _, replies = client.sync()
            time.sleep(2.3)  # the last changes take their bar line (2 s at 120 bpm)
            status = client.status()
        assert engine.quit() == 0
    finally:
        engine.kill()
    assert not [r for r in replies if r[0] == "/error"], replies
    slots = status["slots"]
    assert len(slots) == 2 and all(slot["patterns_parsed"] == 0 for slot in slots), slots
    assert all(slot["errors"] == 0 for slot in slots), slots
    recorded, _ = read_wav(tmp_path / "out.wav")
    offline = render_session(read_stamped_log(tmp_path / "s.log"), len(recorded))
    assert np.abs(recorded).max() > 0.01
    io = status["io"]
    blocks = differing_blocks(recorded, offline, BLOCK, io["blocks_played"])
    assert len(blocks) <= 2 * io["underruns"], (blocks[:10], io["underruns"])
