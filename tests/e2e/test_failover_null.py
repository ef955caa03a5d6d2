"""Failover on the null backend: killed, hung and stalled processes, heard through the recording.

Each test runs a real engine subprocess with `--log` and `--record`, plays notes into a saw →
acid chain while it hurts one of the engine's processes, and then checks the health counters
and that the recording equals an offline render of the session log, sample for sample, except
inside blocks the I/O reports as underruns (which a host stall, measured by `StallMonitor`,
must explain).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.render import render_offline
from chronus.engine.audio_io import BlockPump
from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.recorder import RecordTap
from chronus.engine.rings import AudioRing, SharedCounters, unique_name
from chronus.engine.stats import ControlField, IoField
from chronus.protocol import Message, validate
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.stalls import StallMonitor, told_on_failure, what_happened

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # no command late in a slot: CPU of its own

RATE = 48000
BLOCK = 128
BLOCK_MS = 1000 * BLOCK / RATE
NOTE_EVERY_S = 0.06


# -- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _wait_gone(pids: set[int], timeout: float = 5.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while (pids := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


@dataclass
class Run:
    """One engine with its session log and recording, and a client."""

    engine: EngineProcess
    client: EngineClient
    log: Path
    wav: Path
    stopped: set[int] = field(default_factory=set)
    """Pids this test SIGSTOPped: resumed and (if still the engine's) killed at the end."""
    began: float = field(default_factory=time.monotonic)
    marks: list[tuple[float, str]] = field(default_factory=list)
    """What the test did to the engine, and when (`time.monotonic()`), for `story`."""

    def mark(self, what: str) -> None:
        """Note something the test did to the engine now (a kill), for `story`."""
        self.marks.append((time.monotonic(), what))

    def story(self, status: dict[str, Any], host: StallMonitor | None) -> str:
        """What happened in the run up to `status`, in time order (`what_happened`)."""
        return what_happened(status, host, self.began, self.marks)

    @property
    def pid(self) -> int:
        assert self.engine.process is not None
        return self.engine.process.pid

    def quit(self) -> int:
        """Quit the engine; assert every child went with it; the exit code."""
        children = _children(self.pid)
        assert len(children) >= 4  # two slots, the spare and the audio I/O at least
        code = self.engine.quit()
        assert _wait_gone(children) == set(), "engine children outlived it"
        return code


@contextlib.contextmanager
def engine_run(tmp_path: Path, backend: str = "null") -> Iterator[Run]:
    log, wav = tmp_path / "session.log", tmp_path / "take.wav"
    engine = EngineProcess(
        port=0, backend=backend, extra_args=["--log", str(log), "--record", str(wav)]
    )
    engine.boot()
    client = engine.client()
    run = Run(engine, client, log, wav)
    try:
        yield run
    finally:
        client.close()
        for pid in run.stopped:
            fields = _stat(pid)
            if fields is not None and fields[0] != "Z":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        if engine.process is not None and engine.process.poll() is None:
            children = _children(run.pid)
            engine.quit()
            for pid in _wait_gone(children, 2.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# -- music -----------------------------------------------------------------------------------


def build_patch(client: EngineClient) -> None:
    client.send([
        validate("/patch/create", ("bass", "saw")),
        validate("/patch/create", ("f", "acid")),
        validate("/patch/connect", ("bass", "f")),
        validate("/patch/connect", ("f", "master")),
        validate("/mod/f/res", (0.8,)),
        validate("/mod/f/env_amount", (0.7,)),
    ])  # fmt: skip
    _, notes = client.sync()
    assert notes == []


class Player:
    """Sends a note every `NOTE_EVERY_S`, with a cutoff change now and then (more state)."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.count = 0
        self._due = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        i = self.count
        messages: list[Message] = [
            validate("/note/bass", (36 + (7 * i) % 24, 110 if i % 4 == 0 else 70, 0.05))
        ]
        if i % 8 == 3:
            messages.append(validate("/mod/f/cutoff", (300.0 + 97.0 * (i % 13),)))
        self.client.send(messages)
        self.count += 1
        self._due = max(self._due + NOTE_EVERY_S, now)

    def play_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            time.sleep(0.005)


# -- status ----------------------------------------------------------------------------------


def seat(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(slot for slot in status["slots"] if slot["name"] == name)


def role(status: dict[str, Any], which: str) -> dict[str, Any]:
    return next(slot for slot in status["slots"] if slot["role"] == which)


def both_running(status: dict[str, Any]) -> bool:
    return all(slot["seat"] == "running" and slot["pid"] > 0 for slot in status["slots"])


def allowed_underruns(host: StallMonitor) -> int:
    """Underruns the recorded host stalls can explain (none if the monitor was not real-time)."""
    return host.blocks_bound(BLOCK_MS) if host.realtime else 0


# -- the recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    blocks: int
    differing: list[int]
    gaps: list[int]
    """Differing blocks that are an underrun's fade to silence from the previous sample."""
    fade_ins: list[int]
    """Differing blocks that are the reference faded in, right after a gap."""
    unexplained: list[int]


def classify_blocks(
    recording: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]
) -> Comparison:
    """Which blocks of `recording` differ from `reference`, and which of those are fades."""
    n = len(recording) // BLOCK
    rec = recording.reshape(n, BLOCK, -1)
    ref = reference.reshape(n, BLOCK, -1)
    # The pump's own ramps, computed the same way in float32.
    ramp = (np.arange(BLOCK, dtype=np.float32) + 1) / BLOCK
    fade_in = ramp.reshape(-1, 1)
    fade_out = (1.0 - ramp).reshape(-1, 1)
    silence = np.zeros(rec.shape[2], dtype=np.float32)

    def is_gap(k: int) -> bool:
        before: npt.NDArray[np.float32] = rec[k - 1][-1] if k > 0 else silence
        return bool(np.array_equal(rec[k], fade_out * before[None, :]))

    differing = [int(k) for k in np.flatnonzero((rec != ref).any(axis=(1, 2)))]
    gaps, fade_ins, unexplained = [], [], []
    for k in differing:
        if is_gap(k):
            gaps.append(k)
        elif k > 0 and is_gap(k - 1) and np.array_equal(rec[k], ref[k] * fade_in):
            fade_ins.append(k)
        else:
            unexplained.append(k)
    return Comparison(n, differing, gaps, fade_ins, unexplained)


def compare_recording(run: Run) -> Comparison:
    """The recording against an offline render of the session log, block by block."""
    recording, rate = read_wav(run.wav)
    session = read_stamped_log(run.log)
    assert (rate, session.rate, session.block) == (RATE, RATE, BLOCK)
    assert len(recording) % BLOCK == 0 and len(recording) > 0
    reference = render_offline(session.commands, len(recording), rate, BLOCK)
    assert float(np.abs(reference).max()) > 0.05, "the session made no sound"
    return classify_blocks(recording, reference)


def check_recording(run: Run, final: dict[str, Any], host: StallMonitor) -> Comparison:
    """Quit, then compare the recording with the offline render of the log.

    Blocks may differ only where the I/O played an underrun (a fade out, then a fade in), and
    there may be only as many underruns as the host stalls explain.
    """
    with told_on_failure(lambda: run.story(final, host)):
        return _recording_checked(run, final, host)


def _recording_checked(run: Run, final: dict[str, Any], host: StallMonitor) -> Comparison:
    underruns = int(final["io"]["underruns"])
    assert final["engine"]["recording"]["lost_blocks"] == 0
    assert run.quit() == 0
    result = compare_recording(run)
    assert result.blocks >= final["io"]["blocks_played"]
    assert result.unexplained == [], (
        f"blocks {result.unexplained[:10]} differ from the offline render "
        f"and are not underrun fades ({underruns} underruns)"
    )
    assert len(result.gaps) <= underruns
    if underruns == 0:
        assert result.differing == []
    assert underruns <= allowed_underruns(host), (
        f"{underruns} underruns (gap blocks {result.gaps}, "
        f"last {final['io']['last_underrun_block']}), host stalls {host.stalls_ms} "
        f"explain {allowed_underruns(host)}; "
        f"events {final['engine']['events']}"
    )
    return result


# -- the tests -------------------------------------------------------------------------------


def test_the_comparison_explains_only_the_pumps_underrun_fades() -> None:
    """`classify_blocks` on the real BlockPump's output: gaps and fade-ins, nothing else."""
    rng = np.random.default_rng(7)
    blocks = 40
    reference = (rng.standard_normal((blocks * BLOCK, 2)) * 0.2).astype(np.float32)
    missing = {5, 6, 20}  # 5 and 6 in a row: the second gap fades from silence
    rings = (
        AudioRing.create(unique_name("test-cmp-a"), 8, BLOCK, RATE),
        AudioRing.create(unique_name("test-cmp-b"), 8, BLOCK, RATE),
    )
    tap = RecordTap.create(unique_name("test-cmp-tap"), blocks, BLOCK)
    io = SharedCounters.create(unique_name("test-cmp-io"), IoField.SIZE)
    control = SharedCounters.create(unique_name("test-cmp-ctl"), ControlField.SIZE)
    ctx = mp.get_context("spawn")
    pump = BlockPump(rings, tap, io, control, (ctx.Semaphore(0), ctx.Semaphore(0)))
    try:
        recording = np.zeros_like(reference)
        for k in range(blocks):
            if k in missing:
                rings[0].restart_at(k + 1)
            else:
                np.copyto(rings[0].next_block(), reference[k * BLOCK : (k + 1) * BLOCK])
                rings[0].publish(True)
            pump.pump(recording[k * BLOCK : (k + 1) * BLOCK])
        assert int(io.values[IoField.UNDERRUNS]) == 3
    finally:
        del pump
        for shm in (*rings, tap, io, control):
            shm.close()
    result = classify_blocks(recording, reference)
    assert result.differing == [5, 6, 7, 20, 21]
    assert (result.gaps, result.fade_ins, result.unexplained) == ([5, 6, 20], [7, 21], [])
    assert classify_blocks(reference, reference).differing == []
    # anything else that differs is not explained: a changed sample, a shifted block
    tampered = recording.copy()
    tampered[30 * BLOCK + 17, 1] += 1e-6
    tampered[10 * BLOCK : 11 * BLOCK] = reference[11 * BLOCK : 12 * BLOCK]
    assert classify_blocks(tampered, reference).unexplained == [10, 30]
    # a fade-in that does not follow a gap is not explained either
    tampered = reference.copy()
    tampered[12 * BLOCK : 13 * BLOCK] = recording[21 * BLOCK : 22 * BLOCK]
    assert classify_blocks(tampered, reference).unexplained == [12]


def test_three_sigkills_of_the_active_slot(tmp_path: Path) -> None:
    kill_at = [2.0, 4.5, 7.0]
    killed: list[tuple[float, int, str]] = []
    with StallMonitor() as host, engine_run(tmp_path) as run:
        client = run.client
        build_patch(client)
        start = client.status()
        assert start["engine"]["failovers"] == 0 and both_running(start)
        player = Player(client)
        began = time.monotonic()
        polled = 0.0
        while (elapsed := time.monotonic() - began) < 8.0:
            player.tick()
            if (
                len(killed) < len(kill_at)
                and elapsed >= kill_at[len(killed)]
                and (time.monotonic() - polled > 0.05)
            ):
                polled = time.monotonic()
                status = client.status()
                # the previous failover is done and its seat refilled: kill the new active
                if status["engine"]["failovers"] == len(killed) and both_running(status):
                    victim = role(status, "active")
                    assert victim["pid"] not in {pid for _, pid, _ in killed}
                    os.kill(victim["pid"], signal.SIGKILL)
                    run.mark(f"SIGKILL of the active slot {victim['name']}")
                    killed.append((elapsed, victim["pid"], victim["name"]))
            time.sleep(0.005)
        assert len(killed) == 3, f"only {len(killed)} kills: the seats did not refill in time"
        deadline = time.monotonic() + 3.0
        while not both_running(final := client.status()) and time.monotonic() < deadline:
            player.play_for(0.05)
        io = final["io"]
        underruns = io["underruns"]
        with told_on_failure(lambda: run.story(final, host)):
            _three_failovers_told(final, killed)
        result = check_recording(run, final, host)
    print(
        f"\nfailover ×3: kills at {[round(t, 2) for t, _, _ in killed]} s, "
        f"{io['blocks_played']} blocks, {underruns} underruns, "
        f"{io['covered_by_standby']} covered by the standby, {player.count} notes, "
        f"differing blocks {result.differing} (gaps {result.gaps}, fade-ins {result.fade_ins}), "
        f"host stalls {host.stalls_ms}"
    )


def _three_failovers_told(final: dict[str, Any], killed: list[tuple[float, int, str]]) -> None:
    engine = final["engine"]
    assert engine["failovers"] == 3, engine["events"]
    assert engine["respawns"] == 3, engine["events"]
    assert engine["deaths_seen_by"] == "lifelines"
    assert both_running(final), final["slots"]
    assert sum(slot["restarts"] for slot in final["slots"]) == 3
    # the seats take turns: A dies, B takes over, A rejoins and takes over from B, ...
    assert [name for _, _, name in killed] == ["A", "B", "A"]
    events = engine["events"]
    assert sum("(active) died (code -9)" in e for e in events) == 3, events
    assert sum("rejoined in lockstep" in e for e in events) == 3, events
    live = {slot["pid"] for slot in final["slots"]}
    assert not live & {pid for _, pid, _ in killed}
    assert _wait_gone({pid for _, pid, _ in killed}, 2.0) == set()
    assert all(slot["late_commands"] == 0 for slot in final["slots"])


def test_a_stopped_standby_is_told_stopped_and_replaced(tmp_path: Path) -> None:
    with StallMonitor() as host, engine_run(tmp_path) as run:
        client = run.client
        build_patch(client)
        player = Player(client)
        player.play_for(1.5)  # long enough for the spare to be warm
        before = client.status()
        assert both_running(before)
        standby = role(before, "standby")
        old_pid, name = standby["pid"], standby["name"]
        os.kill(old_pid, signal.SIGSTOP)
        run.mark(f"SIGSTOP of the standby {name}")
        run.stopped.add(old_pid)
        stopped_at = time.monotonic()
        replaced_after = None
        while time.monotonic() - stopped_at < 3.0:
            player.play_for(0.03)
            status = client.status()
            now = seat(status, name)
            if now["seat"] == "running" and now["pid"] not in (0, old_pid):
                replaced_after = time.monotonic() - stopped_at
                break
        assert replaced_after is not None, status
        player.play_for(0.5)
        final = client.status()
        engine, io = final["engine"], final["io"]
        events = engine["events"]
        # stopped from outside, not hung in a module: no module is blamed for it
        hung = [e for e in events if "stopped: no heartbeat" in e]
        assert len(hung) == 1 and f"slot {name} (standby) died (code -9" in hung[0], events
        assert not engine["quarantined"]
        assert engine["failovers"] == 0  # the active never changed
        assert role(final, "active")["name"] == role(before, "active")["name"]
        assert engine["respawns"] == 1 and seat(final, name)["restarts"] == 1
        assert both_running(final)
        # the engine SIGKILLed and reaped it: nothing of it is left
        assert _wait_gone({old_pid}, 2.0) == set()
        played = io["blocks_played"] - before["io"]["blocks_played"]
        assert played > 0.9 * (replaced_after + 0.5) * RATE / BLOCK - host.blocks_bound(BLOCK_MS)
        underruns = io["underruns"]
        result = check_recording(run, final, host)
    assert replaced_after < 1.5
    print(
        f"\nhung standby {name}: replaced after {replaced_after * 1000:.0f} ms, "
        f"{underruns} underruns, differing blocks {result.differing}, "
        f"event {hung[0]!r}, host stalls {host.stalls_ms}"
    )


def test_the_audio_plays_on_while_the_supervisor_is_stopped(tmp_path: Path) -> None:
    with StallMonitor() as host, engine_run(tmp_path) as run:
        client = run.client
        build_patch(client)
        player = Player(client)
        player.play_for(1.0)
        before = client.status()
        supervisor = before["engine"]["supervisor"]["pid"]
        t0 = time.monotonic()
        os.kill(supervisor, signal.SIGSTOP)
        run.mark("SIGSTOP of the supervisor")
        run.stopped.add(supervisor)
        try:
            player.play_for(2.0)  # these notes wait in the engine's socket buffer
        finally:
            os.kill(supervisor, signal.SIGCONT)
            run.mark("SIGCONT of the supervisor")
        run.stopped.discard(supervisor)
        after = client.status()
        elapsed = time.monotonic() - t0
        player.play_for(0.5)
        final = client.status()
        played = after["io"]["blocks_played"] - before["io"]["blocks_played"]
        expected = elapsed * RATE / BLOCK
        assert 0.95 * expected - host.blocks_bound(BLOCK_MS) <= played <= 1.02 * expected + 2
        engine, io = final["engine"], final["io"]
        # nobody was declared dead or hung for the supervisor's absence
        assert engine["failovers"] == 0 and engine["respawns"] == 0, engine["events"]
        assert both_running(final)
        # A SIGSTOP between a command's stamp and its push makes it overtaken: both slots
        # then apply it a little late, together (`engine/decisions.py`); no other is late.
        overtaken = engine["overtaken_commands"]
        assert all(slot["late_commands"] <= overtaken for slot in final["slots"])
        underruns = io["underruns"]
        result = check_recording(run, final, host)
    print(
        f"\nsupervisor stopped {elapsed:.2f} s: {played} blocks played ({expected:.0f} due), "
        f"{underruns} underruns, differing blocks {result.differing}, "
        f"host stalls {host.stalls_ms}"
    )
