"""The supervisor's isolated modules: a ring and a `HostKeeper` for each, made and closed with it.

A type is hosted once its plugin is put in use `isolated` (`host`). Then every module of it
that the patch creates gets its ring, named so that the slots find it
(`host_ring.ring_name(tag, type, salt)`, the salt the stable hash of the module id the graph
gives `reseed`), before its `/patch/create` reaches the slots, and a keeper that starts its
host without waiting (the slots bypass the module until the host serves). The serve loop
calls `tick`: the keepers are polled and what they report — host starts, bypassed calls —
is handed on for the session log. A removed module's ring is closed a moment later, once
the slots have faded it out.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Final

from chronus.engine.host_keeper import HostEvent, HostKeeper, WarmHost
from chronus.plugins.host_ring import HostRing, RingShape, ring_name
from chronus.plugins.type_source import TypeSource

__all__ = ["CLOSE_AFTER_S", "HostedModules"]

LOG_EVERY_S: Final = 1.0
"""Bypassed calls are handed on for the session log at most this often per module (a
module whose host is down is bypassed every block: one line a second, not one a tick)."""
CLOSE_AFTER_S: Final = 1.0
"""A removed module's ring and host live this long after its `/patch/remove` was stamped:
past its fade, and past the lead the slots apply commands at."""
log = logging.getLogger("chronus.engine")


@dataclass(slots=True)
class _Hosted:
    module_id: str
    type_name: str
    keeper: HostKeeper
    close_at: float | None = None
    bypassed: list[int] = field(default_factory=list)
    """Bypassed calls not yet handed on."""
    told_at: float = 0.0


class HostedModules:
    """Every isolated module's ring and keeper, by module id."""

    def __init__(self, tag: str, rate: int, block: int) -> None:
        self.tag = tag
        self.rate = rate
        self.block = block
        self._types: dict[str, tuple[TypeSource, int]] = {}
        self._modules: dict[str, _Hosted] = {}
        self._closing: list[_Hosted] = []
        self._blank: WarmHost | None = None
        """A host process started while nothing needs it, its imports done: the next host
        (a module created, a spare after a respawn) only resolves its type and its ring."""

    def host(self, type_name: str, source: TypeSource, params: int) -> None:
        """Modules of `type_name` are hosted from now on (`params`: its parameter count)."""
        self._types[type_name] = (source, params)
        self._keep_blank()

    def _keep_blank(self) -> None:
        """Start a blank host if types are hosted and there is none (never waits)."""
        if self._types and (self._blank is None or not self._blank.alive()):
            self._blank = WarmHost()

    def _take_blank(self) -> WarmHost:
        """The blank host, replaced by a new one; a new one if it died."""
        blank, self._blank = self._blank, None
        self._keep_blank()
        if blank is not None and blank.alive():
            return blank
        return WarmHost()

    def unhost(self, type_name: str) -> None:
        """Modules of `type_name` are no longer hosted (its plugin is unloaded)."""
        self._types.pop(type_name, None)
        if not self._types and self._blank is not None:
            self._blank.kill()
            self._blank = None

    def hosting(self, type_name: str) -> str:
        """`isolated` if modules of the type are hosted, else `inline`."""
        return "isolated" if type_name in self._types else "inline"

    def created(self, module_id: str, type_name: str) -> None:
        """A module is about to be created in the slots: make its ring and start its host.
        A failure is logged and leaves the module without a ring: always bypassed."""
        if module_id in self._modules:
            self._retire(self._modules.pop(module_id))  # re-created: its old ring goes now
        for old in [h for h in self._closing if h.module_id == module_id]:
            self._closing.remove(old)
            self._retire(old)
        kind = self._types.get(type_name)
        if kind is None:
            return
        source, params = kind
        name = ring_name(self.tag, type_name, zlib.crc32(module_id.encode()))
        try:
            ring = HostRing.create(name, RingShape(self.block, params))
        except OSError as exc:
            log.error("no ring for the isolated module %s: %s", module_id, exc)
            return
        keeper = HostKeeper(ring, source, self.rate, blank=self._take_blank)
        keeper.start(wait=False)
        self._modules[module_id] = _Hosted(module_id, type_name, keeper)

    def removed(self, module_id: str) -> None:
        """A module's removal was stamped: close its ring once the slots are done with it."""
        hosted = self._modules.pop(module_id, None)
        if hosted is not None:
            hosted.close_at = time.monotonic() + CLOSE_AFTER_S
            self._closing.append(hosted)

    def tick(self, flush: bool = False) -> list[tuple[str, HostEvent]]:
        """Poll every keeper (never waiting), close what is due; the host starts since the
        last tick and the bypassed calls since they were last handed on (every
        `LOG_EVERY_S`, or now with `flush`), by module id."""
        events: list[tuple[str, HostEvent]] = []
        now = time.monotonic()
        self._keep_blank()
        for hosted in [*self._modules.values(), *self._closing]:
            hosted.keeper.poll()
            for event in hosted.keeper.take_events():
                if event.kind == "bypass":
                    hosted.bypassed += event.bypassed
                else:
                    events.append((hosted.module_id, event))
            due = flush or hosted.close_at is not None or now - hosted.told_at >= LOG_EVERY_S
            if hosted.bypassed and due:
                events.append(
                    (hosted.module_id, HostEvent("bypass", bypassed=tuple(hosted.bypassed)))
                )
                hosted.bypassed, hosted.told_at = [], now
        for hosted in [h for h in self._closing if h.close_at is not None and h.close_at <= now]:
            self._closing.remove(hosted)
            self._retire(hosted)
        return events

    def health(self, type_name: str = "") -> dict[str, dict[str, Any]]:
        """Each hosted module's health (of `type_name`'s only, if given), by module id."""
        return {
            module_id: hosted.keeper.health()
            for module_id, hosted in self._modules.items()
            if not type_name or hosted.type_name == type_name
        }

    def keeper(self, module_id: str) -> HostKeeper | None:
        """The keeper of a hosted module, if it is one."""
        hosted = self._modules.get(module_id)
        return None if hosted is None else hosted.keeper

    def close(self) -> None:
        """Stop every host and free every ring (the engine stops). The keepers stop at
        once, each in a thread: a host asked to stop may take a beat to answer, and one
        after the other, four modules' hosts and spares held an engine's quit up past the
        10 s a client waits before it kills the engine."""
        if self._blank is not None:
            self._blank.kill()
            self._blank = None
        stopping = []
        for hosted in [*self._modules.values(), *self._closing]:
            hosted.keeper.ring.unlink()
            stopping.append(threading.Thread(target=self._stop, args=(hosted,), daemon=True))
            stopping[-1].start()
        for thread in stopping:
            thread.join()
        self._modules.clear()
        self._closing.clear()

    @classmethod
    def _retire(cls, hosted: _Hosted) -> None:
        """Free the ring's name now (a module made again under the same id makes it anew),
        and stop its host in a thread: a host asked to stop answers within a beat, which is
        not the serve loop's to wait."""
        hosted.keeper.ring.unlink()
        threading.Thread(target=cls._stop, args=(hosted,), daemon=True).start()

    @staticmethod
    def _stop(hosted: _Hosted) -> None:
        keeper = hosted.keeper
        keeper.close()
        keeper.ring.close()
