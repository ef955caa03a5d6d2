"""The supervisor's side of loads, reloads and unloads, with fakes for the engine around it:
the registry's story, what is stamped, what is replied."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chronus.dsp.params import ParamSpec, mix_specs
from chronus.dsp.patch import Patch
from chronus.dsp.specs import TYPE_SPECS
from chronus.engine.commit import CommitResult
from chronus.engine.hosted import HostedModules
from chronus.engine.plugin_feed import Code
from chronus.engine.plugin_loads import PluginLoads
from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult
from chronus.plugins.store import PluginStore
from chronus.protocol import Message, validate

PARAMS = (ParamSpec("amount", 0.5, 0.0, 2.0), *mix_specs(0.0))


@dataclass
class FakeFeed:
    wanted: dict[tuple[str, str], str] = field(default_factory=dict)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    code: dict[tuple[str, str], Code] = field(default_factory=dict)

    standby_only: set[tuple[str, str]] = field(default_factory=set)

    def want(
        self, name: str, version: str, path: str, active_too: bool = True, warm: bool = True
    ) -> None:
        self.wanted[name, version] = path
        if active_too:
            self.standby_only.discard((name, version))
        else:
            self.standby_only.add((name, version))

    def drop(self, name: str, version: str) -> None:
        self.wanted.pop((name, version), None)


@dataclass
class FakeKeeper:
    plugins: FakeFeed = field(default_factory=FakeFeed)
    in_use: dict[str, tuple[str, str]] = field(default_factory=dict)
    held: set[tuple[str, str]] = field(default_factory=set)
    hosting: dict[str, str] = field(default_factory=dict)

    def holds(self, name: str, version: str) -> bool:
        return (name, version) in self.held

    def abandon_plugin(self, name: str, version: str) -> None:
        self.plugins.drop(name, version)

    def import_everywhere(self) -> None:
        for key in self.plugins.wanted:
            self.held.add(key)
            self.plugins.code[key] = Code(PARAMS, True)


@dataclass
class FakeCommits:
    started: list[list[Message]] = field(default_factory=list)

    def commit_now(self, messages: list[Message], crossfade_ms: float, addr: Any) -> None:
        self.started.append(messages)


@dataclass
class FakeEngine:
    patch: Patch = field(default_factory=Patch)
    played: list[Message] = field(default_factory=list)
    replies: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    hosted: HostedModules = field(default_factory=lambda: HostedModules("test", 48000, 128))

    def _play(self, message: Message) -> None:
        self.played.append(message)
        if message.address == "/patch/remove":
            self.patch.apply(message)

    def _reply(self, addr: Any, address: str, *args: Any) -> None:
        self.replies.append((address, args))

    def _error(self, addr: Any, address: str, text: str) -> None:
        self.replies.append(("/error", (address, text)))

    def remove_module(self, module_id: str) -> None:
        self._play(validate("/patch/remove", (module_id,)))


@dataclass
class FakeValidator:
    pending: list[tuple[str, Callable[[ValidationResult], None]]] = field(default_factory=list)

    def submit(self, path: str, name: str, done: Callable[[ValidationResult], None]) -> None:
        self.pending.append((path, done))

    def answer(self, result: ValidationResult) -> None:
        _, done = self.pending.pop(0)
        done(result)


@dataclass
class World:
    loads: PluginLoads
    registry: PluginRegistry
    keeper: FakeKeeper
    commits: FakeCommits
    engine: FakeEngine
    validator: FakeValidator
    folder: Path

    def request(self, address: str, *args: object) -> None:
        self.loads.request(validate(address, args), ("127.0.0.1", 1))

    def states(self, name: str) -> list[str]:
        return [t["state"] for t in self.registry.health(name)["transitions"]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    registry, keeper, commits = PluginRegistry(), FakeKeeper(), FakeCommits()
    engine, validator = FakeEngine(), FakeValidator()
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "fold.py").write_text("VERSION = 1\n")
    loads = PluginLoads(
        registry, PluginStore(tmp_path / "store"), [folder], keeper, commits,  # type: ignore[arg-type]
        validator, engine,
    )  # fmt: skip
    yield World(loads, registry, keeper, commits, engine, validator, folder)
    TYPE_SPECS.pop("fold", None)


OK = ValidationResult(ok=True, duration=0.05)


def _load(world: World) -> str:
    """Load fold `inline` (where a reload swaps it in place)."""
    world.request("/plugins/load", "fold", "", 0, "inline")
    world.validator.answer(OK)
    world.loads.tick()
    world.keeper.import_everywhere()
    world.loads.tick()
    address, (name, version, state) = world.engine.replies[-1]
    assert (address, name, state) == ("/plugins/loaded", "fold", "active")
    return str(version)


def test_a_valid_module_is_put_in_use_once_every_process_holds_it(world: World) -> None:
    world.request("/plugins/load", "fold")
    assert world.states("fold") == ["discovered", "validating"]
    assert not world.keeper.plugins.wanted, "nothing is imported before it is validated"
    world.validator.answer(OK)
    world.loads.tick()
    assert world.states("fold")[-1] == "ready" and world.keeper.plugins.wanted
    world.loads.tick()
    assert not world.engine.played, "not in use until every process holds it"
    world.keeper.import_everywhere()
    world.loads.tick()
    [use] = world.engine.played
    assert use.address == "/plugins/use" and use.args[0] == "fold"
    assert world.states("fold")[-1] == "active" and "fold" in TYPE_SPECS
    assert world.engine.replies[-1] == ("/plugins/loaded", ("fold", use.args[1], "active"))
    assert world.loads.in_use() == {"fold": use.args[1]}
    assert use.args[3] == "isolated", "a user module runs isolated unless the load says inline"
    assert world.engine.hosted.hosting("fold") == "isolated"


def test_a_module_loaded_inline_runs_in_the_slots(world: World) -> None:
    _load(world)
    [use] = world.engine.played
    assert use.args[3] == "inline" and world.engine.hosted.hosting("fold") == "inline"
    assert world.registry.health("fold")["runs_in"] == "inline"


@pytest.mark.parametrize("hosting", [("isolated",), ("",), ()], ids=["said", "empty", "unsaid"])
def test_an_isolated_module_is_hosted_and_said_so_until_it_is_unloaded(
    world: World, hosting: tuple[str, ...]
) -> None:
    world.request("/plugins/load", "fold", "", 0, *hosting)
    world.validator.answer(OK)
    world.loads.tick()
    world.keeper.import_everywhere()
    world.loads.tick()
    [use] = world.engine.played
    assert use.address == "/plugins/use" and use.args[3] == "isolated"
    assert world.engine.hosted.hosting("fold") == "isolated"
    assert world.keeper.hosting == {"fold": "isolated"}
    assert world.registry.health("fold")["runs_in"] == "isolated"
    world.request("/plugins/reload", "fold")
    address, (asked, why) = world.engine.replies[-1]
    assert (address, asked) == ("/error", "/plugins/reload") and "runs isolated" in why
    assert "fold inline" in why, "it says how to get a module that reloads"
    assert world.engine.played == [use] and world.registry.state("fold") is PluginState.ACTIVE
    world.request("/plugins/unload", "fold")
    assert world.engine.hosted.hosting("fold") == "inline" and world.keeper.hosting == {}


def test_a_module_that_fails_validation_is_failed_and_never_imported(world: World) -> None:
    world.request("/plugins/load", "fold")
    world.validator.answer(
        ValidationResult(ok=False, error_type="non_finite", error_message="NaN in block 3")
    )
    world.loads.tick()
    assert world.states("fold")[-1] == "failed"
    assert world.engine.replies[-1] == ("/error", ("/plugins/load", "non_finite: NaN in block 3"))
    assert not world.keeper.plugins.wanted and not world.engine.played
    assert world.registry.health("fold")["validation"]["error_type"] == "non_finite"


def test_a_reload_that_fails_validation_keeps_the_old_version(world: World) -> None:
    old = _load(world)
    (world.folder / "fold.py").write_text("VERSION = 2\n")
    world.request("/plugins/reload", "fold")
    assert world.registry.health("fold")["pending"] not in ("", old)
    world.validator.answer(ValidationResult(ok=False, error_type="timeout", error_message="2 s"))
    world.loads.tick()
    health = world.registry.health("fold")
    assert (health["state"], health["version"], health["pending"]) == ("active", old, "")
    address, (about, why) = world.engine.replies[-1]
    assert (address, about) == ("/error", "/plugins/reload")
    assert why.startswith("timeout: 2 s") and old in why
    assert not world.commits.started and world.loads.in_use() == {"fold": old}


def test_a_valid_reload_is_swapped_in_by_a_commit(world: World) -> None:
    old = _load(world)
    (world.folder / "fold.py").write_text("VERSION = 2\n")
    world.request("/plugins/reload", "fold")
    world.validator.answer(OK)
    world.loads.tick()
    world.keeper.import_everywhere()
    world.loads.tick()
    [[use]] = world.commits.started
    new = str(use.args[1])
    assert new != old and world.loads.in_use() == {"fold": old}, "the old plays until the switch"
    assert world.keeper.plugins.standby_only == {("fold", new)}, "the active is replaced"
    result = CommitResult(("127.0.0.1", 1), True, "switched", [use], 1280, 2560, 2400)
    assert world.loads.committed(result)
    health = world.registry.health("fold")
    assert (health["state"], health["version"], health["restarts"]) == ("active", new, 1)
    assert world.loads.in_use() == {"fold": new}
    assert ("fold", old) not in world.keeper.plugins.wanted
    assert not world.keeper.plugins.standby_only, "from now on every worker is to hold it"


def test_a_reload_of_an_unchanged_file_swaps_nothing_and_says_so(world: World) -> None:
    version = _load(world)
    world.request("/plugins/reload", "fold")
    assert (
        world.engine.replies[-2][0] == "/warning"
        and "not changed" in world.engine.replies[-2][1][1]
    )
    assert world.engine.replies[-1] == ("/plugins/loaded", ("fold", version, "active"))
    assert not world.validator.pending and not world.commits.started
    assert world.registry.health("fold")["restarts"] == 0


def test_an_unload_removes_the_modules_then_forgets_the_type(world: World) -> None:
    _load(world)
    world.engine.patch.apply(validate("/patch/create", ("f", "fold")))
    world.engine.patch.apply(validate("/patch/create", ("s", "saw")))
    world.request("/plugins/unload", "fold")
    assert [m.to_list() for m in world.engine.played[1:]] == [["/patch/remove", "f"]]
    world.request("/plugins/load", "fold")  # too soon: its forget is still to come
    assert world.engine.replies[-1] == (
        "/error",
        ("/plugins/load", "plugin fold is being unloaded: wait for its reply"),
    )
    assert "fold" not in TYPE_SPECS and world.states("fold")[-1] == "unloaded"
    deadline = time.monotonic() + 2.0
    while world.loads.busy and time.monotonic() < deadline:  # the forget waits for the fades
        world.loads.tick()
        time.sleep(0.01)
    assert world.engine.played[-1].to_list() == ["/plugins/forget", "fold"]
    assert world.engine.replies[-1] == ("/plugins/unloaded", ("fold",))
    assert list(world.engine.patch.modules) == ["s"]


def test_requests_that_cannot_be_met_change_nothing(world: World) -> None:
    (world.folder / "saw.py").write_text("")
    for args in [("saw",), ("/nowhere/x.py",), ("nothere",)]:
        world.request("/plugins/load", *args)
    world.request("/plugins/reload", "fold")
    world.request("/plugins/unload", "fold")
    errors = [args[1] for address, args in world.engine.replies if address == "/error"]
    assert len(errors) == 5 and world.registry.names() == []
    assert "saw is a built-in module type" in errors[0]
    assert "no such file" in errors[1] and "no module nothere.py" in errors[2]
    assert "load it first" in errors[3] and "no plugin fold is loaded" in errors[4]


def test_a_native_plugin_is_never_loaded_inline(world: World) -> None:
    library = world.folder / "tap_reverb.so"
    library.write_bytes(b"\x7fELF")
    world.request("/plugins/load", f"{library}#tap_reverb", "tap_reverb", 0, "inline")
    world.request("/plugins/load", "fold", "", 0, "nowhere")
    errors = [args for address, args in world.engine.replies if address == "/error"]
    assert [error[0] for error in errors] == ["/plugins/load"] * 2
    assert "tap_reverb is a native (LADSPA) plugin" in errors[0][1]
    assert "never inside the slots" in errors[0][1]
    assert "hosting must be inline or isolated" in errors[1][1]
    assert world.registry.names() == [] and not world.loads.busy


def test_a_suspended_plugin_loads_again_on_reload_once_fixed(world: World) -> None:
    _load(world)
    world.registry.transition("fold", PluginState.SUSPENDED, "errors", "16 blocks raised")
    (world.folder / "fold.py").write_text("VERSION = 2\n")
    world.request("/plugins/reload", "fold")
    assert world.states("fold")[-1] == "validating"
    world.validator.answer(OK)
    world.loads.tick()
    world.keeper.import_everywhere()
    world.loads.tick()
    [[use]] = world.commits.started  # its modules are in the patch: swapped by a commit
    result = CommitResult(("127.0.0.1", 1), True, "switched", [use], 1280, 2560, 2400)
    assert world.loads.committed(result)
    health = world.registry.health("fold")
    assert world.states("fold")[-4:] == ["suspended", "validating", "ready", "active"]
    assert (health["version"], health["restarts"]) == (use.args[1], 1)


def test_without_a_sandbox_pool_nothing_loads_unforced(world: World) -> None:
    world.loads._validator = None
    world.request("/plugins/load", "fold")
    assert world.states("fold") == ["discovered", "validating", "failed"]
    assert world.engine.replies[-1] == (
        "/error",
        ("/plugins/load", "internal: no sandbox pool to validate it in"),
    )
    assert not world.loads.busy and not world.keeper.plugins.wanted
