"""Native LADSPA plugins through ctypes: the ABI (`abi`), what a plugin is (`describe`), the
scan of the LADSPA path (`scan`), and module types that run them (`module`, `native`).

Nothing is imported here: a scan's child process imports `abi` and `describe` only.
"""
