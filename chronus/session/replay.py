"""Replaying a script through the engine in the background, while the prompt goes on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient

__all__ = ["Replayer"]


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
