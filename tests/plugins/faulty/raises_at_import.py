"""Raises while the file is imported."""

raise RuntimeError("broken at import")
