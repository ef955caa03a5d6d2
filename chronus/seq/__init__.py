"""chronus.seq."""
