"""The faults an hour at the prompt turned up (issue 16), at the real prompt: `run_shell` on
an engine of its own (null backend), keys through a pipe, then a second shell attached to
the engine the first left playing."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineClient, EngineError
from chronus.shell.app import run_shell


class Prompt:
    """`run_shell` in a thread: lines typed into its pipe, what it wrote read back in order."""

    def __init__(self, pipe: PipeInput, **kwargs: object) -> None:
        self.pipe = pipe
        self.written: list[str] = []
        self.result: list[int] = []
        self.seen = 0
        self.thread = threading.Thread(
            target=lambda: self.result.append(
                run_shell(
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                    write=self.written.append,
                    log=False,
                    **kwargs,  # type: ignore[arg-type]
                )
            ),
            daemon=True,
        )
        self.thread.start()

    def wait(self, pattern: str, timeout: float = 60.0) -> str:
        """The next line written (after the last one waited for) that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(self.seen, len(self.written)):
                if re.search(pattern, self.written[index]):
                    self.seen = index + 1
                    return self.written[index]
            time.sleep(0.02)
        raise AssertionError(f"never written: {pattern!r}; written: {self.written[self.seen :]}")

    def type(self, line: str, answer: str) -> str:
        """Type a line; its answer (the next line written that matches `answer`)."""
        self.pipe.send_text(line + "\r")
        return self.wait(answer)

    def quit(self, how: str) -> None:
        self.pipe.send_text(f"quit --{how}\r")
        self.thread.join(30)
        assert self.result == [0], self.written


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Snapshots (`./snapshots`) and the shell's files in a folder of the test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    yield tmp_path


def test_the_hours_faults_at_the_prompt_then_undo_in_a_shell_that_attached(in_tmp: Path) -> None:
    port = 0
    try:
        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            first = Prompt(pipe, backend="null", new_engine=True)
            port = int(first.wait(r"chronus on 127\.0\.0\.1:(\d+)").rsplit(":", 1)[1].split()[0])
            first.type("add a saw called bass through an acid filter", r"added bass")
            first.type("bass: c2 eb2 g2", r"bass: pattern c2 eb2 g2")
            # 5. the pattern it already has
            assert (
                first.type("bass: c2 eb2 g2", r"^bass: ") == "bass: pattern unchanged (c2 eb2 g2)"
            )
            # 2. swing with a filter in focus goes to the track that plays into it
            first.type("set acid1 cutoff 500", r"acid1 cutoff")
            said = first.type("swing 20%", r"swing")
            assert said == "bass: swing 0 → 0.2 (the track playing into acid1)"
            # 1. a snapshot called a; and snapshot save alone says what would work
            assert first.type("snapshot save a", r"snapshot").startswith("saved snapshot a (")
            error = first.type("snapshot save", r"snapshot save intro")
            assert error.endswith(
                "hint: a snapshot needs a name, any word or number: snapshot save intro, "
                "snapshot save 2, load snapshot intro; snapshots lists them\n"
                "snapshots saved: a"
            )
            first.type("set acid1 cutoff 900", r"acid1 cutoff 500 → 900 Hz")
            assert first.type("load snapshot a", r"snapshot a").startswith("loaded snapshot a")
            assert (in_tmp / "snapshots" / "a.json").is_file()
            first.quit("leave")
        with EngineClient("127.0.0.1", port) as client:
            dump = client.dump()
        assert dump["modules"]["acid1"]["params"]["cutoff"] == 500.0
        assert dump["tracks"]["bass"]["swing"] == pytest.approx(0.2, abs=1e-6)  # float32 in OSC
        assert "swing" not in dump["tracks"].get("acid1", {})

        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            second = Prompt(pipe, port=port)
            second.wait(r"attached to the engine playing at")
            # 4. undo in a shell that just attached says why there is nothing, and what works
            said = second.type("undo", r"nothing to undo")
            assert "nothing to undo since this shell attached" in said
            assert "hint: change it by name (remove acid1, mute acid1)" in said
            # 3. nothing in focus (the module in focus removed): the patch's modules offered
            second.type("focus acid1", r"^focus: acid1$")
            second.type("remove acid1", r"removed acid1")
            said = second.type("up an octave", r"^hint:|\nhint:")
            assert "none is in focus yet" in said
            assert said.endswith(
                "hint: focus bass, then up an octave works; or name the module (modules: bass)"
            )
            said = second.type("undo", r"^undo")
            assert said == "undo: added acid1 after bass; acid1 cutoff 500 Hz"
            second.quit("stop")
    finally:
        if port:
            _stop(port)


def _stop(port: int) -> None:
    """Stop an engine the test left (a failed assertion before `quit --stop`)."""
    with EngineClient("127.0.0.1", port) as client:
        try:
            client.quit()
        except EngineError:
            pass


def test_the_last_refused_lines_at_the_prompt(in_tmp: Path) -> None:
    """`undo twice` tells each line it undid; swing on a named track; a note said of a filter
    plays the sound going into it and says so; a chain step of two words."""
    port = 0
    try:
        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            shell = Prompt(pipe, backend="null", new_engine=True)
            port = int(shell.wait(r"chronus on 127\.0\.0\.1:(\d+)").rsplit(":", 1)[1].split()[0])
            shell.type("add a saw called bass through an acid filter", r"added bass")
            shell.type("add a hat; hat: x x x x", r"hat: pattern x x x x")
            assert shell.type("swing the hat 20%", r"swing") == "hat: swing 0 → 0.2"
            assert shell.type("swing bass 10%", r"swing") == "bass: swing 0 → 0.1"
            assert shell.type("no swing on the hat", r"swing") == "hat: swing 0.2 → 0"
            shell.type("set acid1 cutoff 500", r"acid1 cutoff 400 → 500 Hz")
            assert shell.type("play c3", r"played on") == "played on bass, which plays into acid1"
            assert (
                shell.type("bass through a reverb hall", r"hall")
                == "added hall (reverb) after bass"
            )
            assert shell.type("undo twice", r"^undo") == "undo 2 lines:"
            assert shell.wait(r"^  1\. ") == "  1. removed hall; bass → acid1"
            assert shell.wait(r"^  2\. ") == "  2. acid1 cutoff 500 → 400 Hz"
            shell.quit("stop")
    finally:
        if port:
            _stop(port)
