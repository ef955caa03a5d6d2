"""The shell's session commands: snapshots on disk, timed recordings, replaying scripts.

The language maps `record …` and `stop recording` to OSC, and works out what loading a
snapshot changes; what needs a clock or a file (saying that a 30-second take has ended, a
snapshot's JSON, a script played in the background) happens here. No OSC address is spelt here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient, EngineError
from chronus.lang.context import Context
from chronus.lang.intents import Plugin
from chronus.lang.modules import builtin_types, plugin_types
from chronus.lang.resolve import Mapped
from chronus.lang.undo import diff_messages
from chronus.protocol import Message
from chronus.session.atomic import write_atomic

__all__ = [
    "Recorder",
    "Replayer",
    "SnapshotStore",
    "is_local",
    "load_messages",
    "localised",
    "plugin_notes",
    "plugins_needed",
    "recording_of",
]

_REPORT_DELAY_S = 0.2
"""How long after a recording's length the engine is asked how it ended."""
_RECHECK_S = 0.25
_CHECKS = 20
"""How often it is asked while the engine has not yet written the last frame."""


def is_local(host: str) -> bool:
    """Whether an engine at `host` runs on this machine (and writes files into ours)."""
    return host in ("127.0.0.1", "localhost", "::1")


def localised(mapped: Mapped) -> tuple[Message, ...]:
    """An intent's messages, a module's file made absolute: for an engine on this machine,
    which reads relative to its own folder, not ours. A recording's file is sent as typed:
    the engine writes it in its files folder (`--files`), which a relative name is under."""
    intent = mapped.intent
    if not (isinstance(intent, Plugin) and intent.file):
        return mapped.messages
    out = []
    for message in mapped.messages:
        path = Path(str(message.args[0])).expanduser()
        if not path.is_absolute() or str(path) != message.args[0]:
            message = replace(message, args=(str(path.resolve()), *message.args[1:]))
        out.append(message)
    return tuple(out)


def recording_of(message: Message, rate: int) -> tuple[str, float | None]:
    """The file and the length in seconds (None: until stopped) of a `record` line's message."""
    frames = message.args[1] if len(message.args) > 1 else None
    return str(message.args[0]), None if frames is None else float(frames) / rate


class SnapshotStore:
    """Snapshots as `<folder>/<name>.json`, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        """Where the snapshot called `name` lives."""
        return self.folder / f"{name}.json"

    def save(self, name: str, dump: dict[str, Any]) -> Path:
        """Write `dump` as the snapshot `name` (temp file, fsync, rename); return its path."""
        target = self.path(name)
        text = json.dumps(dump, indent=2, sort_keys=True) + "\n"
        write_atomic(target, text.encode("utf-8"))
        return target

    def load(self, name: str) -> dict[str, Any]:
        """The dump saved as `name`; OSError or ValueError if it is missing or unreadable."""
        try:
            data = json.loads(self.path(name).read_text(encoding="utf-8"))
        except RecursionError:
            raise ValueError(f"{self.path(name)} is nested too deeply to be a snapshot") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path(name)} is not a snapshot")
        return data

    def names(self) -> list[str]:
        """Every snapshot's name, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))


def plugins_needed(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plugin types a snapshot's modules are of (types not built in), each with what the
    snapshot saved of it (its `"plugins"` entry: version, path; {} if it says nothing)."""
    modules = snapshot.get("modules")
    saved = snapshot.get("plugins")
    saved = saved if isinstance(saved, dict) else {}
    builtin = set(builtin_types())
    needed: dict[str, dict[str, Any]] = {}
    for entry in modules.values() if isinstance(modules, dict) else ():
        kind = entry.get("type") if isinstance(entry, dict) else None
        if isinstance(kind, str) and kind not in builtin:
            about = saved.get(kind)  # the engine's dump says name → version
            needed[kind] = {"version": about} if isinstance(about, str) else {}
            if isinstance(about, dict):
                needed[kind] = about
    return needed


def plugin_notes(snapshot: dict[str, Any]) -> list[str]:
    """Plugins the snapshot was saved with at another version than the engine's."""
    playing = {plugin.name: plugin.version for plugin in plugin_types()}
    notes = []
    for name, about in plugins_needed(snapshot).items():
        saved = str(about.get("version") or "")
        if saved and playing.get(name) and playing[name] != saved:
            notes.append(
                f"note: the snapshot was saved with {name} v {saved}; v {playing[name]} plays"
            )
    return notes


def load_messages(current: dict[str, Any], snapshot: dict[str, Any]) -> list[Message]:
    """What turns the engine's patch `current` into `snapshot`: only the differences, so a
    module both have keeps sounding (the same difference undo uses).

    Raises ValueError (or a subclass) if the snapshot is malformed, or needs a plugin the
    engine has not loaded (the message says which, and how to load it; a snapshot never
    loads code); nothing is sent then.
    """
    from chronus.dsp.patch import Patch
    from chronus.dsp.specs import declare_dumped

    needed = plugins_needed(snapshot)
    loaded = set(current.get("plugins") or {}) | {plugin.name for plugin in plugin_types()}
    missing = [name for name in needed if name not in loaded]
    if missing:
        raise ValueError(_missing(missing, needed))
    try:
        declare_dumped(current.get("plugin_types") or {})  # the engine's user module types
        Patch.from_dict(snapshot)  # the engine's own checks, before anything is sent
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"the snapshot is malformed: {exc}") from None
    return diff_messages(Context.from_dump(current).state(), Context.from_dump(snapshot).state())


def _missing(names: list[str], needed: dict[str, dict[str, Any]]) -> str:
    said = []
    for name in names:
        version = needed[name].get("version")
        said.append(f"{name} (v {version})" if version else name)
    first = names[0]
    path = needed[first].get("path")
    how = f"load module {path} as {first}" if path else f"load module {first}"
    plural = "s" if len(names) > 1 else ""
    return f"it needs the plugin{plural} {', '.join(said)}, not loaded in the engine: {how} first"


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

    def started(self, path: str, seconds: float | None) -> None:
        """A recording to `path` was started; the engine ends it after `seconds` (None: when
        told)."""
        self.cancel()
        if seconds is None:
            self.write(f"recording to {path} — `stop recording` ends it")
            return
        self.write(f"recording {seconds:g} s to {path}")
        with self._lock:
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


class Replayer:
    """Plays a script through the engine in a background thread with its own client."""

    def __init__(self, address: tuple[str, int], write: Callable[[str], None]) -> None:
        self.address = address
        self.write = write
        self.thread: threading.Thread | None = None
        self.finished = threading.Event()

    def start(self, path: Path) -> None:
        """Load `path` (errors are raised here, before anything plays) and play it."""
        from chronus.session.script import load_script_file

        script = load_script_file(path)
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
