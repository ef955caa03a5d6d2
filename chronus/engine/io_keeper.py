"""The I/O keeper: starts the audio I/O process, and a new one when it dies.

When the audio I/O dies (its sentinel fires), the keeper's `StandIn` takes the sample clock
at once and moves it on its grid, so the slots render on as if the device took their blocks
(see `io_clock`); a new I/O is started through the launcher with the same `IoConfig`
(`resume` set), opens the device, and takes the clock back on its first callback after the
keeper lets go. The blocks between are counted as missed, not played late. Restarts follow a
`RespawnPolicy` (at once, then after 2 s and 10 s, then suspended; a suspended I/O is tried
again after `RETRY_SUSPENDED_S`). On a device, a spare I/O waits warm (PortAudio loaded and
the device opened once, which costs ~0.5 s on JACK; see `audio_io._warm_spare`): a restart
posts its `go` instead of starting a process, and a new spare is made once the I/O plays. On
JACK the spare is a standby (`spare_kind`): its device runs, writing silence, so its `go`
opens nothing.
Each death is told once to clients, when its outcome is known: the output back, a later
restart, or a suspension.
"""

from __future__ import annotations

import logging
import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Semaphore
from typing import Any, Final

from chronus.engine.audio_io import IoConfig, io_main
from chronus.engine.backoff import RespawnPolicy
from chronus.engine.io_clock import StandIn
from chronus.engine.launcher import ChildProcess, Launcher, LaunchError
from chronus.engine.rings import AudioRing, SharedCounters
from chronus.engine.stats import IoField, ProcessState

__all__ = ["OPEN_TIMEOUT_S", "RETRY_SUSPENDED_S", "IoKeeper", "spare_kind"]

RETRY_SUSPENDED_S: Final = 30.0
"""An I/O whose restarts were suspended (a crash loop) is tried again after this long."""
OPEN_TIMEOUT_S: Final = 10.0
"""A restarted I/O whose device has not called back this long after its start is killed
(and its death follows the policy): a device that never runs must not hold the clock."""
SPARE_AFTER_S: Final = 2.0
"""A spare I/O is made this long after the I/O plays (or after the last spare died, doubling
up to a minute while spares keep dying)."""
SPARE_KINDS: Final = ("warm", "standby", "none")
SPARE: Final = os.environ.get("CHRONUS_IO_SPARE", "")
"""The spare I/O on a device (`CHRONUS_IO_SPARE`, for measurements): `warm` (the device
opened once, closed), `standby` (it runs its device, silent, while it waits:
`IoConfig.standby`) or `none` (every restart starts a process); unset, `spare_kind` chooses."""
JACK_API: Final = "(JACK Audio Connection Kit)"
"""How PortAudio names JACK's host API, at the end of a device's description."""


def spare_kind(description: str, chosen: str | None = None) -> str:
    """The spare I/O for the device `description` names: `chosen` (default `SPARE`) if it is
    one of `SPARE_KINDS`; else a standby on JACK, which sums its clients' outputs (measured in
    docs/PERFORMANCE.md, "The standby I/O on JACK"), and a warm spare on any other device,
    which may let only one client hold it.

    >>> spare_kind("device: system " + JACK_API, ""), spare_kind("device: hw:0 (ALSA)", "")
    ('standby', 'warm')
    >>> spare_kind("device: system " + JACK_API, "warm")
    'warm'
    """
    chosen = SPARE if chosen is None else chosen
    if chosen in SPARE_KINDS:
        return chosen
    return "standby" if description.endswith(JACK_API) else "warm"


_NAME: Final = "chronus-audio-io"
log = logging.getLogger("chronus.engine")


@dataclass(slots=True)
class _Spare:
    """A spare I/O: its process, its report pipe and the semaphore that makes it go."""

    process: ChildProcess
    conn: Connection
    go: Semaphore
    warm: bool = False


class IoKeeper:
    """Owns the audio I/O process: its start, its death, its restarts and the clock meanwhile.

    `tell(text)` is how the keeper tells clients an event (once per death). The serve loop
    gives the keeper its selector (`watch`), passes on what fires for it (`on_ready`) and
    calls `tick` every turn.
    """

    def __init__(
        self,
        launcher: Launcher,
        ctx: SpawnContext,
        config: IoConfig,
        counters: SharedCounters,
        rings: tuple[AudioRing, AudioRing],
        wakes: tuple[Semaphore, Semaphore],
        halt: Semaphore,
        tell: Callable[[str], None],
    ) -> None:
        self._launcher = launcher
        self._ctx = ctx
        self._config = config
        self._v = counters.values
        self._wakes = wakes
        self._halt = halt
        self._tell = tell
        period_ns = config.block * 1_000_000_000 // config.rate
        self.stand_in = StandIn(self._v, rings, wakes, period_ns)
        self.policy = RespawnPolicy()
        self.process: ChildProcess | None = None
        self._conn: Connection | None = None
        self._selector: selectors.BaseSelector | None = None
        self.description = ""
        self.notice = ""
        self.restarts = 0
        self.state = "starting"
        """`running`, `restarting` (a new I/O opens the device), `waiting` (a restart is due
        later), `suspended` or `stopped`."""
        self._started_ns = 0
        self._killed = False
        self._due = 0.0
        self._died: dict[str, Any] = {}
        """The last death: code, when it was seen, and blocks missed before it."""
        self._spare: _Spare | None = None
        self._spare_due = 0.0
        self._spare_wait_s = SPARE_AFTER_S
        self.spares_used = 0
        self.last_restart: dict[str, Any] = {}
        """The last restart that played again: code, gap_ms (death seen to first block
        played), blocks_missed, the time the output resumed (CLOCK_MONOTONIC ns), the
        clock's block when the death was seen and the block played first after it, and when
        the new I/O's device ran (the clock handed over to it), in ms after the death."""

    @property
    def pid(self) -> int:
        """The running I/O's pid (0 while there is none)."""
        return int(self.process.pid or 0) if self.process is not None else 0

    @property
    def spare_pid(self) -> int:
        """The spare I/O's pid (0 while there is none)."""
        return int(self._spare.process.pid or 0) if self._spare is not None else 0

    # -- start and stop ------------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """Start the first I/O and wait until it is ready (`description`, `notice`).

        Raises `RuntimeError` (with the I/O's own words) if it cannot start.
        """
        try:
            self._launch(self._config)
        except LaunchError as exc:
            raise RuntimeError(str(exc)) from exc
        assert self._conn is not None
        if not self._conn.poll(timeout):
            raise RuntimeError("the audio I/O did not start in time")
        reply = self._conn.recv()
        if reply[0] != "ready":
            raise RuntimeError(reply[1])
        self.description, self.notice = reply[1], reply[2]
        self.state = "running"
        # A restart plays on what the first one found: a device that fails then is an error
        # (and a later try), not a silent fall back to the null backend.
        chosen = "device" if self.description.startswith("device") else "null"
        self._config = replace(self._config, backend=chosen)
        self._spare_due = time.monotonic() + SPARE_AFTER_S

    def adopt(self, process: ChildProcess | None, description: str, notice: str) -> None:
        """Take over the I/O a supervisor before this one started (it died; the I/O plays
        on). It has no report pipe to this keeper (its own led to the dead one): its death
        is seen by its pidfd, and its successors report as usual. With `process` None (it
        died with the supervisor, or while none listened) a new one is started at the
        first `tick`, the stand-in holding the clock meanwhile. If the dead supervisor's
        stand-in held the clock (it was restarting the I/O), this one holds it on, and hands
        it to `process` once its device calls back, as if it had started it."""
        self.description, self.notice = description, notice
        chosen = "device" if description.startswith("device") else "null"
        self._config = replace(self._config, backend=chosen)
        self._spare_due = time.monotonic() + SPARE_AFTER_S
        now_ns = time.monotonic_ns()
        held = self.stand_in.holding
        if process is not None and not held:
            self.process, self._conn = process, None
            self._started_ns = now_ns
            self.state = "running"
            return
        self._died = {
            "code": None, "seen_ns": now_ns, "block": int(self._v[IoField.CONSUMED]),
            "missed": int(self._v[IoField.BLOCKS_MISSED]),
        }  # fmt: skip
        if process is not None:  # a restarted I/O, opening its device
            self.process, self._conn = process, None
            self._started_ns = now_ns
            self.state = "restarting"
            return
        if not held:
            self.stand_in.hold(now_ns)
        self._v[IoField.STATE] = ProcessState.DEAD
        self.state, self._due = "waiting", time.monotonic()

    def _fork(self, config: IoConfig, go: Semaphore | None = None) -> tuple[ChildProcess, Any]:
        """Start an I/O process (a spare with `go`); it and the end of its report pipe."""
        parent, child = self._ctx.Pipe(duplex=False)
        args = (config, self._wakes, self._halt, child, *(() if go is None else (go,)))
        try:
            process = self._launcher.start(io_main, args, _NAME)
        except LaunchError:
            parent.close()
            raise
        finally:
            child.close()
        return process, parent

    def _launch(self, config: IoConfig) -> None:
        self._adopt(*self._fork(config))

    def _adopt(self, process: ChildProcess, conn: Any) -> None:
        """Make `process` the I/O: watched by the selector from now on."""
        self.process, self._conn = process, conn
        self._started_ns = time.monotonic_ns()
        self._killed = False
        if self._selector is not None:
            self._selector.register(process.sentinel, selectors.EVENT_READ, "io")
            self._selector.register(conn, selectors.EVENT_READ, "io-report")

    def stop(self) -> None:
        """Stop the I/O and its spare (the control block's RUN is already 0)."""
        self._halt.release()
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.go.release()  # it sees RUN at 0 and ends
            spare.process.join(3.0)
            if spare.process.is_alive():
                spare.process.kill()
                spare.process.join(3.0)
            spare.conn.close()
        if self.process is not None:
            self.process.join(3.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(3.0)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.state = "stopped"

    # -- the serve loop ------------------------------------------------------------------------

    def watch(self, selector: selectors.BaseSelector) -> None:
        """Have `selector` watch the I/O's sentinel (`io`) and its reports (`io-report`)."""
        self._selector = selector
        if self.process is not None:
            selector.register(self.process.sentinel, selectors.EVENT_READ, "io")
        if self._conn is not None:
            selector.register(self._conn, selectors.EVENT_READ, "io-report")

    def on_ready(self, what: str) -> None:
        """The selector fired for `what`: `io` (the I/O exited) or `io-report`."""
        if what == "io":
            self._on_death()
        else:
            self._read_report()

    def _read_report(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            kind, text, *rest = conn.recv()
        except (EOFError, OSError):
            self._forget_conn()
            return
        if kind == "ready":
            self.description = text
            if rest and rest[0]:
                log.warning("audio I/O: %s", rest[0])
        else:
            log.warning("audio I/O %s: %s", kind, text)

    def _forget_conn(self) -> None:
        if self._conn is None:
            return
        if self._selector is not None:
            self._selector.unregister(self._conn)
        self._conn.close()
        self._conn = None

    def _on_death(self) -> None:
        process = self.process
        assert process is not None
        if self._selector is not None:
            self._selector.unregister(process.sentinel)
        while self._conn is not None and self._conn.poll():
            self._read_report()  # its last words (an error opening the device) come first
        self._forget_conn()
        process.join(0.1)
        code = process.exitcode
        self.process = None
        now_ns = time.monotonic_ns()
        self.stand_in.hold(now_ns)
        self._v[IoField.STATE] = ProcessState.DEAD
        log.error("the audio I/O process exited (code %s)", code)
        if not self._died:  # a restart that dies before it played is the same gap
            self._died = {
                "code": code, "seen_ns": now_ns, "block": int(self._v[IoField.CONSUMED]),
                "missed": int(self._v[IoField.BLOCKS_MISSED]),
            }  # fmt: skip
        served_s = (now_ns - self._started_ns) / 1e9
        decision = self.policy.on_death(time.monotonic(), served_s)
        if decision.suspended:
            self.state = "suspended"
            self._due = time.monotonic() + RETRY_SUSPENDED_S
            self._tell(
                f"the audio I/O exited (code {code}); restarts suspended ({decision.reason}): "
                f"silent, trying again in {RETRY_SUSPENDED_S:g} s"
            )
            return
        self.state = "waiting"
        self._due = time.monotonic() + decision.delay_s
        if decision.delay_s > 0:
            self._tell(f"the audio I/O exited (code {code}); {decision.describe()}")

    def tick(self) -> None:
        """Move the stand-in's clock, start a restart that is due, hand the clock over, and
        tell of a restart once its I/O played."""
        if self._died and self.state == "running" and self._v[IoField.RESUMED_NS]:
            self._resumed()
        self._tend_spare()
        stand_in = self.stand_in
        if not stand_in.holding:
            return
        now_ns = time.monotonic_ns()
        stand_in.step(now_ns)
        if self.state in ("waiting", "suspended") and time.monotonic() >= self._due:
            self._restart()
        elif self.state == "restarting" and stand_in.ready_to_hand_over():
            stand_in.let_go(time.monotonic_ns())
            self.state = "running"
            self._died["handed_ns"] = time.monotonic_ns()
        elif self.state == "restarting" and now_ns - self._started_ns > OPEN_TIMEOUT_S * 1e9:
            if self.process is not None and not self._killed:
                self._killed = True
                log.error("the restarted audio I/O did not play within %g s", OPEN_TIMEOUT_S)
                self.process.kill()

    def _tend_spare(self) -> None:
        """Hear a spare's word, bury a dead one, and make one when it is due (on a device,
        while the I/O plays)."""
        spare = self._spare
        if spare is not None:
            while spare.conn.poll():
                try:
                    word = spare.conn.recv()
                except (EOFError, OSError):
                    break
                if word[0] == "warm":
                    spare.warm = True
                else:
                    log.warning("spare audio I/O: %s", word[1])
            if spare.process.is_alive():
                return
            spare.conn.close()
            self._spare = None
            self._spare_due = time.monotonic() + self._spare_wait_s
            self._spare_wait_s = min(2 * self._spare_wait_s, 60.0)
            log.warning("the spare audio I/O exited (code %s)", spare.process.exitcode)
            return
        kind = spare_kind(self.description)
        if (
            self._config.backend != "device"
            or kind == "none"
            or self.state != "running"
            or self.stand_in.holding
            or time.monotonic() < self._spare_due
            or not self._launcher.ready()
        ):
            return
        go = self._ctx.Semaphore(0)
        try:
            config = replace(self._config, resume=True, standby=kind == "standby")
            process, conn = self._fork(config, go)
        except LaunchError as exc:
            log.warning("no spare audio I/O could be started: %s", exc)
            self._spare_due = time.monotonic() + self._spare_wait_s
            return
        self._spare = _Spare(process, conn, go)

    def _take_spare(self) -> bool:
        """Make a warm spare the I/O, if there is one."""
        spare = self._spare
        if spare is None or not spare.warm or not spare.process.is_alive():
            return False
        self._spare = None
        self._adopt(spare.process, spare.conn)
        spare.go.release()
        self.spares_used += 1
        self._spare_wait_s = SPARE_AFTER_S
        self._spare_due = time.monotonic() + SPARE_AFTER_S
        return True

    def _restart(self) -> None:
        if self.state == "suspended":
            self.policy.reset()
        self._v[IoField.RESUMED_NS] = 0
        if self._take_spare():
            self.restarts += 1
            self.state = "restarting"
            log.warning(
                "the spare audio I/O took over (pid %s)", self.process.pid if self.process else 0
            )
            return
        if not self._launcher.ready():
            return  # its template is warming up again: the next tick tries
        try:
            self._launch(replace(self._config, resume=True))
        except LaunchError as exc:
            self.state = "waiting"
            self._due = time.monotonic() + 2.0
            log.error("the audio I/O could not be restarted: %s", exc)
            return
        self.restarts += 1
        self.state = "restarting"
        log.warning("audio I/O restarted (pid %s)", self.process.pid if self.process else 0)

    def _resumed(self) -> None:
        """The new I/O played its first block: say so once, with the gap and blocks missed."""
        died = self._died
        if not died:
            return
        self._died = {}
        resumed_ns = int(self._v[IoField.RESUMED_NS])
        gap_ms = (resumed_ns - int(died["seen_ns"])) / 1e6
        handed_ns = int(died.get("handed_ns", resumed_ns))
        missed = int(self._v[IoField.BLOCKS_MISSED]) - int(died["missed"])
        self.last_restart = {
            "code": died["code"], "gap_ms": round(gap_ms, 3), "blocks_missed": missed,
            "resumed_ns": resumed_ns, "died_at_block": died["block"],
            "clock_handed_over_ms": round((handed_ns - died["seen_ns"]) / 1e6, 3),
            "resumed_at_block": int(self._v[IoField.RESUMED_BLOCK]),
        }  # fmt: skip
        self._tell(
            f"the audio I/O exited (code {died['code']}) and was restarted: output back after "
            f"{gap_ms:.0f} ms ({missed} blocks missed)"
        )

    # -- health --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The keeper's part of the I/O's health."""
        return {
            "process": self.state,
            "restarts": self.restarts,
            "blocks_missed": int(self._v[IoField.BLOCKS_MISSED]),
            "clock_held_by_supervisor": self.stand_in.holding,
            "spare": "none" if self._spare is None else "warm" if self._spare.warm else "warming",
            "spare_kind": spare_kind(self.description) if self.description else "",
            "spares_used": self.spares_used,
            "last_restart": dict(self.last_restart),
        }
