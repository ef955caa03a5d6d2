"""Snapshots: a patch saved as JSON, read back, and the messages that load one into a patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chronus.lang.context import Context
from chronus.lang.modules import builtin_types, plugin_types
from chronus.lang.undo import diff_messages
from chronus.protocol import Message
from chronus.session.atomic import write_atomic

__all__ = ["SnapshotStore", "load_messages", "plugin_notes", "plugins_needed"]


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
        data = json.loads(self.path(name).read_text(encoding="utf-8"))
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
