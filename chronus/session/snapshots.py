"""Snapshots: a patch saved as JSON, read back, and the messages that load one into a patch.

A snapshot file is the engine's dump (`/engine/dump`) with a format version beside it:
`{"chronus_snapshot": 1, "modules": …, "connections": …, "tempo": …, "tracks": …}`. A file
without the version but with the dump's `modules` is one saved before versions were written,
read as version 1. Anything else (not JSON, not an object, another program's JSON, a version
newer than this chronus reads) is refused with a `SnapshotError` saying which.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chronus.lang.context import Context
from chronus.lang.modules import builtin_types, plugin_types
from chronus.lang.undo import diff_messages
from chronus.protocol import Message
from chronus.session.atomic import write_atomic

__all__ = [
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "SnapshotError",
    "SnapshotStore",
    "load_messages",
    "parse_snapshot",
    "plugin_notes",
    "plugins_needed",
]

FORMAT_KEY = "chronus_snapshot"
FORMAT_VERSION = 1
"""The snapshot format this chronus writes, and the newest it reads."""


class SnapshotError(ValueError):
    """A file that is not a snapshot this chronus can load; nothing was changed."""


def parse_snapshot(raw: bytes, source: str = "<snapshot>") -> dict[str, Any]:
    """The dump a snapshot file holds, without its version; `SnapshotError` if it is corrupt,
    foreign, or from a newer chronus."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SnapshotError(f"{source} is corrupt: it is not UTF-8 text") from None
    except RecursionError:
        raise SnapshotError(f"{source} is nested too deeply to be a snapshot") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"{source} is corrupt: not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{source} is not a chronus snapshot: it holds no JSON object")
    version = data.pop(FORMAT_KEY, None)
    if version is None:
        if isinstance(data.get("modules"), dict):
            return data  # saved before snapshots carried a version
        raise SnapshotError(
            f"{source} is not a chronus snapshot: JSON without {FORMAT_KEY!r} or modules"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SnapshotError(f"{source} is not a chronus snapshot: {FORMAT_KEY} is {version!r}")
    if version > FORMAT_VERSION:
        raise SnapshotError(
            f"{source} was saved by a newer chronus (snapshot format {version}; this one "
            f"reads up to {FORMAT_VERSION}): update chronus to load it"
        )
    _check_shape(data, source)
    return data


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_shape(data: dict[str, Any], source: str) -> None:
    """`SnapshotError` if the dump's parts are not of the types a dump has (what each value
    may be is the engine's check, when it is loaded)."""
    modules = data.get("modules", {})
    if not isinstance(modules, dict):
        raise SnapshotError(f"{source} is corrupt: its modules are not an object")
    for module_id, entry in modules.items():
        params = entry.get("params", {}) if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("type"), str)
            or not isinstance(params, dict)
            or not all(_number(v) for v in params.values())
        ):
            raise SnapshotError(
                f"{source} is corrupt: module {module_id} needs a type and numeric params"
            )
    for key, width in (("connections", 2), ("modulations", 3)):
        rows = data.get(key, [])
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == width and all(isinstance(x, str) for x in r)
            for r in rows
        ):
            raise SnapshotError(f"{source} is corrupt: its {key} are not lists of names")
    if "tempo" in data and not (_number(data["tempo"]) and data["tempo"] > 0):
        raise SnapshotError(f"{source} is corrupt: its tempo is {data['tempo']!r}")
    if not isinstance(data.get("tracks", {}), dict):
        raise SnapshotError(f"{source} is corrupt: its tracks are not an object")


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
        text = json.dumps({**dump, FORMAT_KEY: FORMAT_VERSION}, indent=2, sort_keys=True) + "\n"
        write_atomic(target, text.encode("utf-8"))
        return target

    def load(self, name: str) -> dict[str, Any]:
        """The dump saved as `name`: OSError if it cannot be read (FileNotFoundError if there
        is none), `SnapshotError` if it is no snapshot this chronus loads."""
        path = self.path(name)
        return parse_snapshot(path.read_bytes(), str(path))

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
