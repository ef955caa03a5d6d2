"""Private rings for the isolated modules of renderers in one test, each served by a host
stepped by hand: what the slots and the plugin hosts share, in one process."""

from __future__ import annotations

from chronus.dsp.module import Module
from chronus.plugins.host import HostServer
from chronus.plugins.host_ring import HostRing, RingShape, SlotLink


class HostedRings:
    """One ring per (type, salt), made on first asking, with a host serving each: a link
    maker (`isolated.set_link_maker(rings.link)`) for every renderer of a test."""

    def __init__(self, classes: dict[str, type[Module]], rate: int, block: int) -> None:
        self.classes = classes
        """The class each host runs, by the stand-in's type name."""
        self.rate = rate
        self.block = block
        self.rings: dict[tuple[str, int], tuple[HostRing, HostServer]] = {}

    def link(self, type_name: str, salt: int) -> SlotLink:
        """The ring of the module (`type_name`, `salt`), and a slot's side of it."""
        key = (type_name, salt)
        if key not in self.rings:
            cls = self.classes[type_name]
            ring = HostRing.private(RingShape(self.block, len(cls.PARAMS)))
            host = HostServer(ring, cls, self.rate)
            host.start(pid=1)
            self.rings[key] = (ring, host)
        return SlotLink(self.rings[key][0], wait_s=0.0)

    def serve(self) -> None:
        """Every host renders every call offered so far."""
        for _, host in self.rings.values():
            while host.step():
                pass
