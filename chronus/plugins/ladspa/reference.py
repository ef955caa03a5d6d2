"""How a LADSPA plugin is named where a module file's path goes: `<library path>#<label>`.

The sandbox, the registry and a plugin host take a plugin by the path of its source; for a
native plugin that is its library and its label, joined by `#` (`/usr/lib/ladspa/
tap_reverb.so#tap_reverb`). Its version is the first 12 hex digits of the SHA-256 of the
library's bytes and the label.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["SEPARATOR", "ladspa_reference", "ladspa_version", "split_reference"]

SEPARATOR = "#"


def ladspa_reference(path: str, label: str) -> str:
    """The reference of plugin `label` of the library at `path`."""
    return f"{path}{SEPARATOR}{label}"


def split_reference(reference: str) -> tuple[str, str] | None:
    """(library path, label) of a LADSPA reference; None for anything else (a `.py` file).

    >>> split_reference("/usr/lib/ladspa/tap_reverb.so#tap_reverb")
    ('/usr/lib/ladspa/tap_reverb.so', 'tap_reverb')
    >>> split_reference("examples/modules/fold.py") is None
    True
    """
    path, separator, label = reference.rpartition(SEPARATOR)
    if not separator or not label or not path.endswith(".so"):
        return None
    return path, label


def ladspa_version(path: str, label: str) -> str:
    """The version of a native plugin: its library's bytes and its label, hashed. Raises
    `OSError` if the library cannot be read."""
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(b"\0" + label.encode())
    return digest.hexdigest()[:12]
