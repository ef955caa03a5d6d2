"""Defines no Module subclass."""

GAIN = 0.5
