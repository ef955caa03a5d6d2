"""Replaying a script or a logged session through an engine: in the background while the
prompt goes on (`Replayer`), or as the script a session log amounts to (`session_script`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient
from chronus.protocol import SLOT_ONLY, validate
from chronus.session.logs import find_session
from chronus.session.script import Script, TimedMessage, load_script_file
from chronus.session.stamped_log import StampedSession, is_session_log, read_stamped_log

__all__ = ["Replayer", "load_replay", "session_script"]


def session_script(session: StampedSession, source: str = "<session>") -> Script:
    """A logged session as a script: each command at its time from the session's first one,
    each commit staged and committed with its crossfade. Raises ValueError if the session put
    user modules in use (a replay never loads code: play those with `chronus render`)."""
    starts = [sample for sample, _ in session.commands] + [c.stamp for c in session.commits]
    origin = min(starts, default=0)
    timed: list[tuple[int, int, TimedMessage]] = []

    def at(sample: int, order: int, message: Any) -> None:
        when = Fraction(sample - origin, session.rate)
        timed.append((sample, order, TimedMessage(when, message, 0)))

    for order, (sample, message) in enumerate(session.commands):
        at(sample, 2 * order, message)
    for commit in session.commits:
        fade_ms = 1000.0 * commit.crossfade / session.rate
        staged = [
            validate("/patch/begin", ()),
            *commit.messages,
            validate("/patch/commit", (fade_ms, 1)),  # it passed its test when it played
        ]
        for message in staged:
            at(commit.stamp, 2 * len(session.commands) + 1, message)
    code = sorted({t.message.args[0] for _, _, t in timed if t.message.address in SLOT_ONLY})
    if code:
        raise ValueError(
            f"{source} used user modules ({', '.join(map(str, code))}): a replay never loads "
            "code; `chronus render` renders it with them"
        )
    timed.sort(key=lambda item: (item[0], item[1]))
    messages = [t for _, _, t in timed]
    duration = Fraction(max(session.end - origin, 0), session.rate)
    return Script(messages, duration, source)


def load_replay(path: str | os.PathLike[str]) -> Script:
    """A script file, or a session log as a script (`session_script`); OSError if it cannot
    be read, ValueError (a `ScriptError` for a script) if it is not right."""
    if is_session_log(path):
        return session_script(read_stamped_log(path), os.fspath(path))
    return load_script_file(path)


class Replayer:
    """Plays a script through the engine in a background thread with its own client."""

    def __init__(self, address: tuple[str, int], write: Callable[[str], None]) -> None:
        self.address = address
        self.write = write
        self.thread: threading.Thread | None = None
        self.finished = threading.Event()

    def start(self, path: Path) -> None:
        """Load `path` (errors are raised here, before anything plays) and play it: a script,
        or a session log (a path, or a name that `sessions` lists, or `last`)."""
        if not path.exists():
            path = find_session(path)  # FileNotFoundError, saying which there are
        script = load_replay(path)
        if self.thread is not None and self.thread.is_alive():
            raise RuntimeError("a script is already playing; wait for it to end")
        self.finished.clear()
        self.thread = threading.Thread(target=self._play, args=(script, path), daemon=True)
        self.thread.start()
        self.write(f"replaying {path} ({float(script.duration):.1f} s)")

    def _play(self, script: Any, path: Path) -> None:
        from chronus.session.player import play_script

        try:
            with EngineClient(*self.address) as client:
                sent = play_script(client, script)
            self.write(f"replayed {path}: {sent} messages")
        except OSError as exc:
            self.write(f"error: replaying {path}: {exc}")
        finally:
            self.finished.set()
