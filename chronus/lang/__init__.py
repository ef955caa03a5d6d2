"""chronus.lang."""
