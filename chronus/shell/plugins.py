"""Plugins from the shell: load, reload and unload answered in the background, and `watch`.

The engine answers a load or a reload only once the module has passed validation and plays
(or with the reason it did not), which can take seconds: each request goes out on a client of
its own, in a thread that waits for the answer and says it above the prompt. A watched
plugin is reloaded when its file has changed and stayed unchanged for one more look (the
editor has finished writing it). No OSC address is spelt here: messages come from the mapper.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chronus.engine.client import EngineClient, Reply
from chronus.lang.context import Context
from chronus.lang.intents import Plugin
from chronus.lang.mapper import map_intent
from chronus.protocol import Message
from chronus.shell.views import format_plugin_reply

__all__ = [
    "ANSWER_TIMEOUT_S",
    "PluginRequests",
    "Watcher",
    "answer",
    "plugin_message",
    "request_of",
]

ANSWER_TIMEOUT_S = 30.0
"""How long a load or reload may take to be answered: validation (2 s at most by default),
loading into every process, a crossfade; a queue of them when several are sent at once."""

POLL_S = 0.25
"""How often a watched file is looked at."""

_ANSWERS = frozenset({"/plugins/loaded", "/plugins/unloaded"})


def plugin_message(action: str, name: str) -> Message:
    """The message that reloads or unloads plugin `name`, as the language maps it."""
    return map_intent(Plugin(action, name), Context()).messages[0]


def request_of(message: Message) -> tuple[str, str]:
    """(what was asked, the plugin's name) of a plugin message: ("load fold", "fold")."""
    action = message.address.rsplit("/", 1)[-1]
    args = [str(arg) for arg in message.args]
    if action != "load":
        name = args[0]
    else:  # a file or a name, then the name it is given ("" for its own), then the hosting
        name = args[1] if len(args) > 1 and args[1] else Path(args[0]).stem
    return f"{action} {name}", name


def answer(client: EngineClient, message: Message, timeout: float) -> Reply | None:
    """Wait on `client` (which sent `message`) for the engine's answer to it: the plugin's
    `/plugins/loaded` or `/plugins/unloaded`, or an `/error` for its address; None if none
    came within `timeout` seconds. Other replies are passed over."""
    _, name = request_of(message)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        reply = client.receive(left)
        if reply is None:
            return None
        address, args = reply
        if address in _ANSWERS and args and str(args[0]) == name:
            return reply
        if address == "/error" and args and args[0] == message.address:
            return reply
    return None


class PluginRequests:
    """Sends plugin commands to the engine at `address` and says what it answered.

    `changed` is set once the engine has loaded, reloaded or unloaded a plugin, so that the
    shell takes its types and patch again from the engine before the next line.
    """

    def __init__(
        self,
        address: tuple[str, int],
        write: Callable[[str], None],
        timeout: float = ANSWER_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.write = write
        self.timeout = timeout
        self.changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._awaited: list[str] = []

    def send(self, message: Message) -> None:
        """Send one plugin message; its answer is written when it comes."""
        thread = threading.Thread(target=self._ask, args=(message,), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        with self._lock:
            self._awaited.append(request_of(message)[0])
        thread.start()

    @property
    def awaited(self) -> list[str]:
        """What was asked and not yet answered ("load fold"), oldest first."""
        with self._lock:
            return list(self._awaited)

    def _ask(self, message: Message) -> None:
        try:
            self._answered(message)
        finally:
            with self._lock:
                self._awaited.remove(request_of(message)[0])

    def _answered(self, message: Message) -> None:
        request, _ = request_of(message)
        try:
            with EngineClient(*self.address) as client:
                client.send([message])
                reply = answer(client, message, self.timeout)
        except OSError as exc:
            self.write(f"error: {request}: {exc.strerror or exc}")
            return
        if reply is None:
            self.write(
                f"error: no answer to {request} within {self.timeout:g} s (`modules` shows "
                "where it is)"
            )
            return
        self.write(format_plugin_reply(reply[0], reply[1], request))
        if reply[0] != "/error":
            self.changed.set()

    def wait(self, timeout: float) -> bool:
        """Wait for every answer still awaited; whether none is left."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)


@dataclass
class _Watched:
    path: Path
    seen: tuple[int, int] | None
    """(mtime in ns, size) when last reloaded (or watched); None if there was no file."""
    changing: tuple[int, int] | None = None
    """What a look found that differs from `seen`: reloaded when the next look finds it too."""


def _look(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class Watcher:
    """Calls `reload(name)` when a watched plugin's file has changed and is stable.

    One thread looks at every watched file every `interval` seconds (mtime and size), and
    only while something is watched.
    """

    def __init__(
        self,
        reload: Callable[[str], None],
        write: Callable[[str], None],
        interval: float = POLL_S,
    ) -> None:
        self.reload = reload
        self.write = write
        self.interval = interval
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def watch(self, name: str, path: Path) -> None:
        """Watch plugin `name`'s file at `path` (again, if it was)."""
        with self._lock:
            self._watched[name] = _Watched(path, _look(path))
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()

    def unwatch(self, name: str) -> bool:
        """Stop watching `name`; whether it was watched."""
        with self._lock:
            return self._watched.pop(name, None) is not None

    def names(self) -> list[str]:
        """The plugins watched, in the order they were first watched."""
        with self._lock:
            return list(self._watched)

    def close(self) -> None:
        """Stop watching everything."""
        with self._lock:
            self._watched.clear()
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if not self._watched:
                    self._thread = None
                    return
            for name in self.poll():
                self.write(f"{name}: its file changed — reloading")
                self.reload(name)

    def poll(self) -> list[str]:
        """Look at every watched file once: the plugins to reload now (the thread's step)."""
        with self._lock:
            return [name for name, watched in self._watched.items() if self._changed(watched)]

    @staticmethod
    def _changed(watched: _Watched) -> bool:
        """Whether the file changed and then stayed the same for one look."""
        now = _look(watched.path)
        if now == watched.seen:
            watched.changing = None
            return False
        if now is None or now != watched.changing:
            watched.changing = now
            return False
        watched.seen, watched.changing = now, None
        return True
