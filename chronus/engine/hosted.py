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
stops with its last module. A module made again under the id of one still playing (removed
and fading, or replaced by a commit not yet switched) takes the ring's name; the old one is
served on through its mapping until it is done, and the session log's host lines count the
modules made under an id (`life`), so that an offline render keeps the two apart.

The spare host processes are bounded, whatever dies: one *typed* spare per maker (or per
hosted type outside a maker's group), its types resolved ahead, which a group's next host
is made from (its first, or a respawn: the rings are attached then, in about a millisecond);
the keepers hold no spare of their own. Where hosts are spawned (no warm template to fork
them from) one *blank* host, its imports done, is kept too. So G groups of hosted types of
K makers run G hosts and K spares (+1), forked from the engine's template where it can.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final

from chronus.engine.host_keeper import HostEvent, HostFork, HostKeeper, WarmHost
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


@dataclass(slots=True)
class _Hosted:
    module_id: str
    type_name: str
    ring: HostRing
    group: str
    key: str
    """Its ring's key in the group's keeper: the ring's name, or for a module made again
    under an id (`life` > 0) that name and a number, the old ring being served still."""
    life: int = 0
    """Modules made under this id before this one."""
    close_at: float | None = None
    """When to close it (None: it is replaced by a commit not ended yet)."""
    bypassed: list[int] = field(default_factory=list)
    """Bypassed calls not yet handed on."""
    told_at: float = 0.0
    superseded: bool = False
    """Its ring's name went to a module made again under its id."""


class HostedModules:
    """Every isolated module's ring, and every group's host keeper."""

    def __init__(self, tag: str, rate: int, block: int, fork: HostFork | None = None) -> None:
        self.tag = tag
        self.rate = rate
        self.block = block
        self.fork = fork
        """Forks a host process warm (from the engine's template); without it, or when it
        cannot, a host is spawned and imports everything itself."""
        self._types: dict[str, _Type] = {}
        self._modules: dict[str, _Hosted] = {}
        self._closing: list[_Hosted] = []
        self._groups: dict[str, _Group] = {}
        self._rings: dict[str, _Hosted] = {}
        """Every module with a ring (closing ones too), by its key in its keeper."""
        self._lives: dict[str, int] = {}
        """The life of the module last made under each id (see `life`)."""
        self._made = 0
        """Modules made: a module made again under an id is told apart by its number (its
        life is not enough: a failed commit's module gives its life back)."""
        self._blank: WarmHost | None = None
        """A host process spawned while nothing needs it, its imports done: the next typed
        spare only resolves its types. None where hosts are forked warm (one is forked
        when it is needed, in milliseconds)."""
        self._typed: dict[str, WarmHost] = {}
        """By spare key (`_spare_key`), a host given the types ahead (resolved, a block
        rendered): a group's next host (its first module's, a spare after a start) only
        attaches the rings."""

    def host(
        self, type_name: str, source: TypeSource, params: int, group: str = "", maker: str = ""
    ) -> None:
        """Modules of `type_name` are hosted from now on (`params`: its parameter count),
        all in one host with every other module of host group `group` (its `maker`'s) if
        that is not empty, else each in a host of its own. A spare host is given the type
        at once, so that a module of it made later only waits for a ring to be attached."""
        self._types[type_name] = _Type(source, params, group, maker)
        self._keep_blank()
        typed = self._typed.get(self._spare_key(type_name))
        if typed is not None and typed.alive():
            typed.resolve(source, self.rate, self.block)
        else:
            self._keep_typed(self._spare_key(type_name))

    def _spare_key(self, type_name: str) -> str:
        """Which typed spare a hosted type's modules take: their maker's, or the type's."""
        group = self._types[type_name].group
        return f"maker:{group}" if group else f"type:{type_name}"

    def _keep_blank(self) -> None:
        """Start a blank host if types are hosted, hosts are spawned and there is none
        (never waits)."""
        if self.fork is not None:
            return
        if self._types and (self._blank is None or not self._blank.alive()):
            self._blank = WarmHost()

    def _take_blank(self) -> WarmHost:
        """The blank host (replaced by `tick`); a new one if there is none or it died."""
        blank, self._blank = self._blank, None
        if blank is not None and blank.alive():
            return blank
        return WarmHost(self.fork)

    def _keep_typed(self, key: str) -> None:
        """Give a blank host every hosted type of spare key `key` now (never waits), if
        there is none or it died."""
        kinds = [kind for name, kind in self._types.items() if self._spare_key(name) == key]
        typed = self._typed.get(key)
        if kinds and (typed is None or not typed.alive()):
            typed = self._typed[key] = self._take_blank()
            for kind in kinds:
                typed.resolve(kind.source, self.rate, self.block)

    def _take_typed(self, key: str) -> WarmHost:
        """The host given spare key `key`'s types ahead (replaced by `tick`); a blank one
        if there is none (taken a moment ago, or its host died)."""
        typed = self._typed.pop(key, None)
        if typed is not None and typed.alive():
            return typed
        return self._take_blank()

    def _refill(self) -> None:
        """Replace the spare hosts taken, but not while a host is starting: a new process's
        imports would compete with it for the CPU."""
        if any(group.keeper.launching for group in self._groups.values()):
            return
        self._keep_blank()
        for key in {self._spare_key(name) for name in self._types}:
            if key not in self._typed:
                self._keep_typed(key)

    def unhost(self, type_name: str) -> None:
        """Modules of `type_name` are no longer hosted (its plugin is unloaded)."""
        if type_name not in self._types:
            return
        key = self._spare_key(type_name)
        del self._types[type_name]
        typed = self._typed.pop(key, None)
        if typed is not None:
            typed.kill()
            self._keep_typed(key)  # the key's other types, if any
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
        module without a ring: always bypassed.

        A module made again under the id of one that still plays (removed and fading, or
        replaced by a commit that has not switched yet) takes its ring's name; the old one
        keeps its ring and its host's service until it is closed (`removed`, `committed`)."""
        live = self._modules.pop(module_id, None)
        if live is not None:
            self._closing.append(live)  # until its commit ends
        for old in self._closing:
            if old.module_id == module_id:
                self._supersede(old)
        kind = self._types.get(type_name)
        if kind is None:
            return
        life = self._lives[module_id] = self._lives.get(module_id, -1) + 1
        name = ring_name(self.tag, type_name, zlib.crc32(module_id.encode()))
        try:
            ring = HostRing.create(name, RingShape(self.block, kind.params))
        except OSError as exc:
            log.error("no ring for the isolated module %s: %s", module_id, exc)
            return
        self._join(module_id, type_name, kind, ring, life)

    def _join(
        self, module_id: str, type_name: str, kind: _Type, ring: HostRing, life: int = 0
    ) -> None:
        """Give a module's ring to its group's host (started now if the group has none). A
        module alone in its group made again under its id gets a host of its own: the old
        one's may be dead, or suspended."""
        self._made += 1
        lived = f"#{self._made}" if life else ""
        key = f"maker:{kind.group}" if kind.group else f"module:{module_id}{lived}"
        member = ring.name + lived
        group = self._groups.get(key)
        if group is None:
            blank = partial(self._take_typed, self._spare_key(type_name))
            keeper = HostKeeper(
                ring, kind.source, self.rate, blank=blank, key=member, keep_spare=False
            )
            keeper.start(wait=False)
            group = self._groups[key] = _Group(kind.group or module_id, keeper)
        else:
            group.keeper.add(ring, kind.source, member)
        hosted = _Hosted(module_id, type_name, ring, key, member, life)
        self._modules[module_id] = hosted
        self._rings[member] = hosted

    def _supersede(self, old: _Hosted) -> None:
        """Give up an old module's ring name (to its successor under the same id): its host
        serves on, through the mapping it has, but a later host of its group does not take
        it (it would find the successor's ring by the name)."""
        if not old.superseded:
            old.superseded = True
            group = self._groups.get(old.group)
            if group is not None:
                group.keeper.retire(old.key)
            old.ring.unlink()

    def _members(self, key: str) -> list[str]:
        """The ids of group `key`'s modules (not removed), in the order they came."""
        return [m.module_id for m in self._modules.values() if m.group == key]

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

    def committed(self, crossfade_s: float) -> None:
        """A commit switched: the modules it replaced under their own ids close once its
        crossfade is over."""
        for old in self._closing:
            if old.close_at is None:
                old.close_at = time.monotonic() + CLOSE_AFTER_S + crossfade_s

    def cancelled(self, module_id: str) -> None:
        """A commit's module will not be made after all (the commit failed): its ring
        closes, and a module it replaced under the same id plays on as before. That one's
        ring name is not given back: a slot that joins later finds no ring for it and
        bypasses it, and its group's next host does not serve it (known, left)."""
        new = self._modules.get(module_id)
        self.removed(module_id)
        if new is not None:
            self._lives[module_id] = new.life - 1
        for old in [h for h in self._closing if h.module_id == module_id and h.close_at is None]:
            self._closing.remove(old)
            self._modules[module_id] = old

    def life(self, module_id: str) -> int:
        """How many modules were made under this id before this one (0: the first), as
        the session log's host lines count them."""
        hosted = self._modules.get(module_id)
        return 0 if hosted is None else hosted.life

    def tick(self, flush: bool = False) -> list[tuple[str, HostEvent]]:
        """Poll every keeper (never waiting), close what is due; the host starts since the
        last tick and the bypassed calls since they were last handed on (every
        `LOG_EVERY_S`, or now with `flush`), by module id; and each host's death, once for
        its group (by the group's modules, its `why` a sentence: see `_death`)."""
        events: list[tuple[str, HostEvent]] = []
        now = time.monotonic()
        self._refill()
        for hosted in [h for h in self._closing if h.close_at is not None and h.close_at <= now]:
            self._closing.remove(hosted)
            self._retire(hosted)
            if hosted.bypassed:
                bypass = HostEvent("bypass", bypassed=(*hosted.bypassed,), life=hosted.life)
                events.append((hosted.module_id, bypass))
        for key, group in self._groups.items():
            group.keeper.poll()
            for event in group.keeper.take_events():
                owner = self._rings.get(event.ring)
                if event.kind == "died":
                    events.append(self._death(key, group, event))
                elif owner is None:
                    continue
                elif event.kind == "bypass":
                    owner.bypassed += event.bypassed
                else:
                    events.append((owner.module_id, replace(event, life=owner.life)))
        for hosted in [*self._modules.values(), *self._closing]:
            due = flush or hosted.close_at is not None or now - hosted.told_at >= LOG_EVERY_S
            if hosted.bypassed and due:
                bypass = HostEvent("bypass", bypassed=tuple(hosted.bypassed), life=hosted.life)
                events.append((hosted.module_id, bypass))
                hosted.bypassed, hosted.told_at = [], now
        return events

    def _death(self, key: str, group: _Group, event: HostEvent) -> tuple[str, HostEvent]:
        """A host's death for the players, once for its group: its modules, and `why` made a
        sentence after them, naming their plugins and maker (`r1, e1: their plugin host died
        of signal 9; respawn at once — tap_reverb, tap_echo, maker Tom Szilagyi, host group
        tom_szilagyi`)."""
        modules = [self._modules[m] for m in self._members(key)]
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
                "group_modules": self._members(hosted.group),
                **group.keeper.health(hosted.key),
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
        for spare in [self._blank, *self._typed.values()]:
            if spare is not None:
                spare.kill()
        self._blank = None
        self._typed.clear()
        stopping = [
            threading.Thread(target=group.keeper.close, daemon=True)
            for group in self._groups.values()
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for hosted in [*self._modules.values(), *self._closing]:
            if not hosted.superseded:
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
        self._rings.pop(hosted.key, None)
        group = self._groups.get(hosted.group)
        if group is not None:
            hosted.bypassed += group.keeper.remove(hosted.key)
            if not group.keeper.members:
                del self._groups[hosted.group]
                threading.Thread(target=group.keeper.close, daemon=True).start()
        if not hosted.superseded:
            hosted.ring.unlink()
        hosted.ring.close()
