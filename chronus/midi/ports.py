"""Choosing a MIDI port by what a musician types: its number in the listing, or part of its
name.

>>> ports = ["system:midi_capture_1", "keys:out", "a2j:nanoKONTROL2 (capture)"]
>>> choose_port(ports, "1"), choose_port(ports, "KEYS"), choose_port(ports, "nanokontrol")
(1, 1, 2)
>>> choose_port(ports[:2], "pads")
Traceback (most recent call last):
...
chronus.midi.ports.PortError: no MIDI port 'pads' (2 ports: 0 system:midi_capture_1, 1 keys:out)
"""

from __future__ import annotations

__all__ = ["PortError", "choose_port", "listing"]


class PortError(LookupError):
    """No port, or more than one, fits what was typed."""


def listing(ports: list[str]) -> str:
    """`0 name, 1 name …` (or `none`)."""
    return ", ".join(f"{i} {name}" for i, name in enumerate(ports)) or "none"


def choose_port(ports: list[str], spec: str) -> int:
    """The index of the port `spec` names: a number from the listing, else the one port
    whose name holds `spec` (case folded); `PortError` says what there is."""
    spec = spec.strip()
    if spec.isdigit() and int(spec) < len(ports):
        return int(spec)
    found = [i for i, name in enumerate(ports) if spec.casefold() in name.casefold()]
    if len(found) == 1:
        return found[0]
    exact = [i for i in found if ports[i].casefold() == spec.casefold()]
    if len(exact) == 1:
        return exact[0]
    what = "several MIDI ports match" if found else "no MIDI port"
    raise PortError(f"{what} {spec!r} ({len(ports)} ports: {listing(ports)})")
