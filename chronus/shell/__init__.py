"""chronus.shell."""
