"""Getting plugin code into every slot worker, off the render path.

The supervisor names the plugin versions every worker must hold (`want`). The process
template imports each too, so that every worker forked later has it from birth. A worker
imports and warms one when it has nothing to render for: the spare while it waits for a
seat, the standby between its blocks (its lateness costs no sound: the device plays the
active), and the standby only once the template or the spare has imported it without harm
(a forced faulty module's import then costs a spare, not a slot). The active never imports:
when it is the only one left without the code, the two seats swap roles — both hold the
same samples, so the device does not hear it — and the new standby imports in its turn. A
version is `held` once both seats' workers, the spare and the template (while it lives)
have it; only then may a stamped `/plugins/use` put it in use. A reload's new version need
not reach the active: the standby swaps it in by a commit, and the old active is then
replaced by a worker that has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chronus.dsp.params import ParamSpec
from chronus.engine.launcher import Template
from chronus.engine.rings import SharedCounters
from chronus.engine.seats import Seat, SeatState, Worker
from chronus.engine.stats import ControlField

__all__ = ["Code", "PluginFeed"]

log = logging.getLogger("chronus.engine")

Key = tuple[str, str]


class Holder(Protocol):
    """A process that imports plugin code: a worker, or the template."""

    plugins: set[Key]
    plugins_asked: set[Key]


@dataclass(frozen=True, slots=True)
class Code:
    """What a worker that imported a plugin version said of it."""

    params: tuple[ParamSpec, ...]
    processor: bool
    warnings: str = ""
    host_group: str = ""
    """The host its isolated modules share (a native plugin's maker, as a slug); "": each
    its own."""
    maker: str = ""


class PluginFeed:
    """The plugin versions every worker must hold, and who holds which."""

    def __init__(self, control: SharedCounters, event: Callable[[str], None]) -> None:
        self._control = control.values
        self._event = event
        self.wanted: dict[Key, str] = {}
        """(name, version) → the store's copy, for every version the workers must hold."""
        self.code: dict[Key, Code] = {}
        """What the first worker to import each version found: its parameters, its kind."""
        self.failed: dict[Key, str] = {}
        """Versions a worker could not import (or died importing), and why."""
        self.standby_only: set[Key] = set()
        """Wanted versions the active need not import (see `want`)."""
        self.cold: set[Key] = set()
        """Wanted versions imported without a warm-up render (see `want`)."""
        self.swaps = 0
        """Times the seats swapped roles so that the active need not import."""

    def want(
        self, name: str, version: str, path: str, active_too: bool = True, warm: bool = True
    ) -> None:
        """Every worker is to hold this version; but for the active one if not `active_too`
        (a reload's new version: the active is replaced once the standby has swapped it in,
        by a worker that has it). Without `warm`, the workers import it without rendering
        it (a forced module: its faults are for the slots' guards to meet, in a block)."""
        self.failed.pop((name, version), None)
        self.wanted[name, version] = path
        if not warm:
            self.cold.add((name, version))
        if active_too:
            self.standby_only.discard((name, version))
        else:
            self.standby_only.add((name, version))

    def drop(self, name: str, version: str) -> None:
        """Workers need not get this version any more (those that have it keep it)."""
        self.wanted.pop((name, version), None)
        self.standby_only.discard((name, version))
        self.cold.discard((name, version))

    def held(self, key: Key, workers: Iterable[Holder | None]) -> bool:
        """Whether every one of `workers` is there and holds `key`."""
        return all(worker is not None and key in worker.plugins for worker in workers)

    def answered(self, worker: Holder, message: tuple[Any, ...]) -> None:
        """A worker's reply to a version it was sent."""
        _, name, version, ok, detail, params, processor, *native = message
        key = (str(name), str(version))
        worker.plugins_asked.discard(key)
        if not ok:
            self.failed[key] = str(detail)
            self.wanted.pop(key, None)
            self._event(f"an engine process could not import plugin {name}: {detail}")
            return
        worker.plugins.add(key)
        group, maker = (str(native[0]), str(native[1])) if len(native) == 2 else ("", "")
        self.code.setdefault(key, Code(tuple(params), bool(processor), str(detail), group, maker))

    def died(self, worker: Holder) -> None:
        """A worker ended: a version it was importing is to blame (it took the worker down)."""
        for key in worker.plugins_asked:
            if key in self.wanted:
                self.failed[key] = "an engine process died while importing it"
                self.wanted.pop(key, None)
                self._event(f"plugin {key[0]}: a worker died importing it")
        worker.plugins_asked.clear()

    def feed(
        self,
        seats: tuple[Seat, Seat],
        active: Seat,
        spare: Worker | None,
        template: Template | None,
    ) -> None:
        """Send each idle worker (and the template) the versions it lacks; swap roles if only
        the active lacks one."""
        free = template is not None and template.poll()  # reads an answer that came
        if template is not None:
            for answer in template.answers:
                self.answered(template, answer)
            template.answers.clear()
            if template.state == "dead":
                self.died(template)
        if not self.wanted:
            return
        if template is not None and free:
            missing = [key for key in self.wanted if key not in template.plugins]
            if missing:
                key = missing[0]
                template.import_plugin(*key, self.wanted[key], key not in self.cold)
        standby = seats[1 - active.index]
        sent = False
        if spare is not None and spare.warm:
            sent |= self._send(spare)
        running = all(seat.state is SeatState.RUNNING and seat.worker for seat in seats)
        apart = bool(self._control[ControlField.APART])
        if running and not apart and standby.worker is not None:
            sent |= self._send(standby.worker, proven=True)
            lacking = active.worker is not None and self.lacks(active.worker, everywhere=True)
            if lacking and not self.lacks(standby.worker) and not standby.worker.plugins_asked:
                self._control[ControlField.ACTIVE] = standby.index
                self.swaps += 1
                self._event(
                    f"slot {standby.name} made active so that slot {active.name} can import "
                    "plugin code"
                )
        if sent:
            self._control[ControlField.PLUGINS] += 1

    def abandon(self, key: Key, workers: Iterable[Worker], template: Template | None) -> None:
        """Give up on a version that is taking too long: whoever still imports it is stuck
        in it (an endless loop at import) and is killed; the keeper replaces them."""
        self.wanted.pop(key, None)
        self.failed[key] = "an engine process did not finish importing it"
        for worker in workers:
            if key in worker.plugins_asked:
                worker.kill()
        if template is not None and key in template.plugins_asked:
            template.process.kill()

    def lacks(self, worker: Holder, everywhere: bool = False) -> bool:
        """Whether `worker` has yet to import a version it must hold (with `everywhere`,
        one that the active must hold too)."""
        return any(
            key not in worker.plugins
            for key in self.wanted
            if not (everywhere and key in self.standby_only)
        )

    def _send(self, worker: Worker, proven: bool = False) -> bool:
        """Send `worker` what it lacks; with `proven`, only versions another process has
        imported already (a slot is not the first to run a forced module's import)."""
        sent = False
        for key, path in self.wanted.items():
            if key in worker.plugins or key in worker.plugins_asked or worker.killed:
                continue
            if proven and key not in self.code:
                continue
            try:
                worker.conn.send(("plugin", key[0], key[1], path, key not in self.cold))
            except OSError:
                return sent
            worker.plugins_asked.add(key)
            sent = True
        return sent
