"""Following a timed recording: the engine ends it by itself; this says how it ended."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath

from chronus.engine.client import EngineClient, EngineError
from chronus.lang.mapper import TAKE
from chronus.protocol import Message
from chronus.session.stamped_log import read_stamped_log

__all__ = ["Recorder", "last_take", "recording_of", "takes_made"]

_REPORT_DELAY_S = 0.2
"""How long after a recording's length the engine is asked how it ended."""
_RECHECK_S = 0.25
_CHECKS = 20
"""How often it is asked while the engine has not yet written the last frame."""


def recording_of(message: Message, rate: int) -> tuple[str, float | None]:
    """The file and the length in seconds (None: until stopped) of a `record` line's message."""
    frames = message.args[1] if len(message.args) > 1 else None
    return str(message.args[0]), None if frames is None else float(frames) / rate


def last_take(names: Iterable[str]) -> int:
    """The highest N among files (names or paths) called `takeN.wav`; 0 if there is none."""
    found = (TAKE.fullmatch(PurePath(name).name) for name in names)
    return max((int(match.group(1)) for match in found if match), default=0)


def takes_made(folder: str | Path, log: str | None = None) -> int:
    """How many takes were made already, so that the next unnamed `record` writes a new file
    instead of overwriting one: the highest `takeN.wav` in the engine's files `folder` and
    among the recordings its session `log` notes (a folder or log not readable counts none)."""
    names: list[str] = []
    try:
        names += [path.name for path in Path(folder).glob("take*.wav")]
    except OSError:
        pass
    if log is not None:
        try:
            names += [name for _, name in read_stamped_log(log).recordings]
        except (OSError, ValueError):
            pass
    return last_take(names)


class Recorder:
    """Follows a timed recording, which the engine stops by itself, and says how it ended.

    The engine owns the length (the mapper sends it in frames), so a shell that quits or
    dies mid-take leaves a whole file behind. When the length has passed, this asks the
    engine, with a client of its own (the prompt's is not shared between threads), what it
    wrote, and says so: `recorded 30.0 s to take1.wav`. One recording at a time.
    """

    def __init__(
        self,
        client: EngineClient,
        write: Callable[[str], None],
        on_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.address = client.address
        self.write = write
        self.on_stop = on_stop
        """Called once a timed recording has ended (the shell forgets it is recording)."""
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._path = ""
        self._ends = 0.0
        """When (monotonic) the engine ends the recording followed."""
        self._followed: set[str] = set()
        """Timed recordings this follower reports the end of (see `reports`)."""

    def started(self, path: str, seconds: float | None) -> None:
        """A recording to `path` was started; the engine ends it after `seconds` (None: when
        told)."""
        self.cancel()
        if seconds is None:
            self.write(f"recording to {path} — `stop recording` ends it")
            return
        self.write(f"recording {round(seconds, 1):g} s to {path}")
        with self._lock:
            self._followed.add(path)
            self._path = path
            self._ends = time.monotonic() + seconds
            self._follow(seconds + _REPORT_DELAY_S, _CHECKS)

    def _follow(self, delay: float, checks: int) -> None:
        timer = threading.Timer(delay, self._check, args=(checks,))
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _check(self, checks: int) -> None:
        path = self._path
        try:
            with EngineClient(*self.address) as client:
                recording = client.status()["engine"]["recording"]
        except (EngineError, KeyError, TypeError) as exc:
            recording, text = {}, f"error: the end of recording {path} is unknown: {exc}"
        else:
            last = recording.get("last") or {}
            text = f"recorded {path}"
            if last.get("path") == path:  # where the engine wrote it: in its files folder
                text = f"recorded {last['seconds']:.1f} s to {last.get('file') or path}"
        going = bool(recording.get("recording")) and recording.get("path") == path
        with self._lock:
            if self._timer is not threading.current_thread():
                return  # cancelled meanwhile: another recording, or `stop recording`
            if going and checks > 1:
                self._follow(_RECHECK_S, checks - 1)  # the engine is a little behind
                return
            self._timer = None
        if going:
            self.write(f"the engine has not yet ended the recording to {path} (see `health`)")
            return
        self.on_stop()
        self.write(text)

    def reports(self, event: dict[str, object]) -> bool:
        """Whether this follower tells the end of the recording an engine event is about
        (a timed one it followed): then no one else need say it again. Once per recording."""
        with self._lock:
            if event.get("kind") != "recording" or event.get("about") not in self._followed:
                return False
            self._followed.discard(str(event["about"]))
            return True

    def finish(self, engine_stops: bool = False) -> None:
        """The shell is quitting: stop following. The engine still ends a timed recording at
        its length, unless it stops too (`engine_stops`), which ends it at once."""
        with self._lock:
            if self._timer is None:
                return
            self._timer.cancel()
            self._timer = None
            left = max(0.0, self._ends - time.monotonic())
        if engine_stops:
            self.write(f"the recording to {self._path} ends with the engine")
        else:
            self.write(f"the engine goes on recording {self._path}: it ends in {left:.1f} s")

    def cancel(self) -> None:
        """Stop following (the musician stopped the recording, or started another)."""
        with self._lock:
            self._followed.discard(self._path)  # its end is news again, for the toolbar
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    @property
    def pending(self) -> bool:
        """Whether a timed recording is being followed."""
        return self._timer is not None

    @property
    def left(self) -> float | None:
        """Seconds until the engine ends the recording followed (None: none is)."""
        if self._timer is None:
            return None
        return max(0.0, self._ends - time.monotonic())
