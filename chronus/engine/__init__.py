"""chronus.engine."""
