"""The live toolbar: what plays now, redrawn a few times a second, and events above the prompt.

A background thread polls the engine's `/engine/now` (`EngineClient.now`, with a client of
its own: the prompt's is not shared between threads) `POLLS_PER_S` times a second and keeps
the latest answer; the prompt redraws at the same rate (`REFRESH_S`) from that copy, so a
redraw never waits for the network. Each engine event worth a musician's eye (a failover, a
quarantine, a finished recording, a plugin fault) and an engine restart is written once, as
one line, through `write` (above the prompt under `patch_stdout`).

>>> draw_toolbar({"bpm": 120.0, "beat": 17.5, "running": True, "peak_db": [-6.0, -7.0],
...     "rms_db": [-14.0, -15.0], "dsp_load": 0.09, "xruns": 0, "underruns": 0,
...     "failovers": 0, "active": "A", "recording": None}, Extras(focus="bass"))
' ♩ 120 · 5:2 · ▕▆▆▆▆▆▆▄ ▏-6 dB · dsp 9% · slot A · focus bass · help · Ctrl-D quits'
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from chronus.engine.client import EngineClient, EngineError
from chronus.protocol import Message
from chronus.seq.transport import BEATS_PER_BAR
from chronus.shell.background import start_daemon, stop_daemon

__all__ = [
    "POLLS_PER_S",
    "REFRESH_S",
    "SHOWN_KINDS",
    "Extras",
    "LiveStatus",
    "draw_toolbar",
    "event_line",
    "meter",
    "tempo_due",
    "tempo_text",
]

POLLS_PER_S: Final = 3
"""How often the toolbar asks the engine what plays (and the prompt redraws)."""
REFRESH_S: Final = 1.0 / POLLS_PER_S
SHOWN_KINDS: Final = frozenset({"failover", "quarantine", "recording", "plugin", "engine", "midi"})
"""The kinds of engine event written above the prompt (the rest are in `health`)."""
METER_CELLS: Final = 8
METER_FLOOR_DB: Final = -48.0
"""The meter's left end; each of its cells is 6 dB."""
_SAME_BPM: Final = 0.01
"""Tempi closer than this are one (the engine answers its tempo rounded)."""
_MARKS: Final = {
    "failover": "⚡",
    "quarantine": "⚠",
    "recording": "●",
    "plugin": "⚠",
    "engine": "↻",
}


@dataclass(frozen=True, slots=True)
class Extras:
    """What the shell itself knows for the toolbar: the focus, plugins under way, watched
    files, a recording it follows (when the engine's answer is not there yet)."""

    focus: str | None = None
    awaited: Sequence[str] = ()
    watched: Sequence[str] = ()
    recording: str | None = None
    left: float | None = None
    tempo: float | None = None
    engine: str = ""
    """`host:port`, shown while the engine's state is unknown."""
    tempo_due: tuple[float, int | None] | None = None
    """A tempo sent while the transport runs, waiting for its bar line: (bpm, bar or None)."""


def tempo_due(
    sent: Sequence[Message], running: bool, bar: int | None, was: tuple[float, int | None] | None
) -> tuple[float, int | None] | None:
    """The tempo waiting for its bar line after a line `sent` these messages: the last
    `/tempo` sent while the transport ran and not `now` (at `bar`), else what `was` waiting,
    unless a tempo was set at once.

    >>> from chronus.protocol import validate
    >>> tempo_due([validate("/tempo", (140.0,))], True, 17, None)
    (140.0, 17)
    >>> tempo_due([validate("/tempo", (140.0, 1))], True, 17, (150.0, 17)) is None
    True
    """
    due = was
    for message in sent:
        if message.address == "/tempo":
            now = len(message.args) > 1 and bool(message.args[1])
            due = (float(message.args[0]), bar) if running and not now else None
    return due


def tempo_text(now: dict[str, Any], due: tuple[float, int | None] | None) -> str:
    """The tempo playing, and one waiting for its bar line until the engine plays it.

    >>> playing = {"bpm": 128.0, "beat": 62.5}
    >>> tempo_text(playing, (140.0, 17)), tempo_text(playing, None)
    ('♩ 128 → 140 at bar 17', '♩ 128')
    >>> tempo_text({"bpm": 140.0, "beat": 64.1}, (140.0, 17))
    '♩ 140'
    """
    bpm = float(now.get("bpm") or 0)
    beat = now.get("beat")
    if due is None or beat is None or abs(due[0] - bpm) < _SAME_BPM:
        return f"♩ {bpm:g}"
    new, bar = due
    if bar is None:
        return f"♩ {bpm:g} → {new:g} at the next bar"
    if math.floor(float(beat)) // BEATS_PER_BAR + 1 >= bar:
        return f"♩ {bpm:g}"  # its bar came and the engine plays another: it is no news
    return f"♩ {bpm:g} → {new:g} at bar {bar}"


def meter(peak_db: float, rms_db: float, cells: int = METER_CELLS) -> str:
    """A short level meter: ▆ up to the RMS, ▄ on to the peak, space beyond.

    >>> meter(-6.0, -24.0), meter(-120.0, -120.0), meter(0.0, -3.0)
    ('▕▆▆▆▆▄▄▄ ▏', '▕        ▏', '▕▆▆▆▆▆▆▆▆▏')
    """

    def filled(db: float) -> int:
        share = (db - METER_FLOOR_DB) / -METER_FLOOR_DB
        return max(0, min(cells, math.ceil(share * cells - 1e-9)))

    rms, peak = filled(rms_db), filled(peak_db)
    return "▕" + "▆" * rms + "▄" * max(0, peak - rms) + " " * (cells - max(rms, peak)) + "▏"


def bar_beat(beat: float | None) -> str:
    """`bar:beat`, both from 1 (`5:2` is the second beat of the fifth bar); `stopped`.

    >>> bar_beat(0.0), bar_beat(17.99), bar_beat(None)
    ('1:1', '5:2', 'stopped')
    """
    if beat is None:
        return "stopped"
    whole = math.floor(beat)
    return f"{whole // BEATS_PER_BAR + 1}:{whole % BEATS_PER_BAR + 1}"


def _level(now: dict[str, Any]) -> str:
    peaks, rmss = now.get("peak_db") or [], now.get("rms_db") or []
    if not peaks or not rmss:
        return ""
    peak, rms = max(peaks), max(rmss)
    number = "silent" if peak <= METER_FLOOR_DB else f"{peak:.0f} dB"
    clip = " CLIP" if peak > -0.1 else ""
    return f" · {meter(peak, rms)}{number}{clip}"


def _recording(now: dict[str, Any] | None, extras: Extras) -> str:
    taking = (now or {}).get("recording")
    if taking:
        seconds = int(float(taking.get("seconds") or 0.0))
        name = str(taking.get("path") or "").rsplit("/", 1)[-1]
        return f" · ● REC {seconds // 60}:{seconds % 60:02d} {name}"
    if extras.recording:
        left = "" if extras.left is None else f" {extras.left:.0f} s left"
        return f" · ● REC {extras.recording.rsplit('/', 1)[-1]}{left}"
    return ""


def draw_toolbar(now: dict[str, Any] | None, extras: Extras) -> str:
    """The toolbar's one line, from the engine's last `/engine/now` (None: not known)."""
    if now is None:
        tempo = f" · tempo {extras.tempo:g}" if extras.tempo is not None else ""
        head = f" engine {extras.engine} (no answer yet){tempo}"
    else:
        head = f" {tempo_text(now, extras.tempo_due)} · {bar_beat(now.get('beat'))}"
        head += _level(now)
        head += f" · dsp {100 * float(now.get('dsp_load') or 0):.0f}%"
        trouble = [f"{key} {now[key]}" for key in ("xruns", "underruns") if int(now.get(key) or 0)]
        head += "".join(f" · {part}" for part in trouble)
        active = now.get("active")
        head += f" · slot {active}" if active else " · no slot playing"
        if int(now.get("failovers") or 0):
            head += f" · failovers {now['failovers']}"
    tail = _recording(now, extras)
    tail += f" · focus {extras.focus}" if extras.focus else ""
    if extras.awaited:
        tail += f" · {extras.awaited[0]}…"
    if extras.watched:
        tail += " · watching " + " ".join(extras.watched)
    return f"{head}{tail} · help · Ctrl-D quits"


def event_line(event: dict[str, Any]) -> str:
    """One engine event as the line written above the prompt.

    >>> event_line({"serial": 3, "kind": "failover", "text": "slot A died; B took over"})
    '⚡ slot A died; B took over'
    """
    return f"{_MARKS.get(str(event.get('kind')), '·')} {event.get('text', '')}"


@dataclass
class LiveStatus:
    """Polls `now` from a background thread and keeps its latest answer (`latest`).

    New events of `SHOWN_KINDS` are written once each, by serial; those the engine told
    before the first answer are not (they are old news to a shell that just attached). An
    answer with a new `boot` is an engine that restarted: said once, and its events are
    then new from serial 1. A failed poll leaves `latest` None until the engine answers.
    """

    now: Callable[[], dict[str, Any]]
    write: Callable[[str], None]
    every_s: float = REFRESH_S
    on_close: Callable[[], None] = lambda: None
    told_elsewhere: Callable[[dict[str, Any]], bool] = lambda event: False
    """Events the shell tells itself (the end of a timed recording it follows): not written."""
    latest: dict[str, Any] | None = None
    _seen: int = -1
    _boot: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def for_engine(
        cls,
        address: tuple[str, int],
        write: Callable[[str], None],
        told_elsewhere: Callable[[dict[str, Any]], bool] = lambda event: False,
    ) -> LiveStatus:
        """A live status of the engine at `address`, with a client of its own."""
        client = EngineClient(*address)
        return cls(client.now, write, on_close=client.close, told_elsewhere=told_elsewhere)

    def start(self) -> LiveStatus:
        """Start polling in a daemon thread."""
        self._thread = start_daemon(self._run, "chronus-toolbar")
        return self

    def close(self) -> None:
        """Stop polling (waits for the poll under way) and close the client."""
        stop_daemon(self._stop, self._thread, 2.0)
        self.on_close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.every_s)

    def poll(self) -> None:
        """Ask once: keep the answer and write its new events (tests call this directly)."""
        try:
            now = self.now()
        except (EngineError, OSError, ValueError, TypeError):
            self.latest = None
            return
        boot = str(now.get("boot", ""))
        events = [e for e in now.get("events") or [] if isinstance(e, dict)]
        if self._boot is not None and boot != self._boot:
            self.write(event_line({"kind": "engine", "text": "the engine restarted"}))
            self._seen = 0
        if self._seen < 0:  # the first answer: what came before it is not news
            self._seen = max((int(e.get("serial", 0)) for e in events), default=0)
        self._boot = boot
        for event in events:
            serial = int(event.get("serial", 0))
            if serial > self._seen:
                self._seen = serial
                if event.get("kind") in SHOWN_KINDS and not self.told_elsewhere(event):
                    self.write(event_line(event))
        self.latest = now
