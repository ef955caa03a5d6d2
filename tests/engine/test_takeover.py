"""A supervisor replaced: what the new one finds it must log (the commands its dead
predecessor sent the slots but had not logged yet, found by the log's last command line),
and what a client that sent meanwhile is told."""

from __future__ import annotations

import io
import pickle
import socket
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from chronus.dsp.params import ParamSpec
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.specs import undeclare
from chronus.engine.client import EngineClient, EngineError
from chronus.engine.keeper import Lenient, SlotKeeper
from chronus.engine.launcher import spawn_context
from chronus.engine.lifelines import Lifelines
from chronus.engine.manifest import WorkerNames
from chronus.engine.plugin_feed import Code
from chronus.engine.plugin_loads import source_of
from chronus.engine.rings import SharedCounters, unique_name
from chronus.engine.seats import Seat, SeatState
from chronus.engine.slot import WorkerConfig, await_seat
from chronus.engine.stats import ControlField
from chronus.engine.takeover import plugins_in_use, take_plugins, unlogged
from chronus.plugins.ladspa.reference import ladspa_reference, ladspa_version
from chronus.plugins.store import PluginStore
from chronus.plugins.type_source import TypeSource
from chronus.protocol import Message, encode, validate
from chronus.session.stamped_log import StampedLog
from tests.plugins.modules import write_gain


class _Sent:
    """The part of a keeper `unlogged` reads: the commands kept, and where each applied."""

    def __init__(self, commands: list[tuple[int, int, Message]], applied: dict[int, int]):
        self._commands = [(seq, stamp, encode(message)) for seq, stamp, message in commands]
        self._applied = applied

    def commands_from(self, first_seq: int) -> list[tuple[int, int, bytes]]:
        return [entry for entry in self._commands if entry[0] >= first_seq]

    def applied_at(self, seq: int) -> int | None:
        return self._applied.get(seq)


NOTE = validate("/note/bass", (36, 100, 0.25))
CUTOFF = validate("/mod/bass/cutoff", (800.0,))
SENT = [(7, 1280, NOTE), (8, 1280, CUTOFF), (9, 1408, NOTE), (10, 1536, CUTOFF)]


def _missing(
    tmp_path: Path, logged: list[tuple[int, Message]], applied: dict[int, int]
) -> list[int]:
    with StampedLog(tmp_path / "s.log", 48000, 128) as log:
        for sample, message in logged:
            log.write(sample, message)
        keeper = cast(Any, _Sent(SENT, applied))
        return [seq for seq, _, _ in unlogged(keeper, log)]


def test_the_commands_after_the_last_logged_one_are_missing(tmp_path: Path) -> None:
    applied = {7: 1280, 8: 1280, 9: 1536}  # 9 was overtaken: it applied a block late
    logged = [(0, CUTOFF), (1280, NOTE), (1280, CUTOFF), (1536, NOTE)]
    assert _missing(tmp_path, logged, applied) == [10]


def test_a_line_logged_at_a_later_sample_than_its_stamp_is_still_found(tmp_path: Path) -> None:
    assert _missing(tmp_path, [(1280, NOTE)], {7: 1280}) == [8, 9, 10]


def test_without_a_matching_line_those_after_its_sample_are_missing(tmp_path: Path) -> None:
    assert _missing(tmp_path, [(1300, NOTE)], {}) == [9, 10]
    (tmp_path / "s.log").unlink()
    assert _missing(tmp_path, [], {}) == [7, 8, 9, 10]  # a new log holds none of them


def test_a_client_with_no_answer_is_told_what_a_restart_does_with_its_commands() -> None:
    """No answer on the port: the error says an engine whose supervisor is being replaced
    answers again soon and applies what was sent meanwhile (its parent holds the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EngineClient("127.0.0.1", port) as client:
        client.send([CUTOFF])
        with pytest.raises(EngineError, match="applies what was sent to it meanwhile"):
            client.sync(timeout=0.2)


@pytest.fixture
def seats() -> Iterator[tuple[Seat, Seat]]:
    made = (Seat.create(0, 8, 128, 48000), Seat.create(1, 8, 128, 48000))
    yield made
    for seat in made:
        seat.close()


def _keeper_on(seats: tuple[Seat, Seat], control: SharedCounters) -> SlotKeeper:
    """A keeper made on seats a dead supervisor left (no workers, no launcher needed)."""
    ctx = spawn_context()
    config = WorkerConfig("io", control.name, 48000, 128, 2)
    attached = (None, seats, (ctx.Semaphore(0), ctx.Semaphore(0)))
    return SlotKeeper(cast(Any, None), ctx, config, control, control, Patch, attached)


def test_a_new_keeper_goes_on_from_the_sequence_the_rings_hold(seats: tuple[Seat, Seat]) -> None:
    """Commands 0-5 went to both seats, 6 to B alone (a commit being built), and A's ring
    was reset for a joiner at 3 and given 3-5 again: the next command is 7; the commands
    sent to both from 4 on are 4, 5 and 7 (not B's 6); a joiner copying B replays 0-7."""
    a, b = seats
    for seq in range(6):
        a.commands.push(128 * seq, encode(CUTOFF), seq)
        b.commands.push(128 * seq, encode(CUTOFF), seq)
    b.commands.push(768, encode(NOTE), 6, solo=True)
    a.commands.reset(3)
    for seq in range(3, 6):
        a.commands.push(128 * seq, encode(CUTOFF), seq)
    control = SharedCounters.create(unique_name("test-takeover-control"), ControlField.SIZE)
    try:
        keeper = _keeper_on(seats, control)
        keeper.take_over((), {"failovers": 3, "respawns": 4})
        assert keeper.push(896, encode(NOTE)) == 7
        assert [seq for seq, _, _ in keeper.commands_from(4)] == [4, 5, 7]  # not B's solo 6
        assert keeper._replay(a, b, 0) == 8  # B got 0-6 (its solo 6 too) and 7: all kept
        assert (keeper.failovers, keeper.respawns, keeper.divergences) == (3, 4, 0)
        assert all(seat.state is SeatState.DEAD for seat in seats)  # no worker came along
    finally:
        control.close()


def test_a_command_its_predecessor_pushed_to_one_ring_only_reaches_both(
    seats: tuple[Seat, Seat],
) -> None:
    """The dead supervisor pushed 0-4 to both rings and published them, then pushed 5 to A
    and died before B's push and the publish: 5 goes to B too, then both may take it."""
    a, b = seats
    for seq in range(5):
        a.commands.push(128 * seq, encode(CUTOFF), seq)
        b.commands.push(128 * seq, encode(CUTOFF), seq)
    a.commands.push(640, encode(NOTE), 5)
    a.accepting = b.accepting = True  # as if their workers came along
    control = SharedCounters.create(unique_name("test-takeover-control"), ControlField.SIZE)
    try:
        control.values[ControlField.PUBLISHED] = 5
        keeper = _keeper_on(seats, control)
        keeper.take_over((), {})
        assert int(control.values[ControlField.PUBLISHED]) == 6
        assert b.commands.record_at(5) == (640, encode(NOTE), 5, False)
        assert keeper.push(768, encode(CUTOFF)) == 6
    finally:
        control.close()


def _running(*running: Seat) -> None:
    for seat in running:
        seat.worker = cast(Any, object())  # only its presence is read
        seat.state, seat.accepting = SeatState.RUNNING, True


def test_the_snapshot_a_takeover_asks_for_comes_from_the_standby_in_lockstep(
    seats: tuple[Seat, Seat],
) -> None:
    """A capture forks the slot it asks: from the standby (whose lag the active's blocks
    cover) while both run in lockstep; from the active when the standby is not running, is
    being retired, or a commit is being built in it; none when no slot has a worker."""
    a, b = seats
    control = SharedCounters.create(unique_name("test-takeover-control"), ControlField.SIZE)
    try:
        keeper = _keeper_on(seats, control)
        assert keeper.snapshot_source() is None
        _running(a, b)
        control.values[ControlField.ACTIVE] = 0
        assert keeper.snapshot_source() is b
        control.values[ControlField.ACTIVE] = 1
        assert keeper.snapshot_source() is a
        keeper.diverging = True
        assert keeper.snapshot_source() is b  # the active: A holds the commit being built
        keeper.diverging = False
        a.retiring = "started by the supervisor before this one"
        assert keeper.snapshot_source() is b
        a.retiring = ""
        a.state = SeatState.JOINING
        assert keeper.snapshot_source() is b
        b.worker, b.state = None, SeatState.DEAD
        a.state = SeatState.RUNNING
        assert keeper.snapshot_source() is a  # the only slot with a worker
    finally:
        control.close()


def test_a_spare_whose_supervisor_died_while_it_warmed_up_ends_quietly() -> None:
    """A spare forked just before its supervisor died says it is warm to a closed pipe: it
    ends (None: no traceback, no error code), as one that waited when it died does; one whose
    supervisor lives gets the start it sends."""
    config = WorkerConfig("io", "control", 48000, 128, 2)
    ours, theirs = spawn_context().Pipe(duplex=True)
    ours.close()
    assert await_seat(theirs, ("warm",), config) is None
    theirs.close()
    ours, theirs = spawn_context().Pipe(duplex=True)
    start = cast(Any, "a start")  # anything but a tuple (a plugin to import) or None
    ours.send(start)
    assert await_seat(theirs, ("warm",), config) == start
    assert ours.recv() == ("warm",)
    ours.send(None)  # the supervisor ends its spare
    assert await_seat(theirs, ("warm",), config) is None
    for end in (ours, theirs):
        end.close()


def test_a_state_holding_a_class_this_process_cannot_import_is_still_read() -> None:
    """A plugin module's state in a slot's snapshot: the patch beside it is what counts."""
    plugin = types.ModuleType("chronus_test_gone_plugin")

    class Voice:
        def __init__(self) -> None:
            self.phase = 0.25

    Voice.__module__ = plugin.__name__
    Voice.__qualname__ = "Voice"
    plugin.Voice = Voice  # type: ignore[attr-defined]
    sys.modules[plugin.__name__] = plugin
    try:
        data = pickle.dumps({"patch": {"modules": {}}, "modules": {"v": Voice()}})
    finally:
        del sys.modules[plugin.__name__]
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)
    read = Lenient(io.BytesIO(data)).load()
    assert read["patch"] == {"modules": {}} and type(read["modules"]["v"]).__name__ == "_Unknown"


class _Hosting:
    """The part of `HostedModules` `take_plugins` uses: the types it is told to host."""

    def __init__(self) -> None:
        self.types: list[tuple[str, TypeSource, int]] = []

    def host(self, type_name: str, source: TypeSource, params: int) -> None:
        self.types.append((type_name, source, params))


def test_the_plugins_the_slots_use_are_held_again_as_they_were(
    seats: tuple[Seat, Seat], tmp_path: Path
) -> None:
    """What the manifest says of the plugins in use is enough to hold them again: the types
    declared, their versions wanted by every new worker, the isolated ones hosted; a store
    copy gone or a native library changed is refused with the reason."""
    store = PluginStore(tmp_path / "store")
    gain = store.put(write_gain(tmp_path), "gain")
    library = tmp_path / "fake.so"
    library.write_bytes(b"a library")
    native = ladspa_reference(str(library), "fake")
    amount = (ParamSpec("amount", 1.0, 0.0, 4.0),)
    control = SharedCounters.create(unique_name("test-takeover-plugins"), ControlField.SIZE)
    try:
        old = _keeper_on(seats, control)
        uses = {
            "gain": (gain.version, gain.path, "isolated", amount, True),
            "fake": (ladspa_version(str(library), "fake"), native, "isolated", (), False),
            "gone": ("0123456789ab", str(store.path_of("gone", "0123456789ab")), "inline", (),
                     False),
        }  # fmt: skip
        for name, (version, path, hosting, params, processor) in uses.items():
            old.in_use[name] = (version, path)
            old.hosting[name] = hosting
            old.plugins.code[name, version] = Code(params, processor)
        used = plugins_in_use(old)
        assert [(p.name, p.hosting, p.params) for p in used] == [
            ("gain", "isolated", amount), ("fake", "isolated", ()), ("gone", "inline", ()),
        ]  # fmt: skip
        with pytest.raises(PatchError):
            Patch().apply(validate("/patch/create", ("g", "gain")))
        library.write_bytes(b"another library")
        new, hosted = _keeper_on(seats, control), _Hosting()
        refused = take_plugins(used, new, store, cast(Any, hosted))
        assert refused == [
            f"fake {uses['fake'][0]}: {library} changed since it was loaded",
            "gone 0123456789ab: not in the store",
        ]
        assert new.in_use == {"gain": (gain.version, gain.path)}
        assert new.hosting == {"gain": "isolated"}
        assert ("gain", gain.version) in new.plugins.wanted
        assert hosted.types == [("gain", source_of(gain), 1)]
        patch = Patch()
        patch.apply(validate("/patch/create", ("g", "gain")))
        patch.apply(validate("/mod/g/amount", (2.5,)))
        assert patch.modules["g"]["params"]["amount"] == 2.5
    finally:
        undeclare("gain")
        control.close()


def _hold_line(table: str, index: int, held: Any) -> None:
    """A spare of the dead supervisor's: it holds its lifeline while it warms up."""
    Lifelines.attach(table).hold(index)
    held.set()
    time.sleep(60)


def test_the_dead_supervisors_spare_is_ended_and_its_line_never_leased_meanwhile(
    seats: tuple[Seat, Seat],
) -> None:
    """The manifest names the dead supervisor's spare, still alive (warming up at nice 19 on
    a loaded machine): a new keeper ends it and leases its line to nobody until it is gone;
    armed again under it, the line would be held by two workers at once."""
    lifelines = Lifelines.create(unique_name("test-takeover-lifelines"), 4)
    assert lifelines is not None
    ctx = spawn_context()
    held = ctx.Event()
    spare = ctx.Process(target=_hold_line, args=(lifelines.name, 2, held))
    spare.start()
    control = SharedCounters.create(unique_name("test-takeover-control"), ControlField.SIZE)
    keeper = None
    try:
        assert held.wait(30), "the spare never took its line"
        launcher = SimpleNamespace(adopt=lambda pid, name: spare)
        config = WorkerConfig("io", control.name, 48000, 128, 2)
        wakes = (ctx.Semaphore(0), ctx.Semaphore(0))
        keeper = SlotKeeper(
            cast(Any, launcher), ctx, config, control, control, Patch, (lifelines, seats, wakes)
        )
        assert keeper.deaths is not None
        keeper.take_over((WorkerNames(int(spare.pid or 0), "spare", 2, ""),), {})
        spare.join(10)
        assert spare.exitcode == -9  # ended, not left to warm up for nothing
        assert 2 not in {keeper.deaths.lease() for _ in range(3)}
    finally:
        if spare.is_alive():
            spare.kill()
        if keeper is not None and keeper.deaths is not None:
            keeper.deaths.close()
        else:
            lifelines.close()
        control.close()
