"""Where a plugin's code comes from, and the content-addressed store every process imports.

A plugin is named by the user: a path to a file, or a bare name found as `<name>.py` in the
configured folders (`--modules DIR` on `chronus engine`, in order, then
`~/.config/chronus/modules/`). Its source is copied once into the store as
`<store>/<name>-<version>.py` (a temp file and a rename, so no process ever reads half a
file); every engine process imports that copy. An edit of the user's file therefore never
changes running code, two versions of one plugin can live side by side, and numba's cache,
keyed by the file, hits again on every later import of the same version.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chronus.plugins.ladspa.reference import ladspa_version, split_reference
from chronus.plugins.source import NAME_PATTERN, version_of
from chronus.session.atomic import write_atomic

__all__ = [
    "MAX_SOURCE_BYTES",
    "PluginStore",
    "ResolveError",
    "StoredPlugin",
    "default_folders",
    "default_store",
    "resolve",
]

MAX_SOURCE_BYTES = 4 << 20
"""A plugin's source file may be at most this big (4 MiB): a module, not a data file."""


class ResolveError(ValueError):
    """A plugin the user named cannot be found or read; the message says why."""


@dataclass(frozen=True, slots=True)
class StoredPlugin:
    """One version of one plugin in the store: what every process imports."""

    name: str
    version: str
    path: str
    """The store's copy (absolute)."""
    source: str
    """The file the user named (or found in a configured folder)."""


def _config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "chronus"


def default_folders(extra: Sequence[str | Path] = ()) -> list[Path]:
    """The folders a bare plugin name is looked up in: `extra` (`--modules`) in order, then
    `~/.config/chronus/modules/`."""
    return [*(Path(folder).expanduser() for folder in extra), _config_home() / "modules"]


def default_store() -> Path:
    """The store's folder when none is given: `$XDG_CACHE_HOME/chronus/plugins`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chronus" / "plugins"


def resolve(spec: str, folders: Sequence[Path], name: str = "") -> tuple[Path, str]:
    """The file and the plugin name that `spec` (a path or a bare name) stands for.

    A spec with a `/` or ending in `.py` is a path the user named (relative to the current
    directory); a bare name is `<spec>.py` in the first of `folders` that has it; a native
    plugin's reference (`<library>.so#<label>`) stands for itself. The name is `name` if
    given, else the file's stem (a native plugin's label). Raises `ResolveError` naming
    what was looked for and where.
    """
    spec = spec.strip()
    if not spec:
        raise ResolveError("no plugin named: give a path to a .py file or a module name")
    native = split_reference(spec)
    if native is not None:  # played in a plugin host: the store keeps no copy of it
        if not Path(native[0]).is_file():
            raise ResolveError(f"no such LADSPA library: {native[0]}")
        path, name = Path(spec), name or native[1].lower().replace("-", "_")
    elif "/" in spec or spec.endswith(".py") or os.sep in spec:
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise ResolveError(f"no such file: {path}")
    else:
        if not NAME_PATTERN.fullmatch(spec):
            raise ResolveError(f"{spec!r} is not a module name (a-z, 0-9, _; 1–32 characters)")
        found = [folder / f"{spec}.py" for folder in folders if (folder / f"{spec}.py").is_file()]
        if not found:
            where = ", ".join(str(folder) for folder in folders) or "no folder configured"
            raise ResolveError(f"no module {spec}.py in the module folders ({where})")
        path = found[0].resolve()
    name = name or path.stem
    if not NAME_PATTERN.fullmatch(name):
        raise ResolveError(
            f"{name!r} is not a plugin name (a-z, 0-9, _; 1–32 characters): name it with "
            "`as <name>`"
        )
    return path, name


class PluginStore:
    """The content-addressed copies of plugin sources, under one folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def path_of(self, name: str, version: str) -> Path:
        """Where version `version` of plugin `name` is (or would be) kept."""
        return self.root / f"{name}-{version}.py"

    def put(self, source: Path, name: str) -> StoredPlugin:
        """Copy `source` into the store as plugin `name` (see `_put`); a native plugin's
        reference (`<library>.so#<label>`) is kept as it is, versioned by its library."""
        native = split_reference(str(source))
        if native is None:
            return self._put(source, name)
        try:
            version = ladspa_version(*native)
        except OSError as exc:
            raise ResolveError(f"cannot read {native[0]}: {exc.strerror}") from exc
        return StoredPlugin(name, version, str(source), str(source))

    def _put(self, source: Path, name: str) -> StoredPlugin:
        """Copy `source` into the store as plugin `name`; what was stored.

        The bytes are read once: the version is the hash of exactly what is stored, even if
        the user's file changes meanwhile. A version already stored is not written again.
        Raises `ResolveError` if the file cannot be read or is too big, `OSError` if the
        store cannot be written.
        """
        try:
            with open(source, "rb") as file:
                data = file.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise ResolveError(f"cannot read {source}: {exc.strerror}") from exc
        if len(data) > MAX_SOURCE_BYTES:
            raise ResolveError(f"{source} is over {MAX_SOURCE_BYTES >> 20} MiB: not a module")
        version = version_of(data)
        target = self.path_of(name, version)
        if not (target.is_file() and target.read_bytes() == data):
            write_atomic(target, data)
        return StoredPlugin(name, version, str(target), str(source))

    def get(self, name: str, version: str) -> StoredPlugin | None:
        """A stored version, if the store has it intact (its bytes hash to its version)."""
        target = self.path_of(name, version)
        try:
            data = target.read_bytes()
        except OSError:
            return None
        if version_of(data) != version:
            return None
        return StoredPlugin(name, version, str(target), str(target))
