"""A logged session as the script that replays it in real time."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from chronus.protocol import validate
from chronus.session.replay import load_replay, session_script
from chronus.session.stamped_log import Commit, StampedSession

CREATE = validate("/patch/create", ("a", "sine"))
NOTE = validate("/note/a", (69, 100, 0.5))
VOLUME = validate("/mod/a/volume", (-6.0,))


def test_commands_keep_their_times_from_the_first_and_commits_are_staged() -> None:
    session = StampedSession(
        48000, 128, [(24000, CREATE), (24000, NOTE), (72000, NOTE)],
        [Commit(48000, 49920, 2400, (VOLUME,))], stopped=120000,
    )  # fmt: skip
    script = session_script(session)
    timeline = [(t.time, t.message.address, t.message.args) for t in script.messages]
    assert timeline == [
        (Fraction(0), "/patch/create", ("a", "sine")),
        (Fraction(0), "/note/a", (69, 100, 0.5)),
        (Fraction(1, 2), "/patch/begin", ()),
        (Fraction(1, 2), "/mod/a/volume", (-6.0,)),
        (Fraction(1, 2), "/patch/commit", (50.0, 1)),
        (Fraction(1), "/note/a", (69, 100, 0.5)),
    ]
    assert script.duration == 2


def test_a_session_that_loaded_user_modules_is_refused() -> None:
    use = validate("/plugins/use", ("fold", "abc123", "/store/fold.py"))
    session = StampedSession(48000, 128, [(0, use), (0, CREATE)])
    with pytest.raises(ValueError, match=r"used user modules \(fold\): a replay never loads"):
        session_script(session, "s.log")


def test_load_replay_takes_a_script_or_a_log(tmp_path: Path) -> None:
    (tmp_path / "song.chr").write_text("add sine called tone\nwait 1 s\n")
    assert load_replay(tmp_path / "song.chr").duration == 1
    (tmp_path / "s.log").write_text(
        "# chronus session log v1 rate=48000 block=128\n"
        '960\t/patch/create\t["a", "sine"]\n# end of session at sample 48960\n'
    )
    replay = load_replay(tmp_path / "s.log")
    assert [t.message for t in replay.messages] == [CREATE] and replay.duration == 1
