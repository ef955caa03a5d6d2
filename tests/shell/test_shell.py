"""The shell: real keystrokes through prompt_toolkit's pipe input, a real engine behind it."""

from __future__ import annotations

import threading
import time

from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell.app import Shell, run_shell


def _shell(engine: EngineProcess) -> tuple[Shell, list[str]]:
    client = engine.client()
    written: list[str] = []
    return Shell(client, Interpreter(Context.from_dump(client.dump())), written.append), written


def test_typed_lines_reach_the_engine(null_engine: EngineProcess) -> None:
    shell, written = _shell(null_engine)
    assert shell.handle("add a saw called shellbass")
    assert shell.handle("set shellbass cutoff 900 hz")
    assert shell.handle("play c3 on shellbass for 0.1 s")
    with null_engine.client() as client:
        dump = client.dump()
    assert dump["modules"]["shellbass"]["params"]["cutoff"] == 900
    assert written == [
        "added shellbass (saw) → master",
        "shellbass cutoff 2000 → 900 Hz",
        "shellbass plays c3",
    ]


def test_a_mistyped_line_sends_nothing_and_says_what_was_expected(
    null_engine: EngineProcess,
) -> None:
    shell, written = _shell(null_engine)
    with null_engine.client() as client:
        before = client.status()["engine"]["osc"]["received"]
    assert shell.handle("set shellbass cutof 300")
    assert shell.handle("plya c3")
    with null_engine.client() as client:
        after = client.status()["engine"]["osc"]["received"]
    assert after == before + 1  # only the status request itself
    assert "did you mean: set shellbass cutoff to 300?" in written[0]
    assert "^" in written[0]
    assert 'did you mean "play"?' in written[1]


def test_health_show_help_and_quit(null_engine: EngineProcess) -> None:
    shell, written = _shell(null_engine)
    assert shell.handle("health")
    assert "slot A" in written[-1] and "underruns" in written[-1]
    assert shell.handle("show patch")
    assert "bpm" in written[-1]
    assert shell.handle("add a square called showme")
    assert shell.handle("show showme")
    assert written[-1].startswith("showme (square) → master"), written[-1]
    assert shell.handle("help")
    assert "play c3 on bass" in written[-1]
    assert shell.handle("quit") is False


def test_prompt_session_with_real_keystrokes(null_engine: EngineProcess) -> None:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        result: list[int] = []
        runner = threading.Thread(
            target=lambda: result.append(
                run_shell(
                    engine=("127.0.0.1", null_engine.port),
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                )
            )
        )
        runner.start()
        time.sleep(1.0)
        pipe.send_text("add a sine called keys\r")
        time.sleep(0.5)
        pipe.send_text("play e4 on keys for 0.2 s\r")
        time.sleep(0.5)
        pipe.send_text("quit --leave\r")  # the engine is shared by the other tests
        runner.join(10)
    assert result == [0]
    with null_engine.client() as client:
        assert client.dump()["modules"]["keys"]["type"] == "sine"


def test_completion_is_fed_from_the_grammar_and_the_catalogue() -> None:
    from chronus.shell.app import completion_words

    words = completion_words()
    for word in ("play", "tempo", "acid", "reverb", "env_amount", "cutoff", "khz", "pink"):
        assert word in words
    for word in ("supersaw", "pluck", "wobble", "clap"):  # named sounds
        assert word in words
