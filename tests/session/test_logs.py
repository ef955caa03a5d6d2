"""Where session logs live, what `sessions` shows of them, and how a name finds one."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from chronus.protocol import validate
from chronus.session.logs import find_session, list_sessions, new_session_path, sessions_dir
from chronus.session.stamped_log import StampedLog
from chronus.shell.sessions import format_sessions, logged_notice, start_log

NOTE = validate("/note/a", (69, 100, 0.5))


def _log(path: Path, commands: int, end: int, commit: bool = False) -> Path:
    with StampedLog(path, 48000, 128) as log:
        for n in range(commands):
            log.write(128 * n, NOTE)
        if commit:
            log.write_commit(256, 1024, 256, [validate("/mod/a/volume", (-3.0,))])
        log.mark_end(end)
    return path


def test_the_folder_follows_xdg_data_home_and_falls_back_to_local_share() -> None:
    assert sessions_dir({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/chronus/sessions")
    assert sessions_dir({"HOME": "/h"}) == Path("/h/.local/share/chronus/sessions")
    # The XDG spec: a relative path is invalid and ignored.
    assert sessions_dir({"XDG_DATA_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/share/chronus/sessions"
    )


def test_a_new_log_is_dated_and_never_takes_an_existing_name(tmp_path: Path) -> None:
    when = datetime(2026, 12, 5, 20, 14, 3)
    first = new_session_path(tmp_path / "s", when)
    assert first == tmp_path / "s" / "2026-12-05_20-14-03.log" and first.parent.is_dir()
    second = new_session_path(tmp_path / "s", when)  # a second shell, the same second
    assert second.name == "2026-12-05_20-14-03-2.log"
    assert first.is_file() and second.is_file()  # each claimed before the engine starts
    assert list_sessions(tmp_path / "s") == []  # claimed, never written: no session yet


def test_sessions_are_listed_with_date_length_size_and_commands(tmp_path: Path) -> None:
    _log(tmp_path / "2026-12-05_20-14-03.log", 3, 96000)
    _log(tmp_path / "2026-12-04_09-00-00.log", 1, 48000 * 75, commit=True)
    (tmp_path / "notes.txt").write_text("not a log")
    (tmp_path / "broken.log").write_text("garbage\n")
    stamp = datetime(2020, 1, 2, 3, 4).timestamp()
    os.utime(tmp_path / "broken.log", (stamp, stamp))  # named otherwise: dated by its mtime
    infos = list_sessions(tmp_path)
    assert [i.name for i in infos][1:] == ["2026-12-04_09-00-00", "2026-12-05_20-14-03"]
    broken, older, newer = infos
    assert broken.started == datetime(2020, 1, 2, 3, 4)
    assert broken.error and "not a chronus session log header" in broken.error
    assert (older.started, older.seconds, older.commands, older.commits) == (
        datetime(2026, 12, 4, 9, 0, 0), 75.0, 2, 1,
    )  # fmt: skip
    assert (newer.seconds, newer.commands, newer.size) == (2.0, 3, newer.path.stat().st_size)
    text = format_sessions(infos, tmp_path, current=str(newer.path.resolve()))
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith(" 20")}
    assert rows["2026-12-04_09-00-00"].split()[1:6] == ["2026-12-04", "09:00", "1:15", "168", "B"]
    assert "2 (1 commits)" in rows["2026-12-04_09-00-00"]
    assert rows["2026-12-05_20-14-03"].endswith("← this session")
    assert "unreadable" in text and text.splitlines()[-1].startswith("`chronus render NAME")
    assert format_sessions([], tmp_path) == f"no sessions logged yet in {tmp_path}"


def test_a_session_is_found_by_path_name_or_last(tmp_path: Path) -> None:
    old = _log(tmp_path / "2026-12-04_09-00-00.log", 1, 128)
    new = _log(tmp_path / "2026-12-05_20-14-03.log", 1, 128)
    assert find_session(str(old), tmp_path) == old
    assert find_session("2026-12-05_20-14-03", tmp_path) == new
    assert find_session("2026-12-05_20-14-03.log", tmp_path) == new
    assert find_session("last", tmp_path) == new
    with pytest.raises(FileNotFoundError, match=r"no file or session called nope .*20-14-03"):
        find_session("nope", tmp_path)
    with pytest.raises(FileNotFoundError, match="none yet"):
        find_session("last", tmp_path / "empty")


def test_a_folder_that_cannot_be_made_leaves_the_session_unlogged_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("in the way")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "file"))
    said: list[str] = []
    assert start_log(said.append) is None
    assert said[0].startswith("warning: this session is not logged: cannot make ")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = start_log(said.append)
    assert path is not None and path.parent == tmp_path / "data" / "chronus" / "sessions"
    assert logged_notice(path).startswith(f"this session is logged to {path} — ")
