"""chronus.session."""
