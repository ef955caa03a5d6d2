"""The story a failing replay check tells: a recording shifted by a block is named as such."""

from __future__ import annotations

import numpy as np

from chronus.protocol import Message
from chronus.session.stamped_log import HostCalls, StampedSession
from tests.blocks import differing_blocks, replay_story


def test_a_lost_block_is_told_as_a_shift_with_what_the_log_says_near_it() -> None:
    block = 4
    rng = np.random.default_rng(1)
    render = rng.standard_normal((60 * block, 2)).astype(np.float32)
    recorded = np.concatenate([render[: 20 * block], render[21 * block :]])  # block 20 lost
    calls = HostCalls(bypassed={18, 19, 20}, fresh={0, 21})
    session = StampedSession(48000, block, [(19 * block, Message("/mod/g/amount", (0.5,)))])
    session.hosts["g"] = calls
    differing = differing_blocks(recorded, render, block, 60)
    story = replay_story(session, recorded, render, differing)
    assert differing[0] == 20
    assert "first differing block 20" in story
    assert "shifted by 1 blocks" in story
    assert "shifted by -1" not in story
    assert "command at block 19.00" in story
    assert "g (life 0): hosts from calls [0, 21], bypassed [[18, 20]]" in story


def test_a_change_that_is_not_a_shift_is_not_told_as_one() -> None:
    block = 4
    render = np.ones((30 * block, 2), dtype=np.float32)
    recorded = render.copy()
    recorded[10 * block :] *= 0.5
    session = StampedSession(48000, block, [])
    differing = differing_blocks(recorded, render, block, 30)
    story = replay_story(session, recorded, render, differing)
    assert "20 in a row" in story and "shifted" not in story
    assert "max |diff| 0.5" in story


def test_a_shift_after_a_silent_gap_is_found_past_the_gap() -> None:
    block = 4
    render = np.random.default_rng(2).standard_normal((90 * block, 2)).astype(np.float32)
    silence = np.zeros((3 * block, 2), dtype=np.float32)
    recorded = np.concatenate([render[: 20 * block], silence, render[25 * block :]])
    session = StampedSession(48000, block, [])
    story = replay_story(session, recorded, render, differing_blocks(recorded, render, block, 80))
    assert "first differing block 20" in story
    assert "shifted by 2 blocks" in story
