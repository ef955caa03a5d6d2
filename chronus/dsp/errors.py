"""The one error type of the DSP layer's validation."""

from __future__ import annotations

__all__ = ["PatchError"]


class PatchError(ValueError):
    """A message or value that is well-formed but makes no sense for the current patch.

    The text is written for the musician: it names the problem and, where it can, the fix
    (``did you mean 'cutoff'?``).
    """
