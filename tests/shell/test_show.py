"""`show …` through the shell on a real null engine, and the live view's redraw loop driven by
real keystrokes through a pipe."""

from __future__ import annotations

import threading
import time

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell.app import Shell
from chronus.shell.live import Frame, _redraw, watch


def _shell(engine: EngineProcess) -> tuple[Shell, list[str]]:
    client = engine.client()
    written: list[str] = []
    return Shell(client, Interpreter(Context.from_engine(client.dump())), written.append), written


def _highlight(frame: str, row: str) -> str:
    """The bracketed cell of `row` in a frame drawn without colour."""
    line = next(line for line in frame.splitlines() if line.startswith(row))
    return line[line.index("[") + 1 : line.index("]")]


def test_show_draws_the_engine_patch_its_patterns_and_a_module(
    null_engine: EngineProcess,
) -> None:
    shell, written = _shell(null_engine)
    for line in (
        "add a saw called vbass through an acid filter called vf then delay called vd",
        "play c2 eb2 <g2 bb2> c3 every 16th on vbass",
        "set vbass amp to 0.25",
    ):
        assert shell.handle(line), written
    assert shell.handle("show patch")
    assert "vbass → vf → vd → master" in written[-1], written[-1]
    assert "plays c2 eb2 <g2 bb2> c3 — 4 steps of 1/16" in written[-1]
    assert shell.handle("show vbass")
    amp = next(line for line in written[-1].splitlines() if line.startswith("amp"))
    assert "0.25" in amp and amp.count("█") == 6  # a quarter of 24
    beats = iter([4.3, 4.55, 5.3])
    shell.pictures.beat_now = lambda: next(beats)
    assert shell.handle("show patterns once")
    assert _highlight(written[-1], "vbass") == "eb2"  # beat 4.3: step 17 → cycle 4, step 1
    frames: list[str] = []

    def two_frames(frame: Frame) -> None:
        frames.extend("\n".join(frame(100, 30)) for _ in range(2))

    shell.pictures.live = two_frames
    assert shell.handle("show patterns")
    reverse = "\x1b[1;7m"  # in colour for the terminal: the playing cell in reverse video
    assert reverse + "g2\x1b[0m" in frames[0] and "vbass (1/2)" in frames[0]  # beat 4.55
    assert reverse + "eb2\x1b[0m" in frames[1] and "vbass (2/2)" in frames[1]  # beat 5.3
    shell.pictures.beat_now = None
    assert shell.handle("clear vbass") and shell.handle("remove vbass")
    assert [line for line in written if line.startswith("error")] == []


def test_a_pattern_typed_while_playing_is_drawn_from_the_bar_it_starts_on(
    null_engine: EngineProcess,
) -> None:
    shell, written = _shell(null_engine)
    shell.pictures.beat_now = lambda: 5.3  # the engine's word: bar 2 is playing
    assert shell.handle("add a saw called abass")
    assert shell.handle("play c2 eb2 g2 every 16th on abass")  # comes in on bar 3 (beat 8)
    shell.pictures.beat_now = lambda: 8.1
    assert shell.handle("show patterns once")
    assert _highlight(written[-1], "abass") == "c2", written[-1]  # from beat 0 it would be g2
    assert shell.handle("remove abass")


def test_show_patterns_with_nothing_to_follow_prints_one_frame(null_engine: EngineProcess) -> None:
    shell, written = _shell(null_engine)
    shown: list[Frame] = []
    shell.pictures.live = shown.append
    assert shell.handle("add a kick called okick") and shell.handle("okick x . x .")
    assert shell.handle("show patterns")  # no beat to follow: one frame
    assert shown == [] and "okick" in written[-1]
    shell.pictures.beat_now = lambda: None
    assert shell.handle("stop")
    assert shell.handle("show patterns")  # stopped: one frame
    assert shown == [] and written[-1].startswith("patterns · stopped")
    assert shell.handle("remove okick")


class _Terminal(DummyOutput):
    """A dummy terminal that keeps what is written to it."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write_raw(self, data: str) -> None:
        self.written.append(data)


def test_the_live_view_redraws_until_a_key_is_pressed() -> None:
    calls: list[int] = []

    def frame(width: int, height: int) -> list[str]:
        assert height >= 4
        calls.append(width)
        return [f"frame {len(calls)}", "steps"]

    terminal = _Terminal()
    with create_pipe_input() as pipe:
        runner = threading.Thread(target=watch, args=(frame, pipe, terminal, 0.05))
        runner.start()
        deadline = time.monotonic() + 5
        while len(calls) < 4:
            assert time.monotonic() < deadline, calls
            time.sleep(0.02)
        assert runner.is_alive()
        pipe.send_text("q")
        runner.join(5)
    assert not runner.is_alive()
    assert len(calls) >= 4 and all(width >= 20 for width in calls)
    drawn = "".join(terminal.written)
    assert drawn.startswith("\x1b[?25l") and drawn.endswith("\x1b[?25h")  # cursor back
    assert drawn.count("steps") == 1  # a line that did not change is written once
    assert "frame 2" in drawn and "\x1b[2A" in drawn  # up to the top of frame + footer


@pytest.mark.parametrize("key", ["\x03", "\x1b", "\r"], ids=["ctrl-c", "esc", "enter"])
def test_ctrl_c_esc_and_enter_end_the_live_view_too(key: str) -> None:
    with create_pipe_input() as pipe:
        runner = threading.Thread(target=watch, args=(lambda w, h: ["x"], pipe, _Terminal(), 0.05))
        runner.start()
        time.sleep(0.2)
        assert runner.is_alive()
        pipe.send_text(key)
        runner.join(5)
    assert not runner.is_alive()


def test_a_shorter_frame_clears_what_the_longer_one_left() -> None:
    assert _redraw(["a", "b", "c"], ["a", "c"]) == "\x1b[2A\n\r\x1b[2Kc\x1b[J"
    assert _redraw([], ["a", "b"]) == "\r\x1b[2Ka\n\r\x1b[2Kb"
