"""The supervisor: the engine's control plane.

It receives OSC over UDP and TCP, validates it against the address space and the patch, keeps the
authoritative patch state, stamps each command with the sample at which it applies, hands it to
the slot keeper (which writes it to both slots), logs it, drains the record tap and answers
health queries. It owns no audio: the slots render and the audio I/O plays, and neither needs
the supervisor to keep going.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from chronus import __version__
from chronus.dsp.patch import TEMPO_RANGE, Patch, PatchError
from chronus.engine import leftovers
from chronus.engine.announce import LINK_NAME, Announcer
from chronus.engine.audio_io import IoConfig
from chronus.engine.commit import DEFAULT_CROSSFADE_MS, CommitError, CommitFlow, CommitResult
from chronus.engine.cpu_watch import CpuWatch
from chronus.engine.dated import DatedBundles
from chronus.engine.endpoints import OscEndpoints
from chronus.engine.files import DEFAULT_FOLDER, FilesFolder
from chronus.engine.held_sockets import hand_up
from chronus.engine.hosted import HostedModules
from chronus.engine.http_api import PUBLISH_EVERY_S, HttpApi, is_loopback
from chronus.engine.io_keeper import IoKeeper
from chronus.engine.keeper import SlotKeeper, attach
from chronus.engine.launcher import ChildProcess, Launcher, LaunchError, spawn_context
from chronus.engine.link_peer import LinkPeer
from chronus.engine.link_sync import LinkSync, starts_transport
from chronus.engine.manifest import (
    HostedRing,
    Manifest,
    MidiSetup,
    PluginInUse,
    Recording,
    WorkerNames,
    reopen_semaphore,
    semaphore_name,
    unlink_semaphore,
)
from chronus.engine.midi_out import MidiOutput
from chronus.engine.midi_requests import MidiRequests, least_latency_ms
from chronus.engine.now import (
    TransportView,
    beat_at,
    level_blocks,
    output_level,
    read_transport,
    tempo_of,
)
from chronus.engine.pacing import MAX_BACKLOG_S, Pacer, cost_us
from chronus.engine.peers import PeerFilter, listens_everywhere
from chronus.engine.plugin_loads import PluginLoads
from chronus.engine.plugin_watch import PluginWatch
from chronus.engine.prepared import PreparedPatterns, pattern_text
from chronus.engine.rates import PEER_RATE, PeerRates
from chronus.engine.recorder import Recorder, RecordTap
from chronus.engine.rings import SharedCounters, unique_name
from chronus.engine.seats import Worker
from chronus.engine.slip import BadFrame
from chronus.engine.slot import WorkerConfig
from chronus.engine.stats import (
    ControlField,
    IoField,
    SlotField,
    recent_dsp_timings,
    settled_io,
    summary,
    timing_median,
    timing_percentiles,
    underrun_log,
)
from chronus.engine.takeover import (
    TakeoverError,
    hosted_rings,
    patch_of_slots,
    plugins_in_use,
    rehost,
    resume_recording,
    take_plugins,
    unlogged,
)
from chronus.engine.underrun_spells import UnderrunSpells
from chronus.plugins.loader import MODULES_ENV, adopt_user_modules, load_user_modules
from chronus.plugins.registry import PluginRegistry
from chronus.plugins.sandbox import SandboxPool
from chronus.plugins.store import PluginStore, default_folders, default_store
from chronus.protocol import (
    ENGINE_ONLY,
    IMMEDIATELY,
    MIDI_EVENTS,
    SLOT_ONLY,
    Arg,
    Message,
    ProtocolError,
    as_wire,
    encode,
    on_the_wire,
    parse_timed,
    validate,
)
from chronus.seq.notation import parse_cached
from chronus.session.stamped_log import StampedLog

__all__ = ["EngineConfig", "EngineStartError", "Supervisor"]

_BOOT_TIMEOUT_S = 120.0
_TICK_S = 0.01
_MIDI_OUT = frozenset({"/midi/outs", "/midi/out", "/midi/clock"})
_LOG_WAIT_S = 1.0
"""How long a logged command waits for a slot to report the sample it applied at."""
_STAGED = ("/patch/", "/mod/", "/seq/", "/tempo")
"""Commands that a staged change holds until it is committed: the patch, and the patterns and
tempo that play it (a snapshot's new modules would be silent without their patterns)."""
_LOGGED_INTERNAL_ERRORS = 10
"""Packets that raise out of their handling are all counted; the first few are logged in full."""
_COSTLY = frozenset({"/engine/status", "/engine/dump", "/plugins"})
"""Requests whose replies take work to make (and are large)."""
CREATE_LOAD_LIMIT = 0.8
"""A new module is refused while the active slot's render takes more than this share of a
block (90th percentile of the last 256 blocks): a stated limit instead of a dropout."""
_LOAD_BLOCKS = 256
_TAP_BLOCKS = 4096
"""The record tap holds 11 s at 128 frames: the supervisor may stall that long unheard."""
_RENEWING = (
    "the engine's supervisor was replaced and its slots are being renewed (a few seconds); "
    "plugin code cannot reach them until then; nothing changed, try again"
)
log = logging.getLogger("chronus.engine")


def _made_again(messages: list[Message], index: int) -> bool:
    """Whether the module `messages[index]` removes is created again later in `messages`:
    then the removal is of the module that a commit replaced under the same id, which
    `HostedModules.created` already took care of when the commit was staged."""
    module_id = messages[index].args[0]
    return any(
        m.address == "/patch/create" and m.args[0] == module_id for m in messages[index + 1 :]
    )


class EngineStartError(RuntimeError):
    """The engine could not start (port taken, device missing, a child failed)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's settings. Block size and lead are the only timing knobs."""

    host: str = "127.0.0.1"
    port: int = 57120
    backend: str = "auto"
    rate: int = 48000
    block: int = 128
    block_from: str = "default"
    """Where the block comes from: `option` (`--block`), `jack` (the JACK server's period,
    `jack_period`) or `default`."""
    lead: int = 2
    device: str | None = None
    log: str | None = None
    """Append every command, with the sample it applied at, to this session log."""
    record: str | None = None
    """Record everything played, from the first block, to this WAV file."""
    allow: tuple[str, ...] = ()
    """Networks (`ADDR/MASK`) whose OSC is read besides loopback (`--allow`); none: all."""
    files: str = DEFAULT_FOLDER
    """The folder every file the engine writes goes in (recordings, the session log); the
    names above and in `/record/start` are relative to it, or absolute paths inside it."""
    http: tuple[str, int] | None = None
    """Serve the read-only HTTP API (plugin health, engine status) on this host and port;
    it answers the peers `allow` names (others get 403)."""
    peer_rate: int = PEER_RATE
    """OSC messages a second one peer may send (`--peer-rate`); past it, shed. 0: no limit."""
    modules: tuple[str, ...] = ()
    """Folders a plugin named without a path is looked for in (`--modules`), before
    `~/.config/chronus/modules/`."""
    plugin_store: str | None = None
    """Where plugin sources are stored by version (default: the user's cache folder)."""
    link: bool = False
    """Join the Ableton Link session from the start (`--link`; `/link 1` later)."""

    @property
    def lead_ms(self) -> float:
        """How far ahead of the device the slot renders, in milliseconds."""
        return 1000.0 * self.lead * self.block / self.rate


class Supervisor:
    """Owns the engine's processes and shared memory, and serves OSC.

    Its processes are started by `launcher` (made here if not given; give one made early,
    so that its template warms up while the rest of the engine loads). Under the engine's
    minimal parent, `link` leads to it: the supervisor hands it the `Manifest` of what runs,
    so that a new supervisor can re-attach (`reattach`) if this one dies.
    """

    def __init__(
        self,
        config: EngineConfig,
        launcher: Launcher | None = None,
        link: Connection | None = None,
        restarts: int = 0,
    ) -> None:
        self.config = config
        self._link = link
        self.restarts = restarts
        """Supervisors that died before this one, in this engine."""
        self._handed: tuple[object, ...] = ()
        """What the last manifest handed to the parent said of the processes."""
        self._adopted_semaphores: list[str] = []
        """Semaphores a dead supervisor made that this one took over (it removes them)."""
        self.patch = Patch()
        self.registry = PluginRegistry()
        self.backend_description = ""
        self.notice = ""
        self._ctx = spawn_context()
        self._launcher = launcher or Launcher(self._ctx, config.rate, config.block)
        self._quit = False
        self._started_ns = time.monotonic_ns()
        self._boot = f"{os.getpid()}-{self._started_ns}"
        self._received = 0
        self._read_ns = 0
        """When the packet being handled was read from its socket (`time.time_ns`)."""
        self._errors = 0
        self._commands = 0
        self._internal_errors = 0
        self._osc: OscEndpoints | None = None
        self._http: HttpApi | None = None
        self._http_next = 0.0
        """When the serve loop next publishes the status for the HTTP API (monotonic s)."""
        self._io_counters: SharedCounters | None = None
        self._control: SharedCounters | None = None
        self._tap: RecordTap | None = None
        self._keeper: SlotKeeper | None = None
        self._commits: CommitFlow | None = None
        self._recorder: Recorder | None = None
        self._files = FilesFolder(config.files)
        self._record_starter: Any = None
        """The reply address of the client that started the recording."""
        self._session_log: StampedLog | None = None
        self._session_log_stopped = ""
        """Why the session log stopped ("" while it is written, or if there is none)."""
        self._unlogged: deque[tuple[int, int, Message, float]] = deque()
        """Commands sent but not yet logged: (seq, stamp, message, monotonic time sent)."""
        self._io: IoKeeper | None = None
        self._cpu_watch: CpuWatch | None = None
        self._prepared: PreparedPatterns | None = None
        self._halt = self._ctx.Semaphore(0)
        self._pacer = Pacer(config.block, config.rate)
        self._plugin_watch = PluginWatch(self.registry, on_move=self._tell)
        self._loads: PluginLoads | None = None
        self.hosted: HostedModules | None = None
        """The isolated modules' rings and hosts (once started)."""
        self._committing: list[Message] = []
        """The `/patch/create` commands of the commit in flight."""
        self._pool: SandboxPool | None = None
        self._leftovers = leftovers.Watch()
        self._underruns = UnderrunSpells(config.block, config.rate)
        self._dated: DatedBundles | None = None
        self._midi: MidiRequests | None = None
        self._midi_out: MidiOutput | None = None
        self._link_sync: LinkSync | None = None
        self._typed_tempo: tuple[Any, float] | None = None
        """Who last typed a tempo while in a Link session, and which: told as theirs when
        the session takes it."""
        self._announcer = Announcer(self._tell_subscriber, self._reply, self._error)
        """The clients that hear of every change (`/notify`); a supervisor that takes over
        starts with none (they renew)."""

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind the sockets, start the slots and the audio I/O; return the READY line."""
        c = self.config
        self._sweep_leftovers()
        self._load_env_modules()
        self._pool = self._start_pool()  # warming up with the slots, before audio flows
        try:
            peers = PeerFilter(c.allow)
        except ValueError as exc:
            raise EngineStartError(f"--allow: {exc}") from exc
        try:
            self._osc = OscEndpoints.open(c.host, c.port, peers, PeerRates(c.peer_rate))
        except OSError as exc:
            raise EngineStartError(f"cannot listen on {c.host}:{c.port}: {exc.strerror}") from exc
        if listens_everywhere(c.host):
            log.warning(
                "OSC listens on every interface (%s): it answers %s; "
                "anyone it answers can play, record and quit the engine",
                c.host or "*", peers.describe(),
            )  # fmt: skip
        if c.http is not None:
            self._open_http(*c.http, peers)
        self._hold_sockets()
        self._open_midi(c.host)
        self._io_counters = SharedCounters.create(unique_name("io"), IoField.SIZE)
        self._control = SharedCounters.create(unique_name("control"), ControlField.SIZE)
        self._control.values[ControlField.RUN] = 1
        self.hosted = self._hosted_modules()
        self._dated = DatedBundles(
            c.rate, c.block, self._io_counters.values, self._keeper_next_stamp,
            self._play_at, self._reply, self._error,
        )  # fmt: skip
        self._link_sync = self._make_link_sync(self._dated, self._io_counters)
        self._tap = RecordTap.create(unique_name("tap"), _TAP_BLOCKS, c.block)
        self._recorder = Recorder(self._tap)
        try:
            self._cpu_watch = CpuWatch(self._launcher)
        except LaunchError as exc:
            raise EngineStartError(str(exc)) from exc
        self._prepared = PreparedPatterns.create(unique_name("patterns"))
        self._keeper = SlotKeeper(
            self._launcher, self._ctx, self._worker_config(), self._io_counters, self._control,
            lambda: self.patch,
        )  # fmt: skip
        try:
            self._keeper.boot(_BOOT_TIMEOUT_S)
        except RuntimeError as exc:
            raise EngineStartError(str(exc)) from exc
        self._start_flows()
        files = self._files
        try:
            if c.log:
                folder, name = files.for_operator(c.log)
                self._session_log = StampedLog(
                    folder.where(name), c.rate, c.block, folder.opener(name)
                )
            if c.record:
                folder, name = files.for_operator(c.record)
                self._recorder.start(
                    folder.where(name), c.rate, from_block=0,
                    opener=folder.opener(name, wav=True), name=c.record,
                )  # fmt: skip
                if self._session_log is not None:
                    self._session_log.mark_recording(0, c.record)
        except ValueError as exc:
            raise EngineStartError(f"cannot write there: {exc}") from exc
        except OSError as exc:
            raise EngineStartError(f"cannot write {exc.filename}: {exc.strerror}") from exc
        self._io = self._io_keeper()
        try:
            self._io.start(_BOOT_TIMEOUT_S)
        except RuntimeError as exc:
            raise EngineStartError(str(exc)) from exc
        self.backend_description, self.notice = self._io.description, self._io.notice
        if c.link:
            self._link_sync.enable(self.patch.tempo)
        self._hand_down()
        ready = (
            f"READY chronus {__version__} osc={c.host}:{self.port} backend={self.backend_kind} "
            f"rate={c.rate} block={c.block} lead={c.lead}"
        )
        if self._http is not None:
            self._publish_status()
            host, port = self._http.address
            ready += f" http={host}:{port}"
        return ready

    def _make_link_sync(self, dated: DatedBundles, io: SharedCounters) -> LinkSync:
        """The Ableton Link follower, on the dated bundles' sample clock."""
        values = io.values
        return LinkSync(
            LinkPeer(), dated.clock, self.config.rate,
            lambda: 1000.0 * int(values[IoField.DEVICE_LATENCY_US]), self._play_link_tempo,
            play_transport=self._play_link_transport,
        )  # fmt: skip

    def _play_link_tempo(self, bpm: float, stamp: int) -> bool:
        """A tempo the Link session asks for: stamped at `stamp` and logged like a typed one;
        whether it went (not with the slots' command rings full)."""
        if self._keeper is None or not self._keeper.room():
            return False
        bpm = as_wire(min(max(bpm, TEMPO_RANGE[0]), TEMPO_RANGE[1]))
        message = validate("/tempo", (bpm, 1))
        self.patch.apply(message)
        self._play(message, stamp=stamp)
        return True

    def _play_link_transport(self, start: bool, stamp: int) -> bool:
        """A start or stop of the Link session's (start/stop sync): `/seq/start` or
        `/seq/stop` stamped at `stamp` (its bar line) and logged like a typed one; whether it
        went (not with the slots' command rings full)."""
        if self._keeper is None or not self._keeper.room():
            return False
        message = validate("/seq/start" if start else "/seq/stop", ())
        self.patch.apply(message)
        self._play(message, stamp=stamp)
        self._changed(message, None)
        return True

    def _link_tick(self, link: LinkSync) -> None:
        """Let Link follow the session; a fault in it turns Link off, never the engine off.
        A tempo the session moved to is told to the subscribers (as `link`), its nudges not."""
        try:
            session_bpm = link.session_bpm
            link.tick(self._transport(), self.next_stamp(), self.patch.tempo)
            if link.session_bpm != session_bpm:
                self._tell_link_tempo(link.session_bpm)
        except Exception as exc:  # Link is an extra: the music must go on without it
            log.error("Ableton Link failed and is off now: %r", exc, exc_info=exc)
            link.disable()
            self._tell("engine", f"Ableton Link failed and is off now: {exc}")

    def _tell_link_tempo(self, session_bpm: float) -> None:
        """Tell the subscribers the tempo the Link session moved to: as the change of the
        client who typed it here, else as `link`'s (another app's)."""
        bpm = as_wire(min(max(session_bpm, TEMPO_RANGE[0]), TEMPO_RANGE[1]))
        typed, self._typed_tempo = self._typed_tempo, None
        moved = validate("/tempo", (bpm,))
        if typed is not None and abs(typed[1] - bpm) < 0.01:  # Link's float, not ours
            self._announcer.changed(moved, typed[0])
        else:
            self._announcer.changed(moved, None, LINK_NAME)

    def _transport(self) -> TransportView | None:
        """The active slot's transport, as it last published it."""
        keeper = self._keeper
        return read_transport(keeper.active.counters.values) if keeper is not None else None

    @staticmethod
    def _sweep_leftovers() -> None:
        """Remove the segments and semaphores that dead engines left; one log line says what."""
        line = leftovers.sweep().line()
        if line:
            log.info("%s", line)

    def _open_http(self, host: str, port: int, peers: PeerFilter) -> None:
        try:
            self._http = HttpApi.open(self.registry, host, port, peers.permits)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise EngineStartError(f"cannot serve HTTP on {host}:{port}: {why}") from exc
        if listens_everywhere(host):
            log.warning(
                "the HTTP API listens on every interface (%s): it answers %s; "
                "anyone it answers can read the engine's status and plugins",
                host or "*", peers.describe(),
            )  # fmt: skip
        elif not is_loopback(host):
            log.warning(
                "the HTTP API listens on %s: it answers %s; anyone it answers can read it",
                host, peers.describe(),
            )  # fmt: skip

    def _open_midi(self, host: str) -> None:
        """Get ready for `/midi/*`: a MIDI process starts when one is asked for."""
        engine = ("127.0.0.1" if listens_everywhere(host) else host, self.port)
        self._midi = MidiRequests(
            engine, lambda: self.patch, self._midi_latency_ms, self._reply, self._error,
            self._tell,
        )  # fmt: skip
        c = self.config
        self._midi_out = MidiOutput(
            c.rate, c.block, self._io_counters_name, lambda: self.patch, self._reply,
            self._error, self._tell,
        )  # fmt: skip

    def _io_counters_name(self) -> str:
        assert self._io_counters is not None
        return self._io_counters.name

    def _midi_latency_ms(self) -> float:
        """The least fixed latency MIDI events can keep on this engine's device."""
        assert self._io_counters is not None
        device_us = int(self._io_counters.values[IoField.DEVICE_LATENCY_US])
        return least_latency_ms(self.config.lead, self.config.block, self.config.rate, device_us)

    def _publish_status(self) -> None:
        """Give the HTTP API a fresh copy of the status (a few times a second)."""
        assert self._http is not None
        self._http_next = time.monotonic() + PUBLISH_EVERY_S
        try:
            self._http.publish(self.status())
        except (TypeError, ValueError) as exc:  # a value JSON cannot hold: serve the last one
            log.warning("the status could not be published over HTTP: %s", exc)

    def _load_env_modules(self) -> None:
        """Import `CHRONUS_MODULES` (the old route) and list their types in the registry."""
        if not os.environ.get(MODULES_ENV, "").strip():
            return
        try:
            adopt_user_modules(self.registry, load_user_modules())
        except ImportError as exc:
            raise EngineStartError(str(exc)) from exc

    @staticmethod
    def _start_pool() -> SandboxPool:
        """The sandbox pool that validates plugins (its workers warm up in the background)."""
        return SandboxPool().start()

    @property
    def port(self) -> int:
        """The port actually bound, for UDP and TCP (useful with `--port 0`)."""
        assert self._osc is not None
        return self._osc.port

    @property
    def backend_kind(self) -> str:
        """`device` or `null`."""
        return "device" if self.backend_description.startswith("device") else "null"

    def _worker_config(self) -> WorkerConfig:
        """What every slot worker attaches to."""
        assert self._io_counters is not None and self._control is not None
        assert self._cpu_watch is not None and self._prepared is not None
        c = self.config
        return WorkerConfig(
            self._io_counters.name, self._control.name, c.rate, c.block, c.lead,
            cpu_stamps=self._cpu_watch.stamps.name, prepared=self._prepared.name,
        )  # fmt: skip

    def _start_flows(self) -> None:
        """The commit flow and the plugin loads, once the keeper holds the slots."""
        assert self._keeper is not None and self._control is not None
        assert self._io_counters is not None and self._pool is not None
        c = self.config
        self._commits = CommitFlow(
            self._keeper, self._control, self._io_counters, c.block, c.rate, self.next_stamp
        )
        self._loads = PluginLoads(
            self.registry,
            PluginStore(c.plugin_store or default_store()),
            default_folders(c.modules),
            self._keeper,
            self._commits,
            self._pool,
            self,
        )

    def _io_keeper(self) -> IoKeeper:
        assert self._keeper is not None and self._io_counters is not None
        assert self._control is not None and self._tap is not None
        c = self.config
        seats = self._keeper.seats
        io_config = IoConfig(
            rings=(seats[0].ring.name, seats[1].ring.name),
            tap=self._tap.name,
            counters=self._io_counters.name,
            control=self._control.name,
            backend=c.backend,
            rate=c.rate,
            block=c.block,
            device=c.device,
            cpu_stamps=self._cpu_watch.stamps.name if self._cpu_watch else "",
        )
        rings = (seats[0].ring, seats[1].ring)
        return IoKeeper(
            self._launcher, self._ctx, io_config, self._io_counters, rings, self._keeper.wakes,
            self._halt, lambda text: self._tell("engine", text),
        )  # fmt: skip

    # re-attaching -----------------------------------------------------------------------------

    def _hold_sockets(self) -> None:
        """Give the engine's parent the OSC sockets (and the HTTP API's, last) to hold, so
        that the ports outlive this supervisor and the one that takes over serves on them
        (`held_sockets`)."""
        if self._link is None or self._osc is None:
            return
        http = [self._http.socket] if self._http is not None else []
        try:
            hand_up(self._link, [*self._osc.sockets(), *http])
        except OSError:
            self._link = None  # the parent is gone: this process dies with it

    def _hand_down(self) -> None:
        """Give the engine's parent the manifest again if the processes changed since."""
        if self._link is None:
            return
        keeper = self._keeper
        if keeper is None:
            return
        workers = keeper.roles()
        recording = self._recorder.resumable() if self._recorder is not None else None
        plugins = plugins_in_use(keeper)
        isolated = "isolated" in keeper.hosting.values()  # else no patch walk every tick
        rings = hosted_rings(self.patch, self.hosted) if self.hosted and isolated else ()
        states = tuple((name, self.registry.state(name)) for name in self.registry.names())
        link = self._link_sync.kept() if self._link_sync is not None else None
        midi = self._midi.setup() if self._midi is not None else None
        midi_out = self._midi_out.kept() if self._midi_out is not None else ((), None)
        key = (
            self._io_pid(), self._io.spare_pid if self._io else 0, workers, recording,
            plugins, rings, states, link, midi, midi_out,
        )  # fmt: skip
        if key == self._handed:
            return
        self._handed = key
        manifest = self._manifest_now(workers, recording, plugins, rings, midi)
        if manifest is None:
            return
        try:
            self._link.send(("manifest", manifest))
        except OSError:
            self._link = None  # the parent is gone: this process dies with it

    def _manifest_now(
        self,
        workers: tuple[WorkerNames, ...],
        recording: tuple[str, str, int, int] | None,
        plugins: tuple[PluginInUse, ...],
        rings: tuple[HostedRing, ...],
        midi: MidiSetup | None,
    ) -> Manifest | None:
        keeper, io = self._keeper, self._io
        parts = (self._io_counters, self._control, self._tap, self._cpu_watch, self._prepared)
        if keeper is None or io is None or None in parts:
            return None
        assert self._io_counters and self._control and self._tap and self._prepared
        assert self._cpu_watch is not None
        seats = keeper.seats
        return Manifest(
            boot=self._boot,
            started_ns=self._started_ns,
            host=self.config.host,
            port=self.port,
            backend=self.backend_description,
            notice=self.notice,
            io=self._io_pid(),
            io_spare=io.spare_pid,
            io_counters=self._io_counters.name,
            control=self._control.name,
            tap=self._tap.name,
            cpu_stamps=self._cpu_watch.stamps.name,
            stampers=tuple(self._cpu_watch.pids),
            prepared=self._prepared.name,
            lifelines=keeper.deaths.lifelines.name if keeper.deaths else "",
            halt=semaphore_name(self._halt),
            wakes=(semaphore_name(keeper.wakes[0]), semaphore_name(keeper.wakes[1])),
            seats=(seats[0].names, seats[1].names),
            workers=workers,
            recording=None if recording is None else Recording(*recording),
            tallies=tuple({**keeper.tallies(), "io_restarts": io.restarts}.items()),
            timeline=keeper.timeline_kept(),
            midi_out=self._midi_out.kept()[0] if self._midi_out is not None else (),
            midi_clock=self._midi_out.kept()[1] if self._midi_out is not None else None,
            plugins=plugins,
            hosted=rings,
            registry=self.registry.export(),
            link=self._link_sync.kept() if self._link_sync is not None else None,
            midi=midi,
        )

    def reattach(self, manifest: Manifest, sockets: list[int] | None = None) -> str:
        """Take over a running engine whose supervisor died: its shared memory, its OSC
        port (the listening `sockets` the parent held, else bound again), its slots (a
        keeper rebuilt from the manifest and the command rings, the patch from the active
        slot's state), its audio I/O, the session log and a recording in progress; return
        the line to log. The slots and the I/O play on meanwhile.
        """
        c, m = self.config, manifest
        self._boot, self._started_ns = m.boot, m.started_ns
        self._load_env_modules()
        self._pool = self._start_pool()
        held = [socket.socket(fileno=fd) for fd in sockets or ()]
        http = held.pop() if held and c.http is not None else None
        try:
            peers = PeerFilter(c.allow)
            if held:
                self._osc = OscEndpoints.adopt(held, peers, PeerRates(c.peer_rate))
            else:
                self._osc = OscEndpoints.open(m.host, m.port, peers, PeerRates(c.peer_rate))
        except (OSError, ValueError) as exc:
            raise EngineStartError(f"cannot listen on {m.host}:{m.port} again: {exc}") from exc
        if http is not None:
            self._http = HttpApi.adopt(self.registry, http, peers.permits)
        elif c.http is not None:
            self._open_http(*c.http, peers)
        if not held:
            self._hold_sockets()
        self._open_midi(m.host)
        self._io_counters = SharedCounters.attach(m.io_counters, IoField.SIZE)
        self._control = SharedCounters.attach(m.control, ControlField.SIZE)
        self._tap = RecordTap.attach(m.tap)
        self._prepared = PreparedPatterns.attach(m.prepared)
        for part in (self._io_counters, self._control, self._tap, self._prepared):
            part.adopt()
        self._dated = DatedBundles(
            c.rate, c.block, self._io_counters.values, self._keeper_next_stamp,
            self._play_at, self._reply, self._error,
        )  # fmt: skip
        self._link_sync = self._make_link_sync(self._dated, self._io_counters)
        self._recorder = Recorder(self._tap)
        stampers = [p for pid in m.stampers if (p := self._adopt(pid, "chronus-cpu"))]
        self._cpu_watch = CpuWatch.adopt(m.cpu_stamps, stampers)
        self._halt = reopen_semaphore(m.halt)
        self._adopted_semaphores = [*m.wakes, m.halt]
        try:
            self._keeper = SlotKeeper(
                self._launcher, self._ctx, self._worker_config(), self._io_counters,
                self._control, lambda: self.patch, attach(m),
            )  # fmt: skip
            timeline = getattr(m, "timeline", ())  # unset in an older supervisor's manifest
            self._keeper.take_over(m.workers, dict(m.tallies), timeline)
            self._pacer.continue_after(self._keeper.last_stamp)
            refused = self._take_plugins(m)
            self._plugin_watch.settle(
                seat.counters.values for seat in self._keeper.seats if seat.worker is not None
            )
            self.patch, skipped, seed = patch_of_slots(self._keeper)
            if self._midi_out is not None:
                self._midi_out.forecast.seed(seed)
                routes = getattr(m, "midi_out", ()), getattr(m, "midi_clock", None)  # older: none
                self._midi_out.resume(*routes, seed.position)
        except (OSError, TakeoverError) as exc:
            raise EngineStartError(f"cannot take the running engine over: {exc}") from exc
        assert self.hosted is not None
        rehosted = rehost(m.hosted, self.patch, self.hosted)
        self._start_flows()
        self._io = self._io_keeper()
        self._io.restarts = dict(m.tallies).get("io_restarts", 0)
        self._io.adopt(self._adopt(m.io, "chronus-audio-io"), m.backend, m.notice)
        if (spare := self._adopt(m.io_spare, "chronus-audio-io")) is not None:
            spare.kill()  # it waits for a word only its dead maker could give
        self.backend_description, self.notice = m.backend, m.notice
        kept = getattr(m, "link", None)  # unset in an older supervisor's manifest
        if kept is not None:
            self._link_sync.resume(kept, self.patch.tempo)
        elif c.link:
            self._link_sync.enable(self.patch.tempo)
        sample = int(self._io_counters.values[IoField.CONSUMED]) * c.block
        self._continue_log(sample)
        if m.recording is not None:
            self._continue_recording(m.recording)
        midi = getattr(m, "midi", None)  # unset in an older supervisor's manifest
        if midi is not None and self._midi is not None:
            self._midi.resume(midi)
        self._hand_down()
        holding = sum(seat.worker is not None for seat in self._keeper.seats)
        if refused:
            log.error("plugins the slots use that this supervisor cannot hold: %s",
                      "; ".join(refused))  # fmt: skip
        if skipped:
            log.error(
                "%d commands of the slots' patch do not apply here (plugin types not loaded "
                "in this supervisor): those modules play on, but changes to them are refused",
                skipped,
            )
        self._keeper.report(
            f"the supervisor was replaced at sample {sample}; the new one holds {holding} slots",
            "engine",
        )
        return (
            f"a new supervisor took the running engine over at sample {sample} "
            f"(osc={m.host}:{self.port}, {holding} slots, {len(self.patch.modules)} modules, "
            f"{len(m.plugins) - len(refused)} plugins, {rehosted} isolated modules re-hosted, "
            f"the audio I/O {m.io or 'dead: restarting'})"
        )

    def _hosted_modules(self) -> HostedModules:
        """The isolated modules' rings and hosts, the hosts forked warm from the template
        where processes are."""
        assert self._control is not None
        c, launcher = self.config, self._launcher
        fork = launcher.start_warm if launcher.warm_forks else None
        return HostedModules(self._control.name, c.rate, c.block, fork)

    def _take_plugins(self, manifest: Manifest) -> list[str]:
        """Hold the plugins the slots use and the registry's records, as the dead supervisor
        did; its isolated types hosted here. What could not be held, and why."""
        c = self.config
        assert self._keeper is not None and self._control is not None
        self.hosted = self._hosted_modules()
        store = PluginStore(c.plugin_store or default_store())
        self.registry.adopt(manifest.registry, "its supervisor died while it was being loaded")
        return take_plugins(manifest.plugins, self._keeper, store, self.hosted)

    def _continue_log(self, sample: int) -> None:
        """Append to the session log: a line saying where the supervisor was replaced, then
        the commands the dead one had sent but not logged yet (once a slot took each)."""
        c = self.config
        if not c.log or self._keeper is None:
            return
        try:
            folder, name = self._files.for_operator(c.log)
            self._session_log = StampedLog(folder.where(name), c.rate, c.block, folder.opener(name))
            self._session_log.mark_takeover(sample, self.restarts)
            missing = unlogged(self._keeper, self._session_log)
        except (OSError, ValueError) as exc:
            log.error("the session log %s cannot be continued: %s", c.log, exc)
            if self._session_log is not None:
                self._session_log_failed(OSError(str(exc)))
            return
        now = time.monotonic()
        self._unlogged.extend((seq, stamp, message, now) for seq, stamp, message in missing)
        self._write_log()

    def _continue_recording(self, recording: Recording) -> None:
        """Go on writing the recording the dead supervisor was writing, or say why not."""
        assert self._recorder is not None and self._tap is not None
        try:
            text = resume_recording(self._recorder, recording, self.config.rate, self._tap.channels)
        except (OSError, ValueError) as exc:
            text = (
                f"the recording to {recording.name} ended with the supervisor: {exc}; the file "
                "holds what was written until then (a valid WAV)"
            )
            log.error("%s", text)
            self._tell("recording", text, recording.name)
            return
        log.warning("%s", text)
        self._tell("recording", text, recording.name)

    def _adopt(self, pid: int, name: str) -> ChildProcess | None:
        """A process a dead supervisor started, or None if it is gone too (the spare ends
        when its supervisor does)."""
        if pid <= 0:
            return None
        try:
            return self._launcher.adopt(pid, name)
        except ProcessLookupError:
            return None

    def _free_adopted(self) -> None:
        """Remove the names of the semaphores a dead supervisor made (this one re-opened
        them; the segments are unlinked by their new owners)."""
        for name in self._adopted_semaphores:
            unlink_semaphore(name)
        self._adopted_semaphores = []

    def request_quit(self, *_: object) -> None:
        """Ask the serve loop to stop (signal handlers and `/engine/quit` call this)."""
        self._quit = True

    def shutdown(self) -> None:
        """Stop the children, wait for them, and free the shared memory."""
        if self._midi is not None:
            self._midi.stop()
        if self._midi_out is not None:
            self._midi_out.stop()
        if self._link_sync is not None:
            self._link_sync.disable()
        if self._dated is not None and (dropped := self._dated.clear()):
            log.info("%d dated commands were still waiting for their time: not played", dropped)
        if self._control is not None:
            self._control.values[ControlField.RUN] = 0
        if self._io is not None:
            self._io.stop()
        if self._keeper is not None:
            if self._session_log is not None:
                self._write_log(final=True)
            self._keeper.shutdown()
        if self.hosted is not None:
            self._host_events(flush=True)
            self._log_hosts_down()
            self.hosted.close()
        self._free_adopted()
        if self._recorder is not None and self._recorder.recording:
            self._recording_ended(self._recorder.stop(), tell=False)
        if self._session_log is not None:
            try:
                if self._io_counters is not None:
                    consumed = int(self._io_counters.values[IoField.CONSUMED])
                    self._session_log.mark_end(consumed * self.config.block)
                self._session_log.close()
            except OSError as exc:
                self._session_log_failed(exc)
        owned_parts = (self._tap, self._io_counters, self._control, self._cpu_watch, self._prepared)
        for owned in owned_parts:
            if owned is not None:
                owned.close()
        self._keeper = None
        self._tap = self._io_counters = self._control = self._cpu_watch = None
        self._prepared = None
        if self._osc is not None:
            self._osc.close()
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._launcher.close()

    # serving ---------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve OSC until quit is requested; watch the children meanwhile."""
        assert self._osc is not None
        keeper, osc, io = self._keeper, self._osc, self._io
        assert keeper is not None and io is not None
        selector = selectors.DefaultSelector()
        osc.attach(selector)
        io.watch(selector)
        if keeper.deaths is not None:
            selector.register(keeper.deaths.fileno(), selectors.EVENT_READ, "lifeline")
        watched: set[Worker] = set()
        while not self._quit:
            for worker in keeper.workers():
                if worker not in watched:
                    watched.add(worker)
                    selector.register(worker.process.sentinel, selectors.EVENT_READ, worker)
                    selector.register(worker.conn, selectors.EVENT_READ, ("pipe", worker))
            dated = self._dated
            ready = selector.select(timeout=dated.wait_s(_TICK_S) if dated else _TICK_S)
            ready.sort(key=lambda event: event[0].data != "lifeline")  # before any sentinel
            for key, mask in ready:
                if osc.owns(key):
                    self._read_osc(key, mask)
                elif key.data == "lifeline" and keeper.deaths is not None:
                    for worker, seen_ns in keeper.deaths.take():
                        keeper.on_exiting(worker, seen_ns)
                elif key.data in ("io", "io-report"):
                    io.on_ready(key.data)
                elif isinstance(key.data, Worker):
                    selector.unregister(key.fileobj)
                    selector.unregister(key.data.conn)
                    watched.discard(key.data)
                    keeper.on_death(key.data)
                elif key.data[1] in watched:
                    keeper.on_message(key.data[1])
            keeper.tick()
            io.tick()
            if self._io_counters is not None:
                self._underruns.update(self._io_counters.values, time.monotonic_ns())
            if self._dated is not None:
                self._dated.tick()
            if self._midi is not None:
                self._midi.tick()
            if self._midi_out is not None:
                self._midi_out.tick(keeper.next_stamp())
            if self._link_sync is not None and self._keeper is not None:
                self._link_tick(self._link_sync)
            self._announcer.tick()
            self._hand_down()
            if (news := self._launcher.tick()) is not None:
                keeper.report(news)
            if self._unlogged:
                self._write_log()
            if self._commits is not None and (result := self._commits.tick()) is not None:
                self._commit_ended(result)
            if self._loads is not None:
                self._loads.tick()
            self._host_events()
            for module_id in keeper.take_quarantined():
                self._remove_quarantined(module_id)
            self._plugin_watch.tick(
                [seat.counters.values for seat in keeper.seats if seat.worker is not None],
                keeper.active.counters.values,
            )
            if self._recorder is not None:
                self._recorder.drain()
                if (done := self._recorder.take_finished()) is not None:
                    self._recording_ended(done)
            if self._http is not None and time.monotonic() >= self._http_next:
                self._publish_status()
        osc.detach(selector)
        selector.close()

    def _io_pid(self) -> int:
        """The audio I/O's pid (0: none now)."""
        return self._io.pid if self._io is not None else 0

    def _remove_quarantined(self, module_id: str) -> None:
        """Take a module that killed a slot out of the patch, in every slot, at one stamp.

        What fed it is connected to where it led, so a chain loses the module, not its sound
        (the slots already pass it through since they quarantined it).
        """
        if module_id not in self.patch.modules:
            return
        connections = self.patch.connections
        inputs = [src for src, dst in connections if dst == module_id]
        outputs = [dst for src, dst in connections if src == module_id]
        messages = [
            validate("/patch/connect", (src, dst))
            for src in inputs
            for dst in outputs
            if (src, dst) not in connections
        ]
        messages.append(validate("/patch/remove", (module_id,)))
        for message in messages:
            try:
                self.patch.apply(message)
            except PatchError:
                continue
            self._play(message, encode(message))
            self._changed(message, None)

    def remove_module(self, module_id: str) -> None:
        """Remove a module from the patch and the slots, with its fade (an unload)."""
        message = validate("/patch/remove", (module_id,))
        self.patch.apply(message)
        self._play(message)
        assert self._keeper is not None
        self._keeper.load_dropped()

    def _play(
        self, message: Message, payload: bytes | None = None, stamp: int | None = None
    ) -> None:
        """Stamp a command the patch has accepted, send it to the slots and log it.

        It applies at `stamp` if given (a dated bundle's sample), else at the first block with
        room for it in the pacer's budget (the next one unless a burst is being applied);
        `/panic` applies at once, ahead of any burst.
        """
        assert self._keeper is not None
        self._hosted_patch(message)
        message = on_the_wire(message)  # the log must hold what the slots get
        if stamp is None:
            earliest = self._keeper.next_stamp()
            if message.address == "/panic":
                stamp = earliest
            else:
                stamp = self._pacer.stamp(earliest, cost_us(message), force=True)
        seq = self._keeper.push(stamp, encode(message) if payload is None else payload)
        if self._midi_out is not None:
            self._midi_out.command(message, stamp)
        if self._session_log is not None:
            self._unlogged.append((seq, stamp, message, time.monotonic()))
            self._write_log()

    def _write_log(self, final: bool = False) -> None:
        """Log sent commands, in order, at the sample a slot applied each at.

        That is the stamp unless a slot had passed it when the command arrived (the
        supervisor was held up between stamping and pushing); then both slots apply it at the
        first sample both can (`decisions`), and the log must say the same.
        """
        assert self._keeper is not None and self._session_log is not None
        while self._unlogged:
            seq, stamp, message, sent = self._unlogged[0]
            sample = self._keeper.applied_at(seq)
            if sample is None:
                if not final and time.monotonic() - sent < _LOG_WAIT_S:
                    return
                sample = stamp
            self._unlogged.popleft()
            try:
                self._session_log.write(sample, message)
            except OSError as exc:
                self._session_log_failed(exc)
                return

    def _hosted_patch(self, message: Message) -> None:
        """An isolated module's ring is made before its `/patch/create` reaches a slot, and
        closed after its `/patch/remove`."""
        if self.hosted is None:
            return
        if message.address == "/patch/create":
            self.hosted.created(str(message.args[0]), str(message.args[1]))
        elif message.address == "/patch/remove":
            self.hosted.removed(str(message.args[0]))

    def _plugin_listing(self) -> list[dict[str, Any]]:
        """The registry's listing, each isolated plugin with its modules' hosts."""
        listing = self.registry.listing()
        for row in listing:
            self._with_hosts(row)
        return listing

    def _with_hosts(self, row: dict[str, Any]) -> None:
        """An isolated plugin's registry row gets its maker and host group (a native
        plugin's), and each of its modules' hosts."""
        if self.hosted is not None and row.get("runs_in") == "isolated":
            name = str(row["name"])
            row.update(self.hosted.type_info(name))
            row["hosts"] = self.hosted.health(name)

    def _host_events(self, flush: bool = False) -> None:
        """Poll the isolated modules' hosts; log their starts and bypassed calls, which an
        offline render needs to decide the same outcomes."""
        if self.hosted is None:
            return
        for module_id, event in self.hosted.tick(flush):
            if event.kind == "died":
                self._tell("plugin", f"{module_id}: {event.why}", module_id)
                continue
            if event.kind == "host":
                log.info("isolated module %s: host %d serves from call %d",
                         module_id, event.pid, event.call)  # fmt: skip
            if self._session_log is None:
                continue
            try:
                self._session_log.write_host(
                    module_id, event.kind, event.call, event.bypassed, event.life
                )
            except OSError as exc:
                self._session_log_failed(exc)

    def _log_hosts_down(self) -> None:
        """At the end, the isolated modules no host served (suspended, or between hosts): an
        offline render bypasses them past the log's last call too, as they would have been."""
        if self._session_log is None or self.hosted is None:
            return
        for module_id, health in self.hosted.health().items():
            if health["host_state"] != "running":
                try:
                    life = self.hosted.life(module_id)
                    self._session_log.write_host(module_id, "down", -1, (), life)
                except OSError as exc:
                    self._session_log_failed(exc)
                    return

    def _session_log_failed(self, exc: OSError) -> None:
        """A full disk (or a failing one) ends the session log, never the engine."""
        assert self._session_log is not None
        log.error(
            "the session log %s stopped: %s; the engine goes on without it",
            self._session_log.path, exc.strerror or exc,
        )  # fmt: skip
        try:
            self._session_log.close()
        except OSError:
            pass  # already said: the log is cut short
        self._session_log_stopped = str(exc.strerror or exc)
        self._session_log = None
        self._unlogged.clear()

    def _commit_ended(self, result: CommitResult) -> None:
        reload = self._loads is not None and self._loads.committed(result)
        creates, self._committing = self._committing, []
        if not result.ok:
            self._unhost_created(creates)
            if not reload:
                self._error(
                    result.addr, "/patch/commit", f"commit failed: {result.text}; nothing changed"
                )
            return
        for index, message in enumerate(result.messages):
            if message.address in SLOT_ONLY:
                continue
            if message.address == "/patch/remove" and not _made_again(result.messages, index):
                self._hosted_patch(message)
            try:
                self.patch.apply(message)
            except PatchError as exc:
                log.warning("committed %s no longer applies to the patch: %s", message.address, exc)
                continue
            if self._midi_out is not None:
                self._midi_out.command(message, result.switch)
            self._changed(message, None if reload else result.addr)
        if self.hosted is not None:
            self.hosted.committed(result.crossfade / self.config.rate)
        if self._session_log is not None:
            try:
                self._session_log.write_commit(
                    result.stamp, result.switch, result.crossfade, result.messages
                )
            except OSError as exc:
                self._session_log_failed(exc)
        if not reload:
            self._reply(result.addr, "/patch/committed", result.stamp, result.text)

    def _unhost_created(self, creates: list[Message]) -> None:
        """The rings of a commit's modules that will not be made after all."""
        if self.hosted is not None:
            for create in creates:
                self.hosted.cancelled(str(create.args[0]))

    def _read_osc(self, key: selectors.SelectorKey, mask: int) -> None:
        assert self._osc is not None
        for addr, data in self._osc.ready(key, mask):
            self._read_ns = time.time_ns()
            self._received += 1
            self._announcer.heard(addr)
            try:
                if isinstance(data, BadFrame):
                    self._error(addr, "", data.reason)
                else:
                    self.handle_packet(data, addr)
            except Exception as exc:  # no packet may take the engine down, whatever it holds
                self._internal_error(addr, exc)

    def _internal_error(self, addr: Any, exc: Exception, address: str = "") -> None:
        """Count a packet (or one message of it) that raised out of its handling; log the
        first few in full, so that a flood of them cannot flood the log."""
        self._internal_errors += 1
        if self._internal_errors <= _LOGGED_INTERNAL_ERRORS:
            what = address or "a packet"
            log.error("internal error handling %s from %s", what, addr, exc_info=exc)
        try:
            self._error(addr, address, f"internal error: {exc!r}")
        except Exception:  # the sender's address itself may be the fault
            log.debug("no /error for an internal error to %s", addr)

    def _tell(self, kind: str, text: str, about: str = "") -> None:
        """An engine event for clients (`/engine/now`), beside the keeper's own."""
        if self._keeper is not None:
            self._keeper.tell(kind, text, about)

    def _tell_subscriber(self, addr: Any, packet: bytes) -> bool:
        return self._osc is not None and self._osc.tell(addr, packet)

    def _reply(self, addr: Any, address: str, *args: Arg) -> None:
        assert self._osc is not None
        self._osc.reply(addr, address, *args)

    def _error(self, addr: Any, address: str, text: str) -> None:
        self._errors += 1
        self._reply(addr, "/error", address, text)

    def handle_packet(self, data: bytes, addr: Any) -> None:
        """Validate and act on one packet (a datagram, or a frame from TCP); never raises.

        Replies go to `addr`: a UDP `(host, port)` or a TCP peer. The commands of a dated
        bundle apply at the sample its time tag names (see `dated`); requests to the engine
        itself are answered at once, whatever their tag.
        """
        try:
            timed = parse_timed(data)
        except ProtocolError as exc:
            self._error(addr, "", str(exc))
            return
        if len(timed) > 1 and self._osc is not None:
            self._osc.charge(addr, len(timed) - 1)  # a bundle costs its peer every message
        if len(timed) == 1 and timed[0][0] == IMMEDIATELY:  # the common case, as before
            self._handle(((address, args) for _, address, args in timed), addr)
            return
        for tag, group in itertools.groupby(timed, key=lambda item: item[0]):
            messages = [(address, args) for _, address, args in group]
            if tag == IMMEDIATELY:
                self._handle(messages, addr)
            elif (commands := self._handle(messages, addr, hold=True)) and self._dated is not None:
                if all(address in MIDI_EVENTS for address, _ in messages):
                    self._take_midi(tag, commands, addr)
                else:
                    self._dated.take(tag, commands, addr)

    def _take_midi(self, tag: int, commands: list[Message], addr: Any) -> None:
        """The commands of MIDI events, dated by the MIDI process: at the sample their tag
        names, which may be in the block a slot renders now (`DatedBundles.take_live`), but
        never before a command stamped already (typed a moment before, a paced burst): the
        slots then apply them in the order the patch here did."""
        assert self._dated is not None and self._keeper is not None and self._midi is not None
        now_ns = time.time_ns()
        earliest = self._pacer.backlog(self._keeper.unfinished_stamp())
        room = self._dated.take_live(tag, commands, addr, earliest)
        sent_ns = time.time_ns()
        self._midi.stamped(tag, self._read_ns, now_ns, sent_ns, room / self.config.rate)

    def _handle(
        self, raw: Iterable[tuple[str, tuple[Arg, ...]]], addr: Any, hold: bool = False
    ) -> list[Message]:
        """Validate messages and answer requests; play the commands, or with `hold` return
        them (validated against the address space, not yet the patch)."""
        held: list[Message] = []
        for address, args in raw:
            try:
                message = validate(address, args)
            except ProtocolError as exc:
                self._error(addr, address if isinstance(address, str) else "", str(exc))
                continue
            try:
                if message.address in SLOT_ONLY:
                    self._error(addr, message.address, "only the engine sends this to its slots")
                elif message.address in ENGINE_ONLY or message.pattern in ENGINE_ONLY:
                    self._engine_request(message, addr)
                elif message.address in MIDI_EVENTS and self._midi is not None:
                    self._announcer.subscribers.name_sender(addr, self._midi.input.name)
                    commands = self._midi.translate(message)
                    if hold:
                        held.extend(commands)
                    else:
                        for command in commands:
                            self._command(command, addr)
                elif hold:
                    held.append(message)
                else:
                    self._command(message, addr)
            except Exception as exc:  # a bug in one handler must not take the engine down
                self._internal_error(addr, exc, message.address)
        return held

    def _play_at(self, stamp: int | None, commands: list[Message], addr: Any) -> None:
        """Play a dated bundle's commands at `stamp` (None: as soon as they can)."""
        for message in commands:
            try:
                self._command(message, addr, stamp)
            except Exception as exc:  # as in `_handle`
                self._internal_error(addr, exc, message.address)

    def _keeper_next_stamp(self) -> int:
        """The first sample no slot can have started rendering (a dated command's earliest)."""
        assert self._keeper is not None
        return self._keeper.next_stamp()

    def next_stamp(self) -> int:
        """The first sample a command sent now could apply at: beyond what any slot can have
        started rendering, and after the commands already paced into later blocks."""
        if self._keeper is None:  # re-attached: past what the slots may have rendered
            assert self._io_counters is not None
            blocks = int(self._io_counters.values[IoField.CONSUMED]) + 2 * self.config.lead
            return blocks * self.config.block
        return self._pacer.backlog(self._keeper.next_stamp())

    def _command(self, message: Message, addr: Any, stamp: int | None = None) -> None:
        """Check a command against the patch and play it: at `stamp` if given (a dated one,
        which a staged change does not hold), else as soon as it can."""
        message = on_the_wire(message)  # one the engine made (MIDI's): as the slots get it
        keeper = self._keeper
        assert keeper is not None
        commits = self._commits
        link = self._link_sync
        if stamp is None and link is not None and link.enabled and self._linked(message, addr):
            return
        staged = stamp is None and message.address.startswith(_STAGED)
        if staged and commits is not None and commits.staging:
            try:
                warnings = commits.stage(message)
            except PatchError as exc:
                self._error(addr, message.address, str(exc))
                return
            text = pattern_text(message)
            if text is not None and self._prepared is not None:
                self._prepared.put(parse_cached(text))
            for warning in warnings:
                self._reply(addr, "/warning", message.address, warning)
            return
        if not keeper.room():
            self._error(addr, message.address, "engine busy: command queue full, nothing changed")
            return
        payload = encode(message)
        if len(payload) > keeper.max_payload:
            self._error(addr, message.address, "message too large, nothing changed")
            return
        if message.address == "/patch/create" and (load := self._dsp_load()) > CREATE_LOAD_LIMIT:
            self._error(
                addr, message.address,
                f"the engine renders at {100 * load:.0f} % of its time (the limit for adding "
                f"modules is {100 * CREATE_LOAD_LIMIT:.0f} %); nothing changed — remove or "
                "stop something first",
            )  # fmt: skip
            return
        if stamp is None and not self._pacer.has_room(keeper.next_stamp(), cost_us(message)):
            self._error(
                addr, message.address,
                f"engine busy: over {MAX_BACKLOG_S:g} s of changes are queued; nothing changed",
            )  # fmt: skip
            return
        try:
            warnings = self.patch.apply(message)
        except PatchError as exc:
            self._error(addr, message.address, str(exc))
            return
        text = pattern_text(message)
        if text is not None and self._prepared is not None:
            self._prepared.put(parse_cached(text))  # parsed by the patch's check: the slots load it
        self._play(message, payload, stamp)
        self._changed(message, addr)
        self._commands += 1
        if message.address == "/patch/remove":
            keeper.load_dropped()
        for warning in warnings:
            self._reply(addr, "/warning", message.address, warning)

    def _linked(self, message: Message, addr: Any) -> bool:
        """While in a Link session: a tempo goes to the session (chronus follows it), and a
        command that starts the transport waits for the session's next bar line. Whether
        `message` was taken so."""
        link, dated = self._link_sync, self._dated
        assert link is not None and dated is not None
        if message.address == "/tempo":
            link.typed_tempo(float(message.args[0]))
            self._typed_tempo = (addr, float(message.args[0]))
            return True
        if message.address == "/seq/stop" and link.peer.start_stop:
            link.typed_transport(False)  # the session stops now, chronus on its bar line
            at = link.bar_stamp(self.next_stamp())
        elif starts_transport(message):
            view = self._transport()
            running = view is not None and view.running
            at = link.start_stamp(self.next_stamp(), running)
            if not running:
                link.typed_transport(True)
        else:
            return False
        if at is None:
            return False
        dated.place(at, [message], addr)
        return True

    def _changed(self, message: Message, origin: Any) -> None:
        """Tell the subscribed clients of a change the slots took (`origin` None: the engine
        made it)."""
        self._announcer.changed(message, origin)

    def _dsp_load(self) -> float:
        """The active slot's render time over the last blocks (90th percentile), as a share
        of a block's period; the time it spent applying commands left out (a paced burst of
        creates would otherwise refuse its own tail)."""
        assert self._keeper is not None
        recent = recent_dsp_timings(self._keeper.active.counters.values, _LOAD_BLOCKS)
        if not recent:
            return 0.0
        period_ns = 1e9 * self.config.block / self.config.rate
        return float(sorted(recent)[int(0.9 * (len(recent) - 1))]) / period_ns

    def _engine_request(self, message: Message, addr: Any) -> None:
        if message.address in _COSTLY and self._osc is not None and self._osc.spent(addr):
            return  # its reply would be cut: a remote UDP peer's packet earned no more
        if message.address == "/engine/status":
            self._reply(addr, "/engine/status", json.dumps(self.status()))
        elif message.address == "/engine/now":
            self._reply(addr, "/engine/now", json.dumps(self.now()))
        elif message.address == "/engine/dump":
            # The rate too: a client turns lengths in seconds into frames with it.
            dump = {
                **self.patch.to_dict(),
                "rate": self.config.rate,
                "plugins": self._loads.in_use() if self._loads else {},
                "plugin_types": self._loads.types() if self._loads else {},
            }
            self._reply(addr, "/engine/dump", json.dumps(dump))
        elif message.address == "/engine/sync":
            self._reply(addr, "/engine/synced", message.args[0], self.next_stamp())
        elif message.address == "/engine/quit":
            self._reply(addr, "/engine/quit", "bye")
            self.request_quit()
        elif message.address == "/plugins":
            self._reply(addr, "/plugins", json.dumps(self._plugin_listing()))
        elif message.address in ("/notify", "/clients"):
            self._announcer.request(message, addr)
        elif message.pattern == "/plugins/{name}/health":
            name = message.fields["name"]
            try:
                health = self.registry.health(name)
            except KeyError:
                self._error(addr, message.address, f"no plugin called {name!r}")
                return
            self._with_hosts(health)
            self._reply(addr, "/plugins/health", json.dumps(health))
        elif message.address.startswith("/patch/"):
            self._commit_request(message, addr)
        elif message.address.startswith("/record/"):
            self._record_request(message, addr)
        elif message.address in _MIDI_OUT and self._midi_out is not None:
            self._midi_out.request(message, addr, self.next_stamp())
        elif message.address.startswith("/midi/") and self._midi is not None:
            self._midi.request(message, addr)
        elif message.address.startswith("/link"):
            self._link_request(message, addr)
        elif message.address.startswith("/plugins/") and self._loads is not None:
            if self._keeper is not None and self._keeper.adopted:
                self._error(addr, message.address, _RENEWING)
                return
            self._loads.request(message, addr)

    def _commit_request(self, message: Message, addr: Any) -> None:
        commits = self._commits
        assert commits is not None
        try:
            if message.address == "/patch/begin":
                commits.begin(self.patch)
            elif message.address == "/patch/abort":
                held = commits.abort()
                self._reply(addr, "/patch/aborted", held)
            else:
                fade = float(message.args[0]) if message.args else DEFAULT_CROSSFADE_MS
                silence_ok = len(message.args) > 1 and bool(message.args[1])
                creates = [m for m in commits.staged if m.address == "/patch/create"]
                for create in creates:  # the standby makes them: their rings first
                    self._hosted_patch(create)
                try:
                    commits.commit(fade, addr, silence_ok)
                except CommitError:
                    self._unhost_created(creates)
                    raise
                self._committing = creates
        except CommitError as exc:
            self._error(addr, message.address, str(exc))

    def _record_request(self, message: Message, addr: Any) -> None:
        recorder = self._recorder
        assert recorder is not None and self._io_counters is not None
        if message.address == "/record/stop":
            if not recorder.recording:
                self._error(addr, message.address, "not recording")
                return
            self._record_starter = addr
            self._recording_ended(recorder.stop())
            return
        path = str(message.args[0])
        frames = int(message.args[1]) if len(message.args) > 1 else None
        first = int(self._io_counters.values[IoField.CONSUMED]) + 1
        files = self._files
        try:
            recorder.start(
                files.where(path), self.config.rate, from_block=first, frames=frames,
                opener=files.opener(path, wav=True), name=path,
            )  # fmt: skip
        except (OSError, ValueError) as exc:
            self._error(addr, message.address, f"cannot record to {path}: {exc}")
            return
        self._record_starter = addr
        if self._session_log is not None:
            self._session_log.mark_recording(first * self.config.block, path)
        length = () if frames is None else (frames,)
        self._reply(addr, "/record/started", path, first * self.config.block, *length)

    def _link_request(self, message: Message, addr: Any) -> None:
        """`/link <0|1>` joins or leaves the Link session, `/link/quantum <beats>` sets the
        phase, `/link/sync <0|1>` shares start/stop or not; the reply is Link's status as JSON."""
        link = self._link_sync
        assert link is not None
        if message.address == "/link/quantum":
            link.set_quantum(int(message.args[0]))
        elif message.address == "/link/sync":
            link.set_start_stop(bool(message.args[0]))
        elif int(message.args[0]):
            link.enable(self.patch.tempo)
        else:
            link.disable()
        self._reply(addr, "/link", json.dumps(link.status(self.patch.tempo)))

    def _recording_ended(self, done: dict[str, Any], tell: bool = True) -> None:
        """A recording ended (stopped, at its length, or cut short by a full disk): say so to
        whoever started or stopped it (if still there), with an `/error` first if cut short."""
        path, frames = str(done["path"]), int(done["frames"])
        starter = self._record_starter if tell else None
        if done.get("error"):
            text = (
                f"recording to {path} stopped: {done['error']}; the file holds {frames} frames "
                f"({done['seconds']:.3f} s)"
            )
            log.error("%s", text)
            if starter is not None:
                self._error(starter, "/record/start", text)
            self._tell("recording", text, path)
        else:
            log.info("recorded %d frames (%.3f s) to %s", frames, done["seconds"], done["file"])
            self._tell("recording", f"recorded {done['seconds']:.1f} s to {done['file']}", path)
        if starter is not None:
            self._reply(starter, "/record/stopped", path, frames)

    # health ----------------------------------------------------------------------------------

    def now(self) -> dict[str, Any]:
        """What plays now, for a live toolbar: values held here or read from shared counters,
        nothing that grows with the patch (see `now.py`)."""
        c = self.config
        keeper, io, tap = self._keeper, self._io_counters, self._tap
        consumed = int(io.values[IoField.CONSUMED]) if io is not None else 0
        sample = max(0, consumed - 1) * c.block
        transport = read_transport(keeper.active.counters.values) if keeper else None
        beat = beat_at(transport, sample)
        peak, rms = output_level(tap, level_blocks(c.rate, c.block)) if tap else ([], [])
        load = 0.0
        if keeper is not None:
            render_ns = timing_median(keeper.active.counters.values, SlotField.TIMING_COUNT)
            load = render_ns * c.rate / (1e9 * c.block)
        recorder = self._recorder
        recording = None
        if recorder is not None and recorder.recording:
            seconds = recorder.status()["frames"] / c.rate
            recording = {"path": str(recorder.path), "seconds": round(seconds, 2)}
        return {
            "boot": self._boot,
            "sample": sample,
            "beat": None if beat is None else round(beat, 4),
            "bpm": round(tempo_of(transport, c.rate) or self.patch.tempo, 3),
            "running": beat is not None,
            "peak_db": peak,
            "rms_db": rms,
            "dsp_load": round(load, 4),
            "xruns": int(io.values[IoField.XRUNS]) if io is not None else 0,
            "underruns": int(io.values[IoField.UNDERRUNS]) if io is not None else 0,
            "failovers": keeper.failovers if keeper else 0,
            "active": keeper.active.name if keeper and keeper.active.worker else None,
            "recording": recording,
            "events": keeper.news.latest() if keeper else [],
            "link": self._link_now(),
        }

    def _link_now(self) -> dict[str, Any] | None:
        """Link for `/engine/now`: peers and phase error while on, else None."""
        link = self._link_sync
        if link is None or not link.enabled:
            return None
        return {"peers": link.peer.peers, "phase_error_ms": link.phase_error_ms(self.patch.tempo)}

    def status(self) -> dict[str, Any]:
        """Health of the engine, its slots and its audio I/O, as plain data."""
        c = self.config
        io: dict[str, Any] = {}
        if self._io_counters is not None:
            v = settled_io(self._io_counters.values)  # the counts agree with the clock
            io = summary(self._io_counters, IoField)
            io.update(
                backend=self.backend_kind,
                device=self.backend_description,
                realtime=bool(v[IoField.REALTIME]),
                blocks_played=int(v[IoField.CONSUMED]),
                sounding_blocks=int(v[IoField.SOUNDING_BLOCKS]),
                last_onset_age_s=(
                    round((time.monotonic_ns() - int(v[IoField.LAST_ONSET_NS])) / 1e9, 3)
                    if v[IoField.LAST_ONSET_NS]
                    else None
                ),
                xruns=int(v[IoField.XRUNS]),
                xruns_in_host_stalls=int(v[IoField.XRUNS_IN_HOST_STALLS]),
                long_callbacks=int(v[IoField.LONG_CALLBACKS]),
                long_callbacks_in_host_stalls=int(v[IoField.LONG_CALLBACKS_IN_HOST_STALLS]),
                burst_waits=int(v[IoField.BURST_WAITS]),
                burst_saves=int(v[IoField.BURST_SAVES]),
                underruns=int(v[IoField.UNDERRUNS]),
                covered_by_standby=int(v[IoField.COVERED]),
                one_sided_fades=int(v[IoField.ONE_SIDED_FADES]),
                last_underrun_block=int(v[IoField.LAST_UNDERRUN_BLOCK]),
                recent_underruns=underrun_log(v, c.block, c.rate),
                underrun_spells=self._underruns.rows(),
                wrong_size_callbacks=int(v[IoField.WRONG_SIZE]),
                callback=timing_percentiles(v, IoField.TIMING_COUNT),
                device_latency_ms=round(int(v[IoField.DEVICE_LATENCY_US]) / 1000.0, 3),
                last_onset_ns=int(v[IoField.LAST_ONSET_NS]),
                last_block_ns=int(v[IoField.LAST_BLOCK_NS]),
                **(self._io.status() if self._io is not None else {}),
            )
        keeper = self._keeper
        slots = keeper.status() if keeper is not None else []
        period_us = 1e6 * c.block / c.rate
        active = [slot for slot in slots if slot["role"] == "active"]
        dsp_load = active[0]["render"]["p50_us"] / period_us if active else 0.0
        return {
            "engine": {
                "version": __version__,
                "uptime_s": round((time.monotonic_ns() - self._started_ns) / 1e9, 3),
                "rate": c.rate,
                "block": c.block,
                "block_from": c.block_from,
                "lead": c.lead,
                "lead_ms": round(c.lead_ms, 3),
                "dsp_load": round(dsp_load, 4),
                "failovers": keeper.failovers if keeper else 0,
                "last_death_seen_ns": keeper.last_death_ns if keeper else 0,
                "deaths_seen_by": "lifelines" if keeper and keeper.deaths else "sentinels",
                "last_rejoin": dict(keeper.last_rejoin) if keeper else {},
                "respawns": keeper.respawns if keeper else 0,
                "supervisor": {
                    "pid": os.getpid(),
                    "restarts": self.restarts,
                    "holds_slots": keeper is not None,
                    "renewing": bool(keeper and keeper.adopted),
                    "standby": reaped.standby() if (reaped := self._launcher.reaped) else 0,
                },
                "divergences": keeper.divergences if keeper else 0,
                "overtaken_commands": keeper.overtaken if keeper else 0,
                "commands_kept": keeper.commands_kept if keeper else 0,
                "first_overtaken_sample": keeper.first_overtaken if keeper else -1,
                "commits": self._commits.commits if self._commits else 0,
                "failed_commits": self._commits.failed if self._commits else 0,
                "split_commits": self._commits.split_commits if self._commits else 0,
                "staging": bool(self._commits and self._commits.staging),
                "quarantined": dict(keeper.quarantined) if keeper else {},
                "plugins_in_use": self._loads.in_use() if self._loads else {},
                "plugin_role_swaps": keeper.plugins.swaps if keeper else 0,
                "template": self._launcher.status(),
                "events": list(keeper.events) if keeper else [],
                "timeline": keeper.timeline() if keeper else [],
                "notify": self._announcer.status(),
                "osc": {
                    "received": self._received + (self._osc.rates.shed if self._osc else 0),
                    "errors": self._errors,
                    "commands": self._commands,
                    "internal_errors": self._internal_errors,
                    "dated_bundles": self._dated.bundles if self._dated else 0,
                    "late": self._dated.late if self._dated else 0,
                    "dated_waiting": self._dated.waiting if self._dated else 0,
                    **(self._osc.status() if self._osc else {}),
                },
                "recording": self._recorder.status() if self._recorder else {},
                "http": self._http.status() if self._http else {},
                "midi": self._midi.status if self._midi else {},
                "midi_out": self._midi_out.status if self._midi_out else {},
                "notice": self.notice,
                "log": str(Path(c.log).resolve()) if c.log else None,
                "session_log": {
                    "writing": self._session_log is not None,
                    "stopped": self._session_log_stopped,
                },
                "leftovers": self._leftovers.summary(),
                "link": self._link_sync.status(self.patch.tempo) if self._link_sync else {},
            },
            "io": io,
            "slots": slots,
            "host": self._host_status(),
            "plugins": self._plugin_listing(),
        }

    def _host_status(self) -> dict[str, Any]:
        """The host stalls the CPU stampers saw; `watched` is false where none can run."""
        stamps = self._cpu_watch.stamps if self._cpu_watch else None
        if stamps is None or not stamps.realtime:
            return {"watched": False, "stalls": 0, "longest_stall_ms": 0.0}
        seen = stamps.stalls()
        return {
            "watched": True,
            "stalls": int(seen["count"]),
            "longest_stall_ms": seen["longest_ms"],
        }
