"""Writing a file whole or not at all: a temp file beside it, fsync, rename, fsync the folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` so that a reader sees the old file or the new one, never a
    part; the folder is made if missing. Raises `OSError`; then `target` is as it was."""
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)  # the rename itself, durable
    except OSError:
        pass
    finally:
        os.close(descriptor)
