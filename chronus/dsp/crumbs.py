"""Breadcrumbs: the number a slot leaves in shared memory while it runs a module.

Kept apart from the graph so that the supervisor, which reads the crumbs of a dead slot, can
name the module without loading the DSP (and numba) itself.
"""

from __future__ import annotations

import zlib

__all__ = ["crumb_of"]


def crumb_of(module_id: str) -> int:
    """The nonzero number a slot leaves in shared memory while it runs this module."""
    return zlib.crc32(module_id.encode()) + 1
