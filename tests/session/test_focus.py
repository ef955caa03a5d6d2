"""The focus kept beside a session log for the next shell to attach."""

from __future__ import annotations

import doctest
from pathlib import Path

from chronus.session import focus
from chronus.session.focus import focus_path, keep_focus, left_focus


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(focus)
    assert result.failed == 0 and result.attempted >= 2


def test_the_focus_file_sits_beside_the_log_and_survives_a_new_shell(tmp_path: Path) -> None:
    log = tmp_path / "2026-05-01_20-15-00.log"
    assert focus_path(log) == tmp_path / "2026-05-01_20-15-00.focus"
    assert left_focus(log) is None  # none kept yet
    assert keep_focus(str(log), "acid_bass")
    assert left_focus(str(log)) == "acid_bass"
    assert [p.name for p in tmp_path.iterdir()] == ["2026-05-01_20-15-00.focus"]


def test_what_is_not_a_module_id_is_no_focus(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    for text in (b"Bass; rm -rf", b"\xff\xfe", b"x" * 40, b"two words"):
        focus_path(log).write_bytes(text)
        assert left_focus(log) is None, text


def test_a_folder_that_cannot_be_written_keeps_nothing_and_raises_nothing(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert not keep_focus(blocked / "s.log", "bass")  # its folder is a file
    assert left_focus(blocked / "s.log") is None
