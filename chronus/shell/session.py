"""The shell's session commands: snapshots on disk, timed recordings, replaying scripts.

The language maps `record …` and `stop recording` to OSC, and works out what loading a
snapshot changes; what needs a clock or a file (the stop after 30 seconds, a snapshot's
JSON, a script played in the background) happens here. No OSC address is spelt here.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient
from chronus.lang.context import Context
from chronus.lang.intents import StopRecording
from chronus.lang.mapper import map_intent
from chronus.lang.undo import diff_messages
from chronus.protocol import Message

__all__ = ["Recorder", "Replayer", "SnapshotStore", "load_messages"]


class SnapshotStore:
    """Snapshots as `<folder>/<name>.json`, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        """Where the snapshot called `name` lives."""
        return self.folder / f"{name}.json"

    def save(self, name: str, dump: dict[str, Any]) -> Path:
        """Write `dump` as the snapshot `name` (temp file, fsync, rename); return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(name)
        handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(dump, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        try:
            folder = os.open(self.folder, os.O_RDONLY)
        except OSError:
            return target
        try:
            os.fsync(folder)
        except OSError:
            pass
        finally:
            os.close(folder)
        return target

    def load(self, name: str) -> dict[str, Any]:
        """The dump saved as `name`; OSError or ValueError if it is missing or unreadable."""
        data = json.loads(self.path(name).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{self.path(name)} is not a snapshot")
        return data

    def names(self) -> list[str]:
        """Every snapshot's name, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))


def load_messages(current: dict[str, Any], snapshot: dict[str, Any]) -> list[Message]:
    """What turns the engine's patch `current` into `snapshot`: only the differences, so a
    module both have keeps sounding (the same difference undo uses).

    Raises ValueError (or a subclass) if the snapshot is malformed; nothing is sent then.
    """
    from chronus.dsp.patch import Patch

    try:
        Patch.from_dict(snapshot)  # the engine's own checks, before anything is sent
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"the snapshot is malformed: {exc}") from None
    return diff_messages(Context.from_dump(current).state(), Context.from_dump(snapshot).state())


class Recorder:
    """Stops a recording after its length, on a timer (one at a time)."""

    def __init__(
        self,
        client: EngineClient,
        write: Callable[[str], None],
        on_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.write = write
        self.on_stop = on_stop
        """Called after the timer stopped a recording (the shell forgets it is recording)."""
        self._timer: threading.Timer | None = None
        self._path = ""

    def started(self, path: str, seconds: float | None) -> None:
        """A recording to `path` was started; stop it after `seconds` (None: when told)."""
        self.cancel()
        if seconds is None:
            self.write(f"recording to {path} — `stop recording` ends it")
            return
        self.write(f"recording {seconds:g} s to {path}")
        self._path = path
        self._timer = threading.Timer(seconds, self._stop, args=(path,))
        self._timer.daemon = True
        self._timer.start()

    def _stop(self, path: str) -> None:
        self._timer = None
        self.client.send(map_intent(StopRecording(), Context()).messages)
        self.on_stop()
        self.write(f"recorded {path}")

    def finish(self) -> None:
        """Stop a timed recording now (the shell is quitting): the file is kept, shorter."""
        if self._timer is not None:
            self.cancel()
            self._stop(self._path)

    def cancel(self) -> None:
        """Forget the pending stop (the musician stopped it, or started another)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def pending(self) -> bool:
        """Whether a timed stop is still to come."""
        return self._timer is not None


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
