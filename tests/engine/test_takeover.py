"""A supervisor replaced: what the new one finds it must log (the commands its dead
predecessor sent the slots but had not logged yet, found by the log's last command line),
and what a client that sent meanwhile is told."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, cast

import pytest

from chronus.engine.client import EngineClient, EngineError
from chronus.engine.takeover import unlogged
from chronus.protocol import Message, encode, validate
from chronus.session.stamped_log import StampedLog


class _Sent:
    """The part of a keeper `unlogged` reads: the commands kept, and where each applied."""

    def __init__(self, commands: list[tuple[int, int, Message]], applied: dict[int, int]):
        self._commands = [(seq, stamp, encode(message)) for seq, stamp, message in commands]
        self._applied = applied

    def commands_from(self, first_seq: int) -> list[tuple[int, int, bytes]]:
        return [entry for entry in self._commands if entry[0] >= first_seq]

    def applied_at(self, seq: int) -> int | None:
        return self._applied.get(seq)


NOTE = validate("/note/bass", (36, 100, 0.25))
CUTOFF = validate("/mod/bass/cutoff", (800.0,))
SENT = [(7, 1280, NOTE), (8, 1280, CUTOFF), (9, 1408, NOTE), (10, 1536, CUTOFF)]


def _missing(
    tmp_path: Path, logged: list[tuple[int, Message]], applied: dict[int, int]
) -> list[int]:
    with StampedLog(tmp_path / "s.log", 48000, 128) as log:
        for sample, message in logged:
            log.write(sample, message)
        keeper = cast(Any, _Sent(SENT, applied))
        return [seq for seq, _, _ in unlogged(keeper, log)]


def test_the_commands_after_the_last_logged_one_are_missing(tmp_path: Path) -> None:
    applied = {7: 1280, 8: 1280, 9: 1536}  # 9 was overtaken: it applied a block late
    logged = [(0, CUTOFF), (1280, NOTE), (1280, CUTOFF), (1536, NOTE)]
    assert _missing(tmp_path, logged, applied) == [10]


def test_a_line_logged_at_a_later_sample_than_its_stamp_is_still_found(tmp_path: Path) -> None:
    assert _missing(tmp_path, [(1280, NOTE)], {7: 1280}) == [8, 9, 10]


def test_without_a_matching_line_those_after_its_sample_are_missing(tmp_path: Path) -> None:
    assert _missing(tmp_path, [(1300, NOTE)], {}) == [9, 10]
    (tmp_path / "s.log").unlink()
    assert _missing(tmp_path, [], {}) == [7, 8, 9, 10]  # a new log holds none of them


def test_a_client_with_no_answer_is_told_what_a_restart_loses() -> None:
    """No process listens on the port (as while a supervisor is replaced): the error says
    the commands sent over UDP meanwhile are lost."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EngineClient("127.0.0.1", port) as client:
        client.send([CUTOFF])
        with pytest.raises(EngineError, match="over UDP is lost: send it again"):
            client.sync(timeout=0.2)
