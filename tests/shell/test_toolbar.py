"""The live toolbar's drawing and its poller, with a fake `now` (no engine, no terminal)."""

from __future__ import annotations

import doctest
import threading
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineError
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell import toolbar
from chronus.shell.app import Shell
from chronus.shell.toolbar import Extras, LiveStatus, bar_beat, draw_toolbar, meter


def now(**changes: Any) -> dict[str, Any]:
    """An `/engine/now` answer as the engine gives it, playing, with `changes`."""
    answer: dict[str, Any] = {
        "boot": "100-1", "sample": 480000, "beat": 42.25, "bpm": 128.0, "running": True,
        "peak_db": [-3.2, -4.0], "rms_db": [-12.5, -13.0], "dsp_load": 0.234,
        "xruns": 0, "underruns": 0, "failovers": 0, "active": "B", "recording": None,
        "events": [],
    }  # fmt: skip
    answer.update(changes)
    return answer


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(toolbar)
    assert result.failed == 0 and result.attempted >= 4


def test_a_playing_engine_shows_tempo_bar_beat_level_load_and_slot() -> None:
    line = draw_toolbar(now(), Extras(focus="bass"))
    assert line.startswith(" ♩ 128 · 11:3 · ")  # beat 42.25: bar 11, its third beat
    assert meter(-3.2, -12.5) + "-3 dB" in line
    assert " · dsp 23% · slot B · focus bass · " in line
    assert "xruns" not in line and "underruns" not in line and "failovers" not in line


def test_trouble_is_shown_when_there_is_some() -> None:
    line = draw_toolbar(now(xruns=2, underruns=5, failovers=1, active="A"), Extras())
    assert " · xruns 2 · underruns 5 · slot A · failovers 1 · " in line


def test_a_stopped_transport_and_silence_say_so() -> None:
    line = draw_toolbar(
        now(beat=None, running=False, peak_db=[-120.0] * 2, rms_db=[-120.0] * 2), Extras()
    )
    assert " ♩ 128 · stopped · ▕        ▏silent · " in line


def test_a_clipping_output_says_clip() -> None:
    assert "▕▆▆▆▆▆▆▆▆▏0 dB CLIP" in draw_toolbar(now(peak_db=[0.0, -1.0], rms_db=[-1.0]), Extras())


def test_a_recording_shows_rec_with_its_elapsed_time() -> None:
    taking = {"path": "/tmp/takes/take1.wav", "seconds": 75.4}
    assert " · ● REC 1:15 take1.wav · " in draw_toolbar(now(recording=taking), Extras())


def test_a_recording_the_engine_has_not_reported_yet_shows_what_the_shell_knows() -> None:
    line = draw_toolbar(None, Extras(recording="/tmp/take.wav", left=12.2, engine="h:1"))
    assert line.startswith(" engine h:1 (no answer yet)")
    assert " · ● REC take.wav 12 s left · " in line


def test_plugins_under_way_and_watched_files_stay_on_the_toolbar() -> None:
    line = draw_toolbar(now(), Extras(awaited=("load fold",), watched=("fold", "wah")))
    assert line.endswith(" · load fold… · watching fold wah · help · Ctrl-D quits")


@pytest.mark.parametrize(
    ("beat", "shown"), [(0.0, "1:1"), (3.999, "1:4"), (4.0, "2:1"), (None, "stopped")]
)
def test_bar_beat_counts_from_one(beat: float | None, shown: str) -> None:
    assert bar_beat(beat) == shown


def test_the_meter_grows_with_the_level() -> None:
    widths = [meter(db, db).count("▆") for db in (-60.0, -42.0, -24.0, -6.0, 0.0)]
    assert widths == sorted(widths) and widths[0] == 0 and widths[-1] == 8
    assert meter(-6.0, -30.0).count("▄") == 4  # the peak reaches past the RMS


class Answers:
    """A fake `now`: gives the queued answers one by one (an exception is raised)."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def event(serial: int, kind: str, text: str) -> dict[str, Any]:
    return {"serial": serial, "kind": kind, "text": text}


def test_events_before_the_first_answer_are_not_news_and_each_new_one_is_said_once() -> None:
    old = event(1, "failover", "slot A died long ago")
    fresh = event(2, "failover", "slot B (active) died; slot A took over at block 900")
    written: list[str] = []
    live = LiveStatus(Answers(now(events=[old]), now(events=[old, fresh])), written.append)
    live.poll()
    assert written == []
    live.poll()
    live.poll()
    assert written == ["⚡ slot B (active) died; slot A took over at block 900"]


def test_only_the_kinds_a_musician_needs_are_written() -> None:
    events = [
        event(1, "slot", "slot B: respawn now"),
        event(2, "quarantine", "module fuzz crashed in slot A: quarantined"),
        event(3, "recording", "recorded 2.0 s to /tmp/t.wav"),
        event(4, "plugin", "plugin fold suspended: errors"),
    ]
    written: list[str] = []
    live = LiveStatus(Answers(now(), now(events=events)), written.append)
    live.poll()
    live.poll()
    assert written == [
        "⚠ module fuzz crashed in slot A: quarantined",
        "● recorded 2.0 s to /tmp/t.wav",
        "⚠ plugin fold suspended: errors",
    ]


def test_a_new_boot_is_a_restart_said_once_and_its_events_are_news() -> None:
    after = now(boot="200-7", events=[event(1, "failover", "slot A died; B took over")])
    written: list[str] = []
    answers = Answers(now(events=[event(9, "slot", "x")]), EngineError("gone"), after)
    live = LiveStatus(answers, written.append)
    live.poll()
    live.poll()
    assert live.latest is None  # no answer: the toolbar says it does not know
    live.poll()
    live.poll()
    assert written == ["↻ the engine restarted", "⚡ slot A died; B took over"]
    assert live.latest is not None and live.latest["boot"] == "200-7"


def test_the_thread_polls_at_its_rate_until_closed() -> None:
    answers = Answers(now())
    closed = threading.Event()
    live = LiveStatus(answers, lambda line: None, every_s=0.01, on_close=closed.set).start()
    try:
        deadline = threading.Event()
        deadline.wait(0.3)
    finally:
        live.close()
    calls = answers.calls
    assert calls >= 5 and closed.is_set()
    threading.Event().wait(0.05)
    assert answers.calls == calls  # stopped: no poll after close


def test_the_shell_draws_from_the_live_answer_without_asking_the_engine() -> None:
    class NoClient:
        address = ("127.0.0.1", 9)

    shell = Shell(NoClient(), Interpreter(Context()), lambda line: None)  # type: ignore[arg-type]
    assert shell.toolbar().startswith(" engine 127.0.0.1:9 (no answer yet) · tempo 120")
    shell.live = LiveStatus(Answers(now()), lambda line: None)
    shell.live.poll()
    assert shell.toolbar().startswith(" ♩ 128 · 11:3 · ")


def test_the_end_of_a_recording_the_shell_follows_is_told_once() -> None:
    """The shell's recording follower says when its timed take ended; the toolbar does not
    say it again, but still tells the end of any other recording."""
    from chronus.session.recording import Recorder

    class Client:
        address = ("127.0.0.1", 1)

    written: list[str] = []
    recorder = Recorder(Client(), written.append)  # type: ignore[arg-type]
    recorder.started("mine.wav", 60.0)
    recorder.cancel()  # stopped early: the follower says nothing, the toolbar must
    recorder.started("timed.wav", 60.0)
    answers = iter([
        {"boot": "b", "events": []},
        {"boot": "b", "events": [
            {"serial": 1, "kind": "recording", "text": "recorded 60.0 s to timed.wav",
             "about": "timed.wav"},
            {"serial": 2, "kind": "recording", "text": "recorded 0.5 s to mine.wav",
             "about": "mine.wav"},
            {"serial": 3, "kind": "recording", "text": "recorded 1.0 s to other.wav",
             "about": "other.wav"},
        ]},
    ])  # fmt: skip
    live = LiveStatus(lambda: next(answers), written.append, told_elsewhere=recorder.reports)
    live.poll()
    live.poll()
    recorder.cancel()
    assert written[-2:] == ["● recorded 0.5 s to mine.wav", "● recorded 1.0 s to other.wav"]
    assert not any("timed.wav" in line and line.startswith("●") for line in written)


def test_a_tempo_waiting_for_its_bar_is_shown_as_waiting_until_it_plays() -> None:
    """`tempo 140` while the transport runs lands on the next bar line: the toolbar showed
    140 before the engine played it; it shows the tempo playing and the one coming."""
    from tests.shell.fake_engine import FakeEngine

    engine = FakeEngine()
    try:
        client = EngineClient(*engine.address)
        beat = [62.5]  # bar 16, its third beat
        shell = Shell(client, Interpreter(Context()), lambda line: None, beat_now=lambda: beat[0])
        written: list[str] = []
        shell.write = written.append
        assert shell.handle("add a kick; kick: x . x .; tempo 128 now")
        assert shell.tempo_due is None
        answers = [now(bpm=128.0, beat=62.5)]
        shell.live = LiveStatus(lambda: answers[-1], lambda line: None)
        shell.live.poll()
        assert shell.handle("tempo 140")
        assert written[-1] == "tempo 128 → 140 from bar 17"
        assert shell.toolbar().startswith(" ♩ 128 → 140 at bar 17 · 16:3 · ")
        answers.append(now(bpm=140.0, beat=64.1))  # the bar line came: the engine plays it
        shell.live.poll()
        assert shell.toolbar().startswith(" ♩ 140 · 17:1 · ")
        # a relative change waits too; one made `now` does not
        beat[0] = 66.0
        assert shell.handle("a bit faster")
        answers.append(now(bpm=140.0, beat=66.0))
        shell.live.poll()
        assert shell.toolbar().startswith(f" ♩ 140 → {140 * 1.05:g} at bar 18 · ")
        assert shell.handle("tempo 100 now")
        assert shell.toolbar().startswith(" ♩ 140 · ")  # until the next poll says 100
        client.close()
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (now(bpm=128.0, beat=63.9), " ♩ 128 → 140 at bar 17 · 16:4 · "),
        (now(bpm=128.0, beat=64.0), " ♩ 128 · 17:1 · "),  # its bar passed: another tempo won
        (now(bpm=128.0, beat=None, running=False), " ♩ 128 · stopped · "),
    ],
)
def test_a_waiting_tempo_is_news_only_before_its_bar(answer: dict[str, Any], shown: str) -> None:
    assert draw_toolbar(answer, Extras(tempo_due=(140.0, 17))).startswith(shown)


def test_a_waiting_tempo_whose_bar_is_not_known_waits_for_the_next() -> None:
    line = draw_toolbar(now(bpm=120.0), Extras(tempo_due=(90.0, None)))
    assert line.startswith(" ♩ 120 → 90 at the next bar · 11:3 · ")
