"""The supervisor's isolated modules: a ring for each, a host (and its `HostKeeper`) for each
group of them, made and closed with them.

A type is hosted once its plugin is put in use `isolated` (`host`). Then every module of it
that the patch creates gets its ring, named so that the slots find it
(`host_ring.ring_name(tag, type, salt)`, the salt the stable hash of the module id the graph
gives `reseed`), before its `/patch/create` reaches the slots, and joins its group's host.
The group of a type with a `host_group` (a native plugin: its maker) is shared by every
module of every such type: one host process serves all their rings. Any other module (a user
module, a built-in forced isolated) is a group of its own. The first module of a group gets
a keeper that starts its host without waiting (the slots bypass the module until the host
serves); the next ones are attached to the running host, the others playing on. The serve
loop calls `tick`: the keepers are polled and what they report — host starts, bypassed calls,
deaths — is handed on for the session log and the players. A removed module's ring is
detached and closed a moment later, once the slots have faded it out, and a group's host
stops with its last module.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Final

from chronus.engine.host_keeper import HostEvent, HostKeeper, WarmHost
from chronus.plugins.host_ring import H, HostRing, RingShape, ring_name
from chronus.plugins.type_source import TypeSource

__all__ = ["CLOSE_AFTER_S", "HostedModules"]

LOG_EVERY_S: Final = 1.0
"""Bypassed calls are handed on for the session log at most this often per module (a
module whose host is down is bypassed every block: one line a second, not one a tick)."""
CLOSE_AFTER_S: Final = 1.0
"""A removed module's ring lives this long after its `/patch/remove` was stamped: past its
fade, and past the lead the slots apply commands at."""
log = logging.getLogger("chronus.engine")


@dataclass(frozen=True, slots=True)
class _Type:
    source: TypeSource
    params: int
    group: str
    """The host group of its modules (its maker, for a native plugin); "": one host each."""
    maker: str


@dataclass(slots=True)
class _Group:
    name: str
    keeper: HostKeeper
    modules: list[str] = field(default_factory=list)
    """Its modules (not yet removed), in the order they came."""


@dataclass(slots=True)
class _Hosted:
    module_id: str
    type_name: str
    ring: HostRing
    group: str
    close_at: float | None = None
    bypassed: list[int] = field(default_factory=list)
    """Bypassed calls not yet handed on."""
    told_at: float = 0.0


class HostedModules:
    """Every isolated module's ring, and every group's host keeper."""

    def __init__(self, tag: str, rate: int, block: int) -> None:
        self.tag = tag
        self.rate = rate
        self.block = block
        self._types: dict[str, _Type] = {}
        self._modules: dict[str, _Hosted] = {}
        self._closing: list[_Hosted] = []
        self._groups: dict[str, _Group] = {}
        self._rings: dict[str, _Hosted] = {}
        """Every module with a ring (closing ones too), by ring name."""
        self._blank: WarmHost | None = None
        """A host process started while nothing needs it, its imports done: the next host
        (a group's first module, a spare after a respawn) only resolves its types and rings."""

    def host(
        self, type_name: str, source: TypeSource, params: int, group: str = "", maker: str = ""
    ) -> None:
        """Modules of `type_name` are hosted from now on (`params`: its parameter count),
        all in one host with every other module of host group `group` (its `maker`'s) if
        that is not empty, else each in a host of its own."""
        self._types[type_name] = _Type(source, params, group, maker)
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

    def type_info(self, type_name: str) -> dict[str, str]:
        """A hosted type's maker and host group (empty for a type that is not hosted, or
        hosted one module a host)."""
        kind = self._types.get(type_name)
        if kind is None or not kind.group:
            return {}
        return {"maker": kind.maker, "host_group": kind.group}

    def created(self, module_id: str, type_name: str) -> None:
        """A module is about to be created in the slots: make its ring and give it to its
        group's host (started now if the group has none). A failure is logged and leaves the
        module without a ring: always bypassed."""
        if module_id in self._modules:
            self._retire(self._modules.pop(module_id))  # re-created: its old ring goes now
        for old in [h for h in self._closing if h.module_id == module_id]:
            self._closing.remove(old)
            self._retire(old)
        kind = self._types.get(type_name)
        if kind is None:
            return
        name = ring_name(self.tag, type_name, zlib.crc32(module_id.encode()))
        try:
            ring = HostRing.create(name, RingShape(self.block, kind.params))
        except OSError as exc:
            log.error("no ring for the isolated module %s: %s", module_id, exc)
            return
        self._join(module_id, type_name, kind, ring)

    def _join(self, module_id: str, type_name: str, kind: _Type, ring: HostRing) -> None:
        """Give a module's ring to its group's host (started now if the group has none)."""
        key = f"maker:{kind.group}" if kind.group else f"module:{module_id}"
        group = self._groups.get(key)
        if group is None:
            keeper = HostKeeper(ring, kind.source, self.rate, blank=self._take_blank)
            keeper.start(wait=False)
            group = self._groups[key] = _Group(kind.group or module_id, keeper)
        else:
            group.keeper.add(ring, kind.source)
        group.modules.append(module_id)
        hosted = _Hosted(module_id, type_name, ring, key)
        self._modules[module_id] = hosted
        self._rings[ring.name] = hosted

    def adopt(self, module_id: str, type_name: str, ring: str) -> bool:
        """Take over an isolated module whose host died with the supervisor before this one:
        attach to the ring the slots still use and start a host on it as a respawn does (a
        fresh instance from the next call; the slots bypass the module until it serves).
        This supervisor unlinks the ring when the module goes. False (logged) if the ring is
        gone or the module's type is not hosted here."""
        kind = self._types.get(type_name)
        if kind is None:
            log.error("isolated module %s: its type %s is not hosted here", module_id, type_name)
            return False
        try:
            attached = HostRing.attach(ring)
        except (OSError, ValueError) as exc:
            log.error("the isolated module %s: its ring %s is gone: %s", module_id, ring, exc)
            return False
        attached.header[H.HOST_PID] = 0  # its host is dead: the slots stop waiting for it
        self._join(module_id, type_name, kind, attached)
        return True

    def removed(self, module_id: str) -> None:
        """A module's removal was stamped: detach and close its ring once the slots are done
        with it."""
        hosted = self._modules.pop(module_id, None)
        if hosted is not None:
            hosted.close_at = time.monotonic() + CLOSE_AFTER_S
            self._closing.append(hosted)
            group = self._groups.get(hosted.group)
            if group is not None and module_id in group.modules:
                group.modules.remove(module_id)

    def tick(self, flush: bool = False) -> list[tuple[str, HostEvent]]:
        """Poll every keeper (never waiting), close what is due; the host starts since the
        last tick and the bypassed calls since they were last handed on (every
        `LOG_EVERY_S`, or now with `flush`), by module id; and each host's death, once for
        its group (by the group's modules, its `why` a sentence: see `_death`)."""
        events: list[tuple[str, HostEvent]] = []
        now = time.monotonic()
        self._keep_blank()
        for hosted in [h for h in self._closing if h.close_at is not None and h.close_at <= now]:
            self._closing.remove(hosted)
            self._retire(hosted)
            if hosted.bypassed:
                events.append((hosted.module_id, HostEvent("bypass", bypassed=(*hosted.bypassed,))))
        for group in self._groups.values():
            group.keeper.poll()
            for event in group.keeper.take_events():
                owner = self._rings.get(event.ring)
                if event.kind == "died":
                    events.append(self._death(group, event))
                elif owner is None:
                    continue
                elif event.kind == "bypass":
                    owner.bypassed += event.bypassed
                else:
                    events.append((owner.module_id, event))
        for hosted in [*self._modules.values(), *self._closing]:
            due = flush or hosted.close_at is not None or now - hosted.told_at >= LOG_EVERY_S
            if hosted.bypassed and due:
                events.append(
                    (hosted.module_id, HostEvent("bypass", bypassed=tuple(hosted.bypassed)))
                )
                hosted.bypassed, hosted.told_at = [], now
        return events

    def _death(self, group: _Group, event: HostEvent) -> tuple[str, HostEvent]:
        """A host's death for the players, once for its group: its modules, and `why` made a
        sentence after them, naming their plugins and maker (`r1, e1: their plugin host died
        of signal 9; respawn at once — tap_reverb, tap_echo, maker Tom Szilagyi, host group
        tom_szilagyi`)."""
        modules = [self._modules[m] for m in group.modules if m in self._modules]
        whose = "its" if len(modules) <= 1 else "their"
        why = f"{whose} plugin host {event.why}"
        kind = self._types.get(modules[0].type_name) if modules else None
        if kind is not None and kind.group:
            plugins = ", ".join(sorted({m.type_name for m in modules}))
            why += f" — {plugins}, maker {kind.maker}, host group {kind.group}"
        subject = ", ".join(m.module_id for m in modules) or group.name
        return subject, HostEvent("died", why=why)

    def health(self, type_name: str = "") -> dict[str, dict[str, Any]]:
        """Each hosted module's health (of `type_name`'s only, if given), by module id: its
        plugin, maker and host group, how many modules its host serves, then its keeper's."""
        out: dict[str, dict[str, Any]] = {}
        for module_id, hosted in self._modules.items():
            if type_name and hosted.type_name != type_name:
                continue
            group = self._groups.get(hosted.group)
            if group is None:
                continue
            kind = self._types.get(hosted.type_name)
            out[module_id] = {
                "plugin": hosted.type_name,
                "maker": "" if kind is None else kind.maker,
                "host_group": group.name,
                "group_modules": list(group.modules),
                **group.keeper.health(hosted.ring.name),
            }
        return out

    def keeper(self, module_id: str) -> HostKeeper | None:
        """The keeper of a hosted module's group, if it is one."""
        hosted = self._modules.get(module_id)
        group = None if hosted is None else self._groups.get(hosted.group)
        return None if group is None else group.keeper

    def close(self) -> None:
        """Stop every host and free every ring (the engine stops). The keepers stop at
        once, each in a thread: a host asked to stop may take a beat to answer, and one
        after the other, four modules' hosts and spares held an engine's quit up past the
        10 s a client waits before it kills the engine."""
        if self._blank is not None:
            self._blank.kill()
            self._blank = None
        stopping = [
            threading.Thread(target=group.keeper.close, daemon=True)
            for group in self._groups.values()
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for hosted in [*self._modules.values(), *self._closing]:
            hosted.ring.unlink()
            hosted.ring.close()
        self._groups.clear()
        self._modules.clear()
        self._closing.clear()
        self._rings.clear()

    def _retire(self, hosted: _Hosted) -> None:
        """Detach the module's ring from its group's host and free its name (a module made
        again under the same id makes it anew); the bypassed calls it had not handed on go
        into `hosted.bypassed`. A group left empty stops its host, in a thread: a host asked
        to stop answers within a beat, which is not the serve loop's to wait."""
        name = hosted.ring.name
        self._rings.pop(name, None)
        group = self._groups.get(hosted.group)
        if group is not None:
            hosted.bypassed += group.keeper.remove(name)
            if hosted.module_id in group.modules:
                group.modules.remove(hosted.module_id)
            if not group.keeper.members:
                del self._groups[hosted.group]
                threading.Thread(target=group.keeper.close, daemon=True).start()
        hosted.ring.unlink()
        hosted.ring.close()
