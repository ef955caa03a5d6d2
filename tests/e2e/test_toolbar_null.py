"""The live toolbar against a real engine (null backend): the prompt, driven by keystrokes,
draws bar:beat and the level as a pattern plays, and a slot killed with SIGKILL puts a
failover line above the prompt."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineProcess
from chronus.shell import app
from chronus.shell.toolbar import REFRESH_S

DRAWN = re.compile(r"♩ [\d.]+ · (\d+):(\d+) · ▕[^▏]*▏(-?\d+) dB")


@dataclass
class Prompt:
    """A running shell attached to the engine: what it drew and what it wrote."""

    pipe: PipeInput
    drawn: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def type(self, line: str) -> None:
        self.pipe.send_text(line + "\r")

    def wait_written(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.written):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"never written: {pattern!r}; written: {self.written}")


@pytest.fixture
def prompt(null_engine: EngineProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Prompt]:
    drawn: list[str] = []
    draw = app._toolbar

    def recording(gate: object, starting: object) -> str:
        text = draw(gate, starting)  # type: ignore[arg-type]
        drawn.append(text)
        return text

    monkeypatch.setattr(app, "_toolbar", recording)
    result: list[int] = []
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        shell = Prompt(pipe, drawn)
        runner = threading.Thread(
            target=lambda: result.append(
                app.run_shell(
                    engine=(null_engine.host, null_engine.port),
                    input=pipe,
                    output=DummyOutput(),
                    history=InMemoryHistory(),
                    write=shell.written.append,
                )
            )
        )
        runner.start()
        try:
            yield shell
        finally:
            shell.type("quit --leave")  # the engine is the module's fixture
            runner.join(30)
    assert result == [0]


def test_the_toolbar_shows_bar_beat_advancing_and_a_level_while_a_pattern_plays(
    prompt: Prompt,
) -> None:
    prompt.type("add a saw called bass")
    prompt.type("play c2 eb2 g2 c3 on bass")
    seen: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len({s[:2] for s in seen}) < 3:
        for text in prompt.drawn[len(seen) :]:
            if found := DRAWN.search(text):
                seen.append((int(found[1]), int(found[2]), int(found[3])))
        time.sleep(REFRESH_S)
    positions = [s[:2] for s in seen]
    assert len(set(positions)) >= 3, (positions, prompt.drawn[-3:])
    assert positions == sorted(positions)  # bar:beat only moves forward
    assert max(s[2] for s in seen) > -48  # a level on the meter, not silence


def test_a_killed_slot_puts_a_failover_line_above_the_prompt(
    prompt: Prompt, null_engine: EngineProcess
) -> None:
    prompt.wait_written(r"^chronus on ", 10)
    deadline = time.monotonic() + 10
    while not any(DRAWN.search(text) or "stopped" in text for text in prompt.drawn):
        assert time.monotonic() < deadline, prompt.drawn[-3:]
        time.sleep(REFRESH_S)  # the toolbar has had the engine's answer: events from now on
    with null_engine.client() as client:
        slots = client.status()["slots"]
    active = next(slot for slot in slots if slot["role"] == "active")
    os.kill(active["pid"], signal.SIGKILL)
    line = prompt.wait_written(rf"^⚡ slot {active['name']} \(active\) .*took over", 10)
    time.sleep(3 * REFRESH_S)
    assert [text for text in prompt.written if text.startswith("⚡")] == [line]  # once
    assert any(re.search(r" · failovers [1-9]", text) for text in prompt.drawn[-3:])


def test_a_tempo_change_shows_as_waiting_until_its_bar_line(prompt: Prompt) -> None:
    """`tempo 200` while the transport runs plays from the next bar line: until then the
    toolbar shows the tempo playing and the one coming, then the new one, never earlier."""
    prompt.type("add a kick")
    prompt.type("kick: x . x .")
    deadline = time.monotonic() + 20
    while not ((found := DRAWN.search(prompt.drawn[-1] if prompt.drawn else "")) and
               found[2] in ("2", "3")):  # fmt: skip
        assert time.monotonic() < deadline, prompt.drawn[-3:]
        time.sleep(REFRESH_S / 4)  # mid-bar: the bar line is a beat away, not a millisecond
    prompt.type("tempo 200")
    said = prompt.wait_written(r"^tempo [\d.]+ → 200 from bar \d+$", 10)
    bar = int(said.rsplit(" ", 1)[1])
    waiting = re.compile(rf"♩ [\d.]+ → 200 at bar {bar} · (\d+):")
    playing = re.compile(r"♩ 200 · (\d+):(\d+)")
    deadline = time.monotonic() + 20
    while not any(playing.search(text) for text in prompt.drawn):
        assert time.monotonic() < deadline, prompt.drawn[-3:]
        time.sleep(REFRESH_S)
    shown = [int(m[1]) for text in prompt.drawn if (m := waiting.search(text))]
    assert shown and all(at < bar for at in shown), shown
    # the engine renders a few ms ahead: its new tempo may show on the last beat before
    new = [(int(m[1]), int(m[2])) for text in prompt.drawn if (m := playing.search(text))]
    assert all(at >= bar or (at, beat) == (bar - 1, 4) for at, beat in new), new
    prompt.type("tempo 120 now")  # the engine is the module's: as it was
