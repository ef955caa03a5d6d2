"""The supervisor's side of `/plugins/load`, `/plugins/reload` and `/plugins/unload`.

A load names a file (or a module in the configured folders) and where its code runs:
`isolated` (a plugin host process per module; the default, `DEFAULT_HOSTING`) or `inline`
(in the slots; built-in types always are). Its bytes go into the store and
that copy is validated in the sandbox pool, in the pool's thread (the serve loop never
waits), unless the request is forced — a flag for tests of faulty modules, never for music.
A valid version is then imported by every slot worker off the render path (`plugin_feed`);
once all hold it, `/plugins/use` is stamped into both slots (and the session log), the
supervisor's patch learns the type's parameters, and the plugin is `active`.

A reload validates the file's new version while the old one plays, has the workers import
it, then swaps it in through the commit flow: the standby replaces every module of the type
(keeping parameters, and state when it fits), renders it warm, is tested, and the audio I/O
crossfades to it; a failure anywhere keeps the old version playing and says why. An unload
removes the type's modules (with their fades) and then forgets the type.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from chronus.dsp.specs import BUILT_IN_TYPES, declare, undeclare
from chronus.engine.commit import DEFAULT_CROSSFADE_MS, CommitError, CommitFlow, CommitResult
from chronus.engine.keeper import SlotKeeper
from chronus.plugins.ladspa.reference import split_reference
from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult
from chronus.plugins.store import PluginStore, ResolveError, StoredPlugin, resolve
from chronus.plugins.type_source import TypeSource
from chronus.protocol import Message, validate

__all__ = ["DEFAULT_HOSTING", "IMPORT_TIMEOUT_S", "PluginLoads", "Validator", "source_of"]

DEFAULT_HOSTING = "isolated"
"""Where a user module runs when its load does not say: in a plugin host of its own, so that
code the engine did not write cannot take a slot down (`inline` puts it in the slots)."""

IMPORT_TIMEOUT_S = 60.0
"""How long the workers may take to import a version (numba may compile it first)."""
FORGET_AFTER_S = 0.2
"""An unloaded type is forgotten this long after its modules were removed: after their fades
(30 ms), so that a slot that copies another meanwhile can still make the fading ones."""
log = logging.getLogger("chronus.engine")

_S = PluginState


class Validator(Protocol):
    """What the sandbox pool offers: validate a file, call `done` from a thread of its own."""

    def submit(self, path: str, name: str, done: Callable[[ValidationResult], None]) -> None:
        """Validate `path` as plugin `name`; `done(result)` when finished."""


@dataclass
class _Job:
    kind: str
    """`load` or `reload`."""
    force: bool
    """Skip validation (and the workers' warm-up render): for tests of faulty modules."""
    stored: StoredPlugin
    addr: Any
    phase: str = "validating"
    """`validating`, `importing` or `committing`."""
    since: float = 0.0
    was: PluginState | None = None
    """The plugin's state when a reload began."""
    hosting: str = "inline"
    """`inline` (in the slots) or `isolated` (a host process per module)."""


class PluginLoads:
    """Loads, reloads and unloads in flight, driven by OSC requests and the serve loop."""

    def __init__(
        self,
        registry: PluginRegistry,
        store: PluginStore,
        folders: Sequence[Path],
        keeper: SlotKeeper,
        commits: CommitFlow,
        validator: Validator | None,
        engine: Any,
    ) -> None:
        self.registry = registry
        self.store = store
        self.folders = list(folders)
        self._keeper = keeper
        self._commits = commits
        self._validator = validator
        self._engine = engine
        """The supervisor: `_play`, `_reply`, `_error`, `remove_module`, `patch`."""
        self._jobs: dict[str, _Job] = {}
        self._results: queue.SimpleQueue[tuple[str, str, ValidationResult]] = queue.SimpleQueue()
        self._forgets: list[tuple[str, float, Any]] = []

    @property
    def busy(self) -> bool:
        """Whether anything is in flight (a test waits for this to end)."""
        return bool(self._jobs or self._forgets)

    def in_use(self) -> dict[str, str]:
        """Plugins the slots use, name → version (for `/engine/dump`)."""
        return {name: code[0] for name, code in self._keeper.in_use.items()}

    def types(self) -> dict[str, dict[str, Any]]:
        """The module types of the plugins in use, as `specs.declare_dumped` reads them:
        whether a processor, and every parameter (for `/engine/dump`)."""
        out: dict[str, dict[str, Any]] = {}
        for name, (version, _) in self._keeper.in_use.items():
            code = self._keeper.plugins.code.get((name, version))
            if code is not None:
                params = [asdict(spec) for spec in code.params]
                out[name] = {"processor": code.processor, "params": params}
        return out

    # -- requests -----------------------------------------------------------------------

    def request(self, message: Message, addr: Any) -> None:
        """Act on `/plugins/load`, `/plugins/reload` or `/plugins/unload`."""
        try:
            if message.address == "/plugins/load":
                self._load(message, addr)
            elif message.address == "/plugins/reload":
                self._reload(message, addr)
            else:
                self._unload(str(message.args[0]), addr)
        except (ResolveError, OSError, ValueError) as exc:
            self._engine._error(addr, message.address, str(exc))

    def _load(self, message: Message, addr: Any) -> None:
        args = message.args
        spec, name = str(args[0]), str(args[1]) if len(args) > 1 else ""
        force = len(args) > 2 and int(args[2]) == 1
        hosting = str(args[3]) if len(args) > 3 and args[3] else DEFAULT_HOSTING
        if hosting not in ("inline", "isolated"):
            raise ValueError(f"hosting must be inline or isolated, not {hosting!r}")
        path, name = resolve(spec, self.folders, name)
        if split_reference(str(path)) is not None:
            if len(args) > 3 and hosting == "inline":
                raise ValueError(
                    f"{name} is a native (LADSPA) plugin: it plays only isolated, in a plugin "
                    "host of its own, never inside the slots"
                )
            hosting = "isolated"
        if name in BUILT_IN_TYPES:
            raise ValueError(f"{name} is a built-in module type: name the plugin otherwise")
        state = self.registry.state(name)
        self._check_idle(name)
        if state in (_S.ACTIVE, _S.SUSPENDED, _S.QUARANTINED, _S.READY, _S.VALIDATING):
            raise ValueError(f"plugin {name} is loaded ({state}): reload it instead")
        stored = self.store.put(path, name)
        self.registry.discover(name, str(path), "named", f"/plugins/load {spec}")
        self._begin(_Job("load", force, stored, addr, hosting=hosting))

    def _reload(self, message: Message, addr: Any) -> None:
        name = str(message.args[0])
        force = len(message.args) > 1 and int(message.args[1]) == 1
        state = self.registry.state(name)
        if state is None:
            raise ValueError(f"no plugin {name} is known: load it first")
        self._check_idle(name)
        if self._keeper.hosting.get(name) == "isolated":
            raise ValueError(
                f"{name} runs isolated: its hosts cannot take a new version yet; unload it "
                f"and load it again (a module loaded `inline` reloads in place: load module "
                f"{name} inline)"
            )
        health = self.registry.health(name)
        stored = self.store.put(Path(health["path"]), name)
        if state is _S.ACTIVE and not force and stored.version == health["version"]:
            self._engine._reply(
                addr, "/warning", message.address,
                f"{name}: its file has not changed since version {stored.version} was loaded",
            )  # fmt: skip
            self._engine._reply(addr, "/plugins/loaded", name, stored.version, "active")
            return
        if state is _S.ACTIVE:
            self.registry.set_pending(name, stored.version)
        self._begin(_Job("reload", force, stored, addr, was=state))

    def _check_idle(self, name: str) -> None:
        """`ValueError` if a load, reload or unload of `name` is under way."""
        if name in self._jobs:
            raise ValueError(f"plugin {name} is being loaded: wait for its reply")
        if any(forget[0] == name for forget in self._forgets):
            raise ValueError(f"plugin {name} is being unloaded: wait for its reply")

    def _begin(self, job: _Job) -> None:
        name = job.stored.name
        self._jobs[name] = job
        job.since = time.monotonic()
        playing = job.was is _S.ACTIVE
        if job.force:
            if not playing:
                self.registry.transition(name, _S.VALIDATING, "forced", "validation skipped")
                self.registry.transition(name, _S.READY, "forced", "validation skipped")
                self.registry.set_version(name, job.stored.version)
            self._import(job)
            return
        if not playing:
            self.registry.transition(name, _S.VALIDATING, "validation")
        if self._validator is None:
            self._fail(job, "internal", "no sandbox pool to validate it in")
            return
        version = job.stored.version

        def done(result: ValidationResult) -> None:  # in the pool's thread
            self._results.put((name, version, result))

        self._validator.submit(job.stored.path, name, done)

    def _unload(self, name: str, addr: Any) -> None:
        state = self.registry.state(name)
        if state is None or state is _S.UNLOADED:
            raise ValueError(f"no plugin {name} is loaded")
        self._check_idle(name)
        engine = self._engine
        for module_id, entry in list(engine.patch.modules.items()):
            if entry["type"] == name:
                engine.remove_module(module_id)
        undeclare(name)
        if engine.hosted is not None:
            engine.hosted.unhost(name)
        self._keeper.hosting.pop(name, None)
        for key in [key for key in self._keeper.plugins.wanted if key[0] == name]:
            self._keeper.plugins.drop(*key)
        self.registry.transition(name, _S.UNLOADED, "unloaded", "/plugins/unload")
        if name in self._keeper.in_use:
            self._forgets.append((name, time.monotonic() + FORGET_AFTER_S, addr))
        else:
            engine._reply(addr, "/plugins/unloaded", name)

    # -- progress -----------------------------------------------------------------------

    def tick(self) -> None:
        """Take validation results, see which imports are done, forget unloaded types."""
        while not self._results.empty():
            name, version, result = self._results.get()
            job = self._jobs.get(name)
            if job is not None and job.stored.version == version and job.phase == "validating":
                self._validated(job, result)
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if job.phase == "importing":
                self._importing(job, now)
        while self._forgets and self._forgets[0][1] <= now:
            name, _, addr = self._forgets.pop(0)
            self._keeper.in_use.pop(name, None)
            self._engine._play(validate("/plugins/forget", (name,)))
            self._engine._reply(addr, "/plugins/unloaded", name)

    def _validated(self, job: _Job, result: ValidationResult) -> None:
        name = job.stored.name
        playing = job.was is _S.ACTIVE
        self.registry.set_validation(
            name, result, self.registry.health(name)["version"] if playing else job.stored.version
        )
        if not result.ok:
            self._fail(job, result.error_type, result.error_message)
            return
        if not playing:
            self.registry.transition(name, _S.READY, "validated", f"{result.duration:.3f} s")
        self._import(job)

    def _import(self, job: _Job) -> None:
        job.phase = "importing"
        job.since = time.monotonic()
        stored = job.stored
        swapped_in = stored.name in self._keeper.in_use  # by a commit: the active is replaced
        self._keeper.plugins.want(
            stored.name, stored.version, stored.path, not swapped_in, warm=not job.force
        )

    def _importing(self, job: _Job, now: float) -> None:
        stored = job.stored
        key = (stored.name, stored.version)
        failed = self._keeper.plugins.failed.get(key)
        if failed is not None:
            self._fail(job, "import_failed", failed)
            return
        if now - job.since > IMPORT_TIMEOUT_S:
            self._keeper.abandon_plugin(*key)
            self._fail(job, "timeout", "the engine's processes did not import it in time")
            return
        if not self._keeper.holds(*key):
            return
        use = validate("/plugins/use", (stored.name, stored.version, stored.path, job.hosting))
        if stored.name not in self._keeper.in_use:
            self._engine._play(use)
            self._activate(job)
            return
        try:
            self._commits.commit_now([use], DEFAULT_CROSSFADE_MS, job.addr)
        except CommitError:
            return  # another commit is in flight, or a slot is being replaced: next tick
        job.phase = "committing"

    def committed(self, result: CommitResult) -> bool:
        """A commit ended; True if it was a reload's (then this took care of it)."""
        uses = [m for m in result.messages if m.address == "/plugins/use"]
        job = next(
            (j for j in self._jobs.values() if j.phase == "committing" and j.addr == result.addr),
            None,
        )
        if job is None or (result.ok and not uses):
            return False
        if not result.ok:
            self._keeper.plugins.drop(job.stored.name, job.stored.version)
            self._fail(job, "commit_failed", result.text)
            return True
        self._activate(job)
        return True

    def _activate(self, job: _Job) -> None:
        stored = job.stored
        name = stored.name
        del self._jobs[name]
        old = self._keeper.in_use.get(name)
        self._keeper.in_use[name] = (stored.version, stored.path)
        self._keeper.plugins.want(name, stored.version, stored.path)  # now everywhere
        if old is not None and old[0] != stored.version:
            self._keeper.plugins.drop(name, old[0])
        code = self._keeper.plugins.code[(name, stored.version)]
        declare(name, code.params, code.processor)
        self._keeper.hosting[name] = job.hosting
        self.registry.set_runs_in(name, job.hosting)
        if job.hosting == "isolated" and self._engine.hosted is not None:
            self._engine.hosted.host(
                name, source_of(stored), len(code.params), code.host_group, code.maker
            )
        if self.registry.state(name) is _S.ACTIVE:
            self.registry.swapped(name, stored.version, "reloaded", "swapped in by a commit")
        else:
            self.registry.transition(name, _S.ACTIVE, job.kind + "ed", code.warnings)
        self._engine._reply(job.addr, "/plugins/loaded", name, stored.version, "active")

    def _fail(self, job: _Job, error_type: str, why: str) -> None:
        name = job.stored.name
        del self._jobs[name]
        address = f"/plugins/{job.kind}"
        if self.registry.state(name) is _S.ACTIVE:
            self.registry.set_pending(name, "")
            text = f"{error_type}: {why}; version {self.registry.health(name)['version']} plays on"
        else:
            if self.registry.state(name) is not _S.FAILED:
                self.registry.transition(name, _S.FAILED, error_type, why)
            text = f"{error_type}: {why}"
        self._engine._error(job.addr, address, text)


def source_of(stored: StoredPlugin) -> TypeSource:
    """How a host makes the plugin's type: a native plugin by its library and label, a
    user module by the store's copy."""
    native = split_reference(stored.path)
    if native is None:
        return TypeSource("user", stored.name, stored.path, stored.version)
    return TypeSource("ladspa", stored.name, native[0], label=native[1])
