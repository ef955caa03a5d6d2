"""chronus.plugins."""
