"""The LADSPA scan: every plugin of every library on the LADSPA path, named for chronus.

The path is `LADSPA_PATH` (folders separated by `:`), else `/usr/lib/ladspa`,
`/usr/local/lib/ladspa` and `~/.ladspa`. Opening a library runs its code, so the libraries
are opened in a child process (`python -m chronus.plugins.ladspa.scan PATH…`), one after
the other; the child says which library it begins before it opens it. A library that fails to
open, or that kills the child (a crash) or holds it past `LIBRARY_TIMEOUT`, is reported in
`Scan.failures` and the scan goes on in a fresh child with the libraries after it.

Names. Each plugin's type name is its label as lower_snake (`tap_reverb`). A name that is
not a plugin name, that is reserved (a built-in type, a word of the language) or that two
plugins share becomes `<name>_<unique id>` for each of them, so that a name never depends
on the order the libraries were found in.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chronus.plugins.ladspa.describe import PluginInfo

__all__ = ["DEFAULT_PATH", "Scan", "ScanFailure", "ladspa_folders", "library_files", "scan"]

DEFAULT_PATH = ("/usr/lib/ladspa", "/usr/local/lib/ladspa", "~/.ladspa")
LIBRARY_TIMEOUT = 10.0
"""Seconds one library may take to open and describe before it counts as hung."""
NAME_CHARS = 32
"""The longest plugin name (`chronus.plugins.source.NAME_PATTERN`)."""


def ladspa_folders(env: dict[str, str] | None = None) -> list[Path]:
    """The folders to scan: `LADSPA_PATH`'s if it is set and not empty, else the default."""
    value = (os.environ if env is None else env).get("LADSPA_PATH", "")
    parts = [p for p in value.split(":") if p.strip()] or list(DEFAULT_PATH)
    return [Path(p).expanduser() for p in parts]


def library_files(folders: Iterable[Path]) -> list[str]:
    """Every `.so` in `folders` (not recursing), each once (by its real path), in folder
    order then name order. Folders that do not exist are skipped."""
    seen: set[str] = set()
    found: list[str] = []
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = folder / name
            real = os.path.realpath(path)
            if name.endswith(".so") and os.path.isfile(real) and real not in seen:
                seen.add(real)
                found.append(str(path))
    return found


@dataclass(frozen=True, slots=True)
class ScanFailure:
    """A library the scan could not read, and why (`error`, `crash` or `timeout`); or a
    plugin left out as a `duplicate`."""

    path: str
    kind: str
    message: str


@dataclass(slots=True)
class Scan:
    """What a scan found: the plugins (named), the libraries that failed, the folders."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[ScanFailure] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    libraries: int = 0

    def get(self, name: str) -> PluginInfo | None:
        """The plugin whose type name is `name`, or None."""
        return next((p for p in self.plugins if p.name == name), None)

    def names(self) -> list[str]:
        """Every plugin's type name, sorted."""
        return sorted(p.name for p in self.plugins)

    def by_maker(self) -> dict[str, list[PluginInfo]]:
        """The plugins grouped by maker (makers and plugins sorted)."""
        groups: dict[str, list[PluginInfo]] = {}
        for plugin in sorted(self.plugins, key=lambda p: (p.maker_name.lower(), p.name)):
            groups.setdefault(plugin.maker_name, []).append(plugin)
        return groups

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data: folders, libraries scanned, plugins by maker, failures."""
        return {
            "folders": self.folders,
            "libraries": self.libraries,
            "plugins": len(self.plugins),
            "makers": {
                maker: [p.to_dict() for p in plugins] for maker, plugins in self.by_maker().items()
            },
            "failures": [{"path": f.path, "kind": f.kind, "message": f.message}
                         for f in self.failures],
        }  # fmt: skip


def _child(paths: list[str]) -> None:
    """In the scanning child: for each library path, say `{"begin": path}`, then
    `{"plugins": [...]}` or `{"error": why}`."""
    from chronus.plugins.ladspa.abi import descriptors, open_library
    from chronus.plugins.ladspa.describe import describe

    out = sys.stdout

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    for path in paths:
        say({"begin": path})
        try:
            library = open_library(path)
            plugins = [describe(d, path).to_dict() for d in descriptors(library)]
        except Exception as exc:
            say({"error": f"{type(exc).__name__}: {exc}"})
            continue
        say({"plugins": plugins})


class _Child:
    """The scanning child process, and its output read line by line with a deadline."""

    def __init__(self, paths: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chronus.plugins.ladspa.scan", *paths],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self._buffer = b""
        self.ended = False
        """Whether its output ended (it exited or died), rather than went quiet."""

    def line(self, timeout: float) -> dict[str, Any] | None:
        """The next message; None at its end (EOF) or past `timeout` seconds."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                return None
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk:
                self.ended = True
                return None
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(raw)
        except ValueError:
            return {"error": "the scanning process wrote nonsense"}
        return message if isinstance(message, dict) else {"error": "nonsense"}

    def ending(self) -> str:
        """How the child ended (killing it first if it has not)."""
        try:
            status = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.kill()
            return "hung"
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"it crashed the scanning process ({name})"
        return f"it ended the scanning process (exit status {status})"

    def kill(self) -> None:
        """SIGKILL it, reap it, close its pipe."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _read_all(paths: list[str], timeout: float) -> tuple[list[PluginInfo], list[ScanFailure]]:
    plugins: list[PluginInfo] = []
    failures: list[ScanFailure] = []
    left = list(paths)
    while left:
        child = _Child(left)
        current: str | None = None
        try:
            while left:
                message = child.line(timeout)
                if message is None:
                    if current is None:  # it died before it began one: blame the first
                        current = left[0]
                    kind = "crash" if child.ended else "timeout"
                    why = (child.ending() if child.ended
                           else f"opening it took more than {timeout:g} s")  # fmt: skip
                    failures.append(ScanFailure(current, kind, why))
                    left.remove(current)
                    break
                if "begin" in message:
                    current = str(message["begin"])
                    continue
                if current is None:
                    continue
                if "plugins" in message:
                    plugins.extend(_infos(message["plugins"], current, failures))
                else:
                    failures.append(ScanFailure(current, "error", str(message.get("error"))))
                left.remove(current)
                current = None
        finally:
            child.kill()
    return plugins, failures


def _infos(data: Any, path: str, failures: list[ScanFailure]) -> list[PluginInfo]:
    try:
        return [PluginInfo.from_dict(item) for item in data]
    except (KeyError, TypeError, ValueError) as exc:
        failures.append(ScanFailure(path, "error", f"unreadable description: {exc}"))
        return []


def _valid(name: str) -> bool:
    return (1 <= len(name) <= NAME_CHARS and name[0].isalpha() and name.isascii()
            and (name.replace("_", "").isalnum() and name == name.lower()))  # fmt: skip


def name_plugins(
    plugins: list[PluginInfo], reserved: Iterable[str] = ()
) -> tuple[list[PluginInfo], list[ScanFailure]]:
    """Give every plugin its type name (see the module's doc), sorted by name; and the
    plugins left out because an earlier folder of the path has the same one (the same name
    after the unique id was added: the same plugin installed twice)."""
    reserved = set(reserved)
    counts: dict[str, int] = {}
    for plugin in plugins:
        counts[plugin.name] = counts.get(plugin.name, 0) + 1
    named: dict[str, PluginInfo] = {}
    shadowed: list[ScanFailure] = []
    for plugin in plugins:
        name = plugin.name
        if counts[name] > 1 or name in reserved or not _valid(name):
            suffix = f"_{plugin.unique_id}"
            base = name if name[:1].isalpha() else f"p{name}"
            name = base[: NAME_CHARS - len(suffix)].rstrip("_") + suffix
        first = named.get(name)
        if first is not None:
            shadowed.append(ScanFailure(plugin.path, "duplicate", f"{plugin.label} is left "
                                        f"out: {first.path} has it too ({name})"))  # fmt: skip
            continue
        named[name] = replace(plugin, name=name)
    return sorted(named.values(), key=lambda p: p.name), shadowed


def scan(
    folders: Iterable[Path] | None = None,
    reserved: Iterable[str] = (),
    timeout: float = LIBRARY_TIMEOUT,
) -> Scan:
    """Scan `folders` (default: `ladspa_folders()`); never raises for a library's fault.

    `reserved` are names a plugin may not take (built-in types, words of the language)."""
    folders = list(ladspa_folders() if folders is None else folders)
    paths = library_files(folders)
    plugins, failures = _read_all(paths, timeout)
    named, shadowed = name_plugins(plugins, reserved)
    return Scan(
        plugins=named,
        failures=failures + shadowed,
        folders=[str(f) for f in folders],
        libraries=len(paths),
    )


if __name__ == "__main__":
    _child(sys.argv[1:])
