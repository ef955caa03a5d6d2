"""Undo across an attach: the history a shell takes over from the engine's session log, and
only when the log explains the patch the engine holds."""

from __future__ import annotations

import time
from pathlib import Path

from chronus.engine.client import EngineClient, EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.log_history import LINE_GAP_S, MAX_LOG_BYTES, history_from_log
from chronus.shell.leaving import attach_context, attached_line

HEADER = "# chronus session log v1 rate=48000 block=128\n"
GAP = int(LINE_GAP_S * 48000)


def _state(*lines: str) -> Context:
    interpreter = Interpreter()
    for line in lines:
        assert interpreter.interpret(line).ok, line
    return interpreter.context


def _log(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "session.log"
    path.write_text(HEADER + body)
    return path


BODY = (
    # one line, its commands in three blocks
    '1000\t/patch/create\t["bass", "saw"]\n'
    '1128\t/patch/connect\t["bass", "master"]\n'
    # a note changes nothing: no step of its own
    f"{1128 + 2 * GAP}\t/note/bass\t[48.0, 100.0]\n"
    f"{1128 + 4 * GAP}\t/mod/bass/cutoff\t[900.0]\n"
    # a commit (a snapshot load): its commands at its stamp
    f"{1128 + 6 * GAP}\t/patch/commit\t[{1128 + 6 * GAP}, 2400, 1]\n"
    f"{1128 + 6 * GAP}\t/tempo\t[128.0]\n"
)


def test_each_line_of_the_log_that_changed_the_patch_is_a_step_back(tmp_path: Path) -> None:
    now = _state("add a saw called bass", "set bass cutoff 900", "tempo 128")
    history = history_from_log(_log(tmp_path, BODY), now.state(), 100)
    assert history == now.history
    assert len(history) == 3
    assert history_from_log(_log(tmp_path, BODY), now.state(), 2) == now.history[-2:]


def test_a_log_that_does_not_explain_the_patch_gives_no_history(tmp_path: Path) -> None:
    other = _state("add a saw called bass", "set bass cutoff 800", "tempo 128")
    assert history_from_log(_log(tmp_path, BODY), other.state(), 100) is None
    torn = _log(tmp_path, "1000\t/patch/create\tnot json\n5000\t/tempo\t[90.0]\n")
    assert history_from_log(torn, Context().state(), 100) is None
    assert history_from_log(tmp_path / "absent.log", Context().state(), 100) is None


def _pause(client: EngineClient) -> None:
    """Wait until the engine has played twice `LINE_GAP_S` from now. Lines are told apart
    on the engine's sample clock, which loses the time its I/O is held up (an xrun) on a
    loaded host: with the I/O stopped 0.25 s, two lines slept 0.25 s apart were one."""
    start = client.now(timeout=5.0)["sample"]
    while client.now(timeout=5.0)["sample"] - start < 2 * GAP:
        time.sleep(0.02)


def test_a_shell_attached_to_a_logging_engine_can_undo_what_was_played_before(
    tmp_path: Path,
) -> None:
    log = tmp_path / "engine.log"
    engine = EngineProcess(port=0, backend="null", extra_args=["--log", str(log)]).boot()
    try:
        with engine.client() as client:
            player = Interpreter()
            for line in [
                "add a saw called bass through an acid filter",
                "bass: c2 eb2",
                "set acid1 cutoff 500",
                "add a kick; kick: x . x .",
            ]:
                result = player.interpret(line)
                client.send(result.messages)
                client.sync()
                _pause(client)  # lines typed by hand, not in one burst
            before_remove = client.dump()
            result = player.interpret("remove acid1")
            client.send(result.messages)
            client.sync()
            deadline = time.monotonic() + 10.0  # the engine logs a command once a slot took it
            while "/patch/remove" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)

            context = attach_context(client)
            assert len(context.history) == 5
            assert attached_line(context, client.address).endswith(
                "undo: 5 lines of its session log"
            )
            shell = Interpreter(context)
            undone = shell.interpret("undo")
            assert undone.ok and undone.notes == ["undid 1 line"]
            client.send(undone.messages)
            client.sync()
            assert (
                Context.from_dump(client.dump()).state() == Context.from_dump(before_remove).state()
            )
    finally:
        engine.quit()


def test_a_log_too_long_to_read_at_once_gives_no_history(tmp_path: Path) -> None:
    now = _state("add a saw called bass", "set bass cutoff 900", "tempo 128")
    padding = "".join(f"# {'x' * 70}\n" for _ in range(MAX_LOG_BYTES // 70))
    assert history_from_log(_log(tmp_path, padding + BODY), now.state(), 100) is None
