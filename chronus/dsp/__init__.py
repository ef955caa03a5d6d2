"""chronus.dsp."""
