"""Chaos soak: a playing engine under fire, every `--every` seconds one fault, for minutes.

The patch: an 8-voice saw through acid, distortion, delay and reverb playing 8-note chords,
and kick, snare and hat patterns, at 120 bpm, built over OSC. Every `--every` seconds (5) one
event, the kinds taken in turn (`--kinds`): SIGKILL of the active slot, of the standby, of the
spare; SIGSTOP of a slot (the active and the standby by turns) and SIGCONT 200 ms later;
SIGKILL of the audio I/O; SIGKILL of the supervisor; a burst of 5,000 OSC messages from one
socket; a commit (a change crossfaded in); a snapshot load (two snapshots by turns, through
the commit flow). Between events a parameter change goes every second (`/mod/f/cutoff`,
synced), so that commands are in flight through every fault.

Reported per kind: whether the engine came back and how fast (`recovery_ms`: both seats
running with a new process; for the I/O a new one playing; for the supervisor OSC answered
again), audio lost (underruns the I/O counted after each event, within 1 s of it and later;
and blocks of the recording that differ from the offline render of the session log,
attributed to the event before them), and commands lost: every command the engine
acknowledged (synced without `/error`, or committed) must be in the session log and, where it
is the last word on a parameter, in `/engine/dump`; a burst's messages are counted as sent =
in the log + refused with `/error` + dropped by the kernel (`osc.kernel_drops`). For the
whole run: RSS per process at start and end (by title, `engine/titles.py`), processes left
behind once the engine stopped, and names left in /dev/shm.

A kind the engine does not survive (on `main` before issue 17's items 1 and 2: the audio
I/O and the supervisor) ends that engine: the run records the failure, stops it, drops the
kind from the rotation, starts a new engine and goes on (each engine's life is an "era").
An event that fails while the engine plays on (a refused commit, a burst not synced within
`--burst-s`) is recorded as failed and the same engine goes on.

    python benchmarks/chaos.py --backend device --minutes 10
    python benchmarks/chaos.py --backend null --minutes 1 --kinds kill_active,burst,commit
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_watch import (
    group_processes,
    kill_group,
    leaked_names,
    recording_vs_log,
    role,
    rss_by_title,
    settled_rss,
    zombies,
)
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import Message, encode, validate
from chronus.session.committing import commit_change
from chronus.session.snapshots import load_messages
from chronus.session.stamped_log import StampedSession, read_stamped_log

KINDS = (
    "kill_active", "kill_standby", "kill_spare", "stop_cont", "kill_io", "kill_supervisor",
    "burst", "commit", "snapshot",
)  # fmt: skip
ROOTS = (36, 39, 43, 46, 48, 51, 41, 44)
BURST = 5000
BURST_ADDRESS = "/mod/hat/pan"
"""Only bursts set this parameter, so that the log's count of it is the bursts' own."""
TICK_ADDRESS = "/mod/f/cutoff"
NEAR_S = 1.0
"""Underruns within this long after an event are counted as the event's."""


def patch() -> list[Message]:
    """Eight voices, drums and effects."""
    chords = " ".join(
        "[" + ",".join(str(ROOTS[(s + v) % 8] + 12 * (v % 3)) for v in range(8)) + "]:90"
        for s in range(8)
    )
    rows: list[tuple[str, tuple[Any, ...]]] = [
        ("/patch/create", ("bass", "saw")), ("/mod/bass/voices", (8.0,)),
        ("/mod/bass/volume", (-14.0,)), ("/mod/bass/release", (0.05,)),
        ("/patch/create", ("f", "acid")), ("/mod/f/cutoff", (700.0,)),
        ("/patch/create", ("d", "distortion")), ("/patch/create", ("echo", "delay")),
        ("/patch/create", ("room", "reverb")),
        ("/patch/connect", ("bass", "f")), ("/patch/connect", ("f", "d")),
        ("/patch/connect", ("d", "echo")), ("/patch/connect", ("echo", "room")),
        ("/patch/connect", ("room", "master")),
        ("/patch/create", ("kick", "kick")), ("/patch/connect", ("kick", "master")),
        ("/patch/create", ("snare", "snare")), ("/patch/connect", ("snare", "room")),
        ("/patch/create", ("hat", "hat")), ("/patch/connect", ("hat", "master")),
        ("/seq/bass/pattern", (chords,)),
        ("/seq/kick/pattern", ("x . . . x . . . x . . . x . x .",)),
        ("/seq/snare/pattern", (". . . . x . . . . . . . x . . .",)),
        ("/seq/hat/pattern", ("x x x x x x x x x x x x x x x x",)),
    ]  # fmt: skip
    return [validate(address, args) for address, args in rows]


def _both_running(status: dict[str, Any]) -> bool:
    return all(s["seat"] == "running" for s in status["slots"]) and len(status["slots"]) == 2


def _slot_pid(status: dict[str, Any], which: str) -> int:
    return next(int(s["pid"]) for s in status["slots"] if s["role"] == which)


@dataclass
class Era:
    """One engine's life: from its boot to its stop (at the end, or after a fault it did not
    survive)."""

    number: int
    work: Path
    engine: EngineProcess
    client: EngineClient
    pgid: int
    acked: list[tuple[str, Message]] = field(default_factory=list)
    """(kind of the last event before it, message) of every acknowledged command."""
    burst_expected: dict[str, int] = field(default_factory=lambda: collections.Counter())
    unanswered: dict[str, int] = field(default_factory=lambda: collections.Counter())
    events: list[tuple[str, int | None]] = field(default_factory=list)
    """(kind, the output's sample when it was done) of each event."""
    pids: set[int] = field(default_factory=set)
    rss_start: dict[str, tuple[int, float]] = field(default_factory=dict)
    failed: str = ""

    @property
    def log(self) -> Path:
        return self.work / "session.log"

    @property
    def wav(self) -> Path:
        return self.work / "out.wav"

    def look(self) -> dict[int, str]:
        """The engine's processes now (and remember their pids for the leak check)."""
        found = group_processes(self.pgid)
        self.pids |= set(found)
        return found

    def titled(self, wanted: str) -> int | None:
        return next((pid for pid, t in self.look().items() if role(t) == wanted), None)

    def status(self, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            return self.client.status(timeout=timeout)
        except (EngineError, OSError):
            return None

    def wait(self, ready: Callable[[dict[str, Any]], bool], timeout: float) -> float | None:
        """ms until the engine's status satisfies `ready`, or None after `timeout` s."""
        began = time.monotonic()
        while (spent := time.monotonic() - began) < timeout:
            status = self.status(timeout=max(0.05, min(0.5, timeout - spent)))
            if status is not None and ready(status):
                return 1000 * (time.monotonic() - began)
            time.sleep(0.01)
        return None

    def send_synced(self, kind: str, messages: list[Message]) -> bool:
        """Send and sync; acknowledged (and remembered) if synced with no `/error`."""
        try:
            self.client.send(messages)
            _, notes = self.client.sync(timeout=2.0)
        except (EngineError, OSError):
            self.unanswered[kind] += len(messages)
            return False
        refused = {str(args[0]) for address, args in notes if address == "/error" and args}
        self.acked += [(kind, m) for m in messages if m.address not in refused]
        return True


def boot(number: int, args: argparse.Namespace, root: Path) -> Era:
    work = root / f"era{number}"
    work.mkdir()
    engine = EngineProcess(
        port=0, backend=args.backend, own_group=True,
        extra_args=["--files", str(work), "--log", str(work / "session.log"),
                    "--record", str(work / "out.wav")],
    ).boot()  # fmt: skip
    assert engine.process is not None
    era = Era(number, work, engine, engine.client(), os.getpgid(engine.process.pid))
    if not era.send_synced("build", patch()):
        raise SystemExit("the engine did not take the patch")
    era.wait(_both_running, 30.0)
    time.sleep(1.0)
    era.look()
    era.rss_start = settled_rss(era.pgid)
    return era


# -- the events: each returns {"recovered": bool | None, "recovery_ms": float | None, ...} --


def _kill_slot(era: Era, which: str, recover_s: float) -> dict[str, Any]:
    status = era.status()
    if status is None or not _both_running(status):
        return {"recovered": None, "note": "skipped: the slots were not both running"}
    pid = _slot_pid(status, which)
    os.kill(pid, signal.SIGKILL)
    ms = era.wait(
        lambda s: _both_running(s) and pid not in {int(x["pid"]) for x in s["slots"]}, recover_s
    )
    return {"recovered": ms is not None, "recovery_ms": ms}


def kill_active(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    return _kill_slot(era, "active", args.recover_s)


def kill_standby(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    return _kill_slot(era, "standby", args.recover_s)


def kill_spare(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    pid = era.titled("spare")
    if pid is None:
        return {"recovered": None, "note": "skipped: no spare process"}
    os.kill(pid, signal.SIGKILL)
    began = time.monotonic()
    while time.monotonic() - began < args.recover_s:
        spare = era.titled("spare")
        if spare is not None and spare != pid:
            return {"recovered": True, "recovery_ms": 1000 * (time.monotonic() - began)}
        time.sleep(0.01)
    return {"recovered": False, "recovery_ms": None}


def stop_cont(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    status = era.status()
    if status is None or not _both_running(status):
        return {"recovered": None, "note": "skipped: the slots were not both running"}
    which = ("active", "standby")[n % 2]
    pid = _slot_pid(status, which)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass  # the supervisor judged it stopped and replaced it meanwhile
    ms = era.wait(_both_running, args.recover_s)
    after = era.status()
    kept = after is not None and pid in {int(s["pid"]) for s in after["slots"]}
    return {"recovered": ms is not None, "recovery_ms": ms, "note": f"{which}, kept: {kept}"}


def kill_io(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    status = era.status()
    if status is None:
        return {"recovered": None, "note": "skipped: no status"}
    pid, played = int(status["io"]["pid"]), int(status["io"]["blocks_played"])
    os.kill(pid, signal.SIGKILL)

    def playing(s: dict[str, Any]) -> bool:
        io = s["io"]
        return io["state"] == "running" and int(io["pid"]) != pid and io["blocks_played"] > played

    ms = era.wait(playing, args.recover_s)
    return {"recovered": ms is not None, "recovery_ms": ms}


def kill_supervisor(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    pid = era.titled("supervisor")
    if pid is None:
        return {"recovered": None, "note": "skipped: no supervisor found"}
    os.kill(pid, signal.SIGKILL)
    ms = era.wait(lambda s: s["io"]["state"] == "running", args.recover_s)
    return {"recovered": ms is not None, "recovery_ms": ms}


def burst(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    before = era.status()
    if before is None:
        return {"recovered": None, "note": "skipped: no status"}
    packets = [encode(validate(BURST_ADDRESS, (-0.5 + (i % 1000) / 1000,))) for i in range(BURST)]
    began = time.monotonic()
    for packet in packets:
        era.client.send_bytes(packet)
    synced = False
    while not synced and time.monotonic() - began < args.burst_s:
        with contextlib.suppress(EngineError, OSError):  # a sync the kernel dropped: again
            _, notes = era.client.sync(timeout=2.0)
            synced = True
    ms = 1000 * (time.monotonic() - began)
    after = era.status()
    if not synced or after is None:
        era.unanswered["burst"] += BURST
        return {"recovered": False, "recovery_ms": None}
    refused = sum(1 for a, x in notes if a == "/error" and x and x[0] == BURST_ADDRESS)
    dropped = after["engine"]["osc"]["kernel_drops"] - before["engine"]["osc"]["kernel_drops"]
    era.burst_expected["burst"] += BURST - refused - dropped
    return {
        "recovered": True, "recovery_ms": ms, "refused": refused, "kernel_drops": dropped,
        "received": after["engine"]["osc"]["received"] - before["engine"]["osc"]["received"],
    }  # fmt: skip


def _commit(era: Era, kind: str, messages: list[Message], silence_ok: bool) -> dict[str, Any]:
    began = time.monotonic()
    try:
        outcome = commit_change(era.client, messages, 50.0, silence_ok=silence_ok)
    except (EngineError, OSError) as exc:
        era.unanswered[kind] += len(messages)
        return {"recovered": False, "recovery_ms": None, "note": str(exc)}
    if outcome.ok:
        era.acked += [(kind, m) for m in messages]
    return {
        "recovered": outcome.ok, "recovery_ms": 1000 * (time.monotonic() - began),
        "note": "" if outcome.ok else f"refused: {outcome.text}",
    }  # fmt: skip


def commit(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    hats = ("x x x x x x x x x x x x x x x x", "x . x x x . x x x . x x x . x x")
    change = [
        validate("/mod/d/drive", (0.3 + 0.2 * (n % 2),)),
        validate("/mod/room/mix", (0.2 + 0.1 * (n % 3),)),
        validate("/seq/hat/pattern", (hats[n % 2],)),
    ]
    return _commit(era, "commit", change, silence_ok=False)


def snapshot(era: Era, n: int, args: argparse.Namespace) -> dict[str, Any]:
    try:
        current = era.client.dump()
    except (EngineError, OSError) as exc:
        return {"recovered": False, "recovery_ms": None, "note": str(exc)}
    target = copy.deepcopy(current)
    params = target["modules"]["f"]["params"]
    params["res"] = 0.5 if n % 2 else 0.75
    params["cutoff"] = 500.0 if n % 2 else 900.0
    target["modules"]["echo"]["params"]["mix"] = 0.15 if n % 2 else 0.3
    messages = load_messages(current, target)
    return _commit(era, "snapshot", messages, silence_ok=True)


EVENTS: dict[str, Callable[[Era, int, argparse.Namespace], dict[str, Any]]] = {
    "kill_active": kill_active, "kill_standby": kill_standby, "kill_spare": kill_spare,
    "stop_cont": stop_cont, "kill_io": kill_io, "kill_supervisor": kill_supervisor,
    "burst": burst, "commit": commit, "snapshot": snapshot,
}  # fmt: skip


# -- between events ----------------------------------------------------------------------


def _charge(row: dict[str, Any], last: dict[str, Any], status: dict[str, Any]) -> None:
    """The I/O's underruns and covered blocks from `last` to `status`, charged to the event
    of `row` (done at `row["at"]`): near it or later."""
    fresh = status["io"]["underruns"] - last["io"]["underruns"]
    near = time.monotonic() - row["at"] < NEAR_S
    row["underruns_near" if near else "underruns_later"] += max(0, fresh)
    row["covered"] += max(0, status["io"]["covered_by_standby"] - last["io"]["covered_by_standby"])


def watch(
    era: Era,
    kind: str,
    row: dict[str, Any],
    last: dict[str, Any] | None,
    until: float,
    args: argparse.Namespace,
) -> dict[str, Any] | None:
    """Until `until`: a parameter change every second, and the I/O's counters polled from
    `last` (the status just before the event) on, charged to the event (`kind`). Returns
    the last status seen."""
    next_tick = time.monotonic() + 0.5
    dead_since: float | None = None
    while (now := time.monotonic()) < until:
        if now >= next_tick:
            value = float(400 + (era.number * 97 + len(era.acked)) % 1000)
            era.send_synced(kind, [validate(TICK_ADDRESS, (value,))])
            next_tick += 1.0
        status = era.status(timeout=1.0)
        if status is None:
            dead_since = dead_since or now
            if now - dead_since > args.recover_s and not era.failed:
                era.failed = f"no answer for {args.recover_s:g} s after {kind}"
                return None
        else:
            dead_since = None
            if last is not None:
                _charge(row, last, status)
            last = status
        time.sleep(0.1)
    return last


# -- the end of an era: the engine stopped, its log and recording checked -------------------


def _key(m: Message) -> tuple[str, tuple[Any, ...]]:
    """A message as the log holds it: its floats went over the wire as 32 bits."""
    return m.address, tuple(float(np.float32(a)) if isinstance(a, float) else a for a in m.args)


def _logged(session: StampedSession) -> collections.Counter[tuple[str, tuple[Any, ...]]]:
    found = collections.Counter(_key(m) for _, m in session.commands)
    for c in session.commits:
        found.update(_key(m) for m in c.messages)
    return found


def _dump_misses(era: Era, dump: dict[str, Any]) -> collections.Counter[str]:
    """Acknowledged parameter values that are the last word on their parameter but not what
    the dump says (by the kind they were sent under)."""
    last: dict[tuple[str, str], tuple[str, float]] = {}
    for kind, m in era.acked:
        if m.address.startswith("/mod/"):
            last[(m.fields["id"], m.fields["param"])] = (kind, float(m.args[0]))
    misses: collections.Counter[str] = collections.Counter()
    for (module, param), (kind, value) in last.items():
        got = dump["modules"].get(module, {}).get("params", {}).get(param)
        if got is None or abs(float(got) - value) > 1e-6 * max(1.0, abs(value)):
            misses[kind] += 1
    return misses


def finish(era: Era, result: dict[str, Any]) -> None:
    """Stop the engine (asked; killed if it does not answer), then check what it left."""
    end_status = era.status()
    dump = None
    if end_status is not None:
        with contextlib.suppress(EngineError, OSError):
            dump = era.client.dump(timeout=5.0)
        era.look()
    rss_end = rss_by_title(era.pgid)
    unreaped = zombies(era.pgid)
    with contextlib.suppress(EngineError, OSError):
        era.client.quit(timeout=2.0)
    era.client.close()
    orphans = kill_group(era.pgid, grace_s=10.0)
    with contextlib.suppress(Exception):
        era.engine.kill()
    (era.work / "engine.stderr").write_text("".join(era.engine.notices))
    time.sleep(0.2)
    leaked = leaked_names(era.pids)
    row: dict[str, Any] = {
        "era": era.number, "failed": era.failed, "events": len(era.events),
        "orphans": orphans, "leaked": leaked, "zombies_before_stop": unreaped,
        "rss_mb": {
            title: {"start": round(rss, 1), "end": round(rss_end[title][1], 1),
                    "same_process": pid == rss_end[title][0]}
            for title, (pid, rss) in era.rss_start.items() if title in rss_end
        },
    }  # fmt: skip
    lost: collections.Counter[str] = collections.Counter()
    try:
        session = read_stamped_log(era.log)
    except (OSError, ValueError) as exc:
        row["log"] = f"unreadable: {exc}"
        session = None
    if session is not None:
        logged = _logged(session)
        for kind, m in era.acked:
            if logged[_key(m)] > 0:
                logged[_key(m)] -= 1
            else:
                lost[kind] += 1
        bursts = sum(1 for _, m in session.commands if m.address == BURST_ADDRESS)
        lost["burst"] += max(0, era.burst_expected["burst"] - bursts)
        row["burst_logged_vs_expected"] = (bursts, era.burst_expected["burst"])
    row["commands_lost_from_log"] = dict(lost)
    row["dump_misses"] = dict(_dump_misses(era, dump)) if dump is not None else "no dump"
    row["acknowledged"] = len(era.acked)
    row["unanswered"] = dict(era.unanswered)
    row["recording"] = _compare(era, session, end_status, result)
    if end_status is not None:
        io, engine = end_status["io"], end_status["engine"]
        row["engine_end"] = {
            "underruns": io["underruns"], "xruns": io["xruns"],
            "covered_by_standby": io["covered_by_standby"],
            "one_sided_fades": io.get("one_sided_fades", 0), "failovers": engine["failovers"],
            "divergences": engine["divergences"], "overtaken": engine["overtaken_commands"],
            "host_stalls": end_status["host"]["stalls"],
        }  # fmt: skip
        row["underrun_spells"] = _spells_after_events(era, end_status)
    result["eras"].append(row)


def _spells_after_events(era: Era, status: dict[str, Any]) -> list[str]:
    """Each spell of underruns the engine kept, with the chaos event it came after."""
    block = int(status["engine"]["block"])
    marks = [(sample, kind) for kind, sample in era.events if sample is not None]
    told = []
    for spell in status["io"].get("underrun_spells", []):
        first = int(spell["first_block"]) * block
        after = [(first - sample, kind) for sample, kind in marks if sample <= first]
        since = (
            f"{after[-1][0] / status['engine']['rate']:.2f} s after {after[-1][1]}"
            if after
            else "before any event"
        )
        told.append(
            f"{spell['count']} at blocks {spell['first_block']}..{spell['last_block']} ({since}; "
            f"active {spell['active']}, behind at worst {spell['behind_max']}, causes "
            f"{spell['causes']})"
        )
    return told


def _compare(
    era: Era, session: StampedSession | None, end: dict[str, Any] | None, result: dict[str, Any]
) -> str:
    """Blocks of the recording that differ from the offline render of the log, charged to
    the event before each (before the last status only: the rest is the shutdown's)."""
    if session is None or end is None:
        return "not compared (no log, or the engine was not answering)"
    try:
        blocks, compared = recording_vs_log(session, era.wav, int(end["io"]["blocks_played"]))
    except (OSError, ValueError) as exc:
        return f"not compared: {exc}"
    marks = [(sample, kind) for kind, sample in era.events if sample is not None]
    for b in blocks:
        kind = "before any event"
        for sample, k in marks:
            if sample <= b * session.block:
                kind = k
        result["kinds"].setdefault(kind, _blank())["blocks_differing"] += 1
    return f"{len(blocks)} of {compared} blocks differ"


def _blank() -> dict[str, Any]:
    return {"rows": [], "blocks_differing": 0}


def run(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    root = Path(tempfile.mkdtemp(prefix="chronus-chaos-"))
    result: dict[str, Any] = {"kinds": {}, "eras": []}
    rotation = list(args.kinds)
    counts: collections.Counter[str] = collections.Counter()
    era = boot(1, args, root)
    started = time.monotonic()  # the minutes are of playing: the first boot is not counted
    end = started + 60 * args.minutes
    turn = 0
    last: dict[str, Any] | None = None
    while rotation and (time.monotonic() < end or any(counts[k] < args.rounds for k in rotation)):
        kind = rotation[turn % len(rotation)]
        turn += 1
        before = last or era.status()
        last = None
        sample = None
        with contextlib.suppress(EngineError, OSError):
            sample = int(era.client.now()["sample"])
        era.events.append((kind, sample))
        row = EVENTS[kind](era, counts[kind], args)
        counts[kind] += 1
        row.update(at=time.monotonic(), underruns_near=0, underruns_later=0, covered=0)
        if row["recovered"] is not False:
            last = watch(era, kind, row, before, min(end, row["at"] + args.every), args)
        elif before is not None and (after := era.status()) is not None:
            _charge(row, before, after)
        del row["at"]
        result["kinds"].setdefault(kind, _blank())["rows"].append(row)
        print(f"  {time.monotonic() - started:6.1f} s  {kind:16s} {_line(row)}", flush=True)
        if row["recovered"] is False and not era.failed and _playing(era, args.recover_s):
            continue  # a change or a burst that failed: the engine itself plays on
        if row["recovered"] is False or era.failed:
            era.failed = era.failed or f"did not recover from {kind} within {args.recover_s:g} s"
            print(f"  era {era.number} ends: {era.failed}; {kind} leaves the rotation", flush=True)
            rotation.remove(kind)
            finish(era, result)
            done = all(counts[k] >= args.rounds for k in rotation)
            if not rotation or (done and time.monotonic() >= end - 30):  # no time for a boot
                era = None
                break
            era = boot(era.number + 1, args, root)
    if era is not None:
        finish(era, result)
    report(result, args, time.monotonic() - started, figures)
    print(f"  files: {root}")


def _playing(era: Era, timeout: float) -> bool:
    """Whether the engine answers, its I/O plays on and both its seats run (within
    `timeout` s)."""
    first = era.status()
    if first is None:
        return False
    played = first["io"]["blocks_played"]

    def going(s: dict[str, Any]) -> bool:
        io = s["io"]
        return io["state"] == "running" and io["blocks_played"] > played and _both_running(s)

    return era.wait(going, timeout) is not None


def _line(row: dict[str, Any]) -> str:
    ms = row.get("recovery_ms")
    said = {True: "recovered", False: "NOT RECOVERED", None: "skipped"}[row["recovered"]]
    extra = {k: v for k, v in row.items() if k in ("refused", "kernel_drops", "note") and v}
    return (f"{said}" + (f" in {ms:.0f} ms" if ms is not None else "")
            + f", underruns {row['underruns_near']} near + {row['underruns_later']} later, "
            f"covered {row['covered']} {extra or ''}")  # fmt: skip


def report(
    result: dict[str, Any], args: argparse.Namespace, seconds: float, figures: dict[str, Any]
) -> None:
    print(f"\nbackend {args.backend}, {seconds / 60:.1f} min, an event every {args.every:g} s, "
          f"{len(result['eras'])} engine(s)")  # fmt: skip
    kinds: dict[str, Any] = {}
    lost_by_kind: collections.Counter[str] = collections.Counter()
    misses: collections.Counter[str] = collections.Counter()
    for era in result["eras"]:
        lost_by_kind.update(era["commands_lost_from_log"])
        if isinstance(era["dump_misses"], dict):
            misses.update(era["dump_misses"])
    for kind, found in result["kinds"].items():
        rows = found["rows"]
        times = [r["recovery_ms"] for r in rows if r.get("recovery_ms") is not None]
        kinds[kind] = {
            "events": len(rows),
            "recovered": sum(1 for r in rows if r["recovered"]),
            "failed": sum(1 for r in rows if r["recovered"] is False),
            "skipped": sum(1 for r in rows if r["recovered"] is None),
            "recovery_ms_median": round(statistics.median(times), 1) if times else None,
            "recovery_ms_max": round(max(times), 1) if times else None,
            "underruns_within_1s": sum(r["underruns_near"] for r in rows),
            "underruns_later": sum(r["underruns_later"] for r in rows),
            "covered_by_standby": sum(r["covered"] for r in rows),
            "blocks_differing": found["blocks_differing"],
            "commands_lost": lost_by_kind[kind],
            "dump_misses": misses[kind],
        }
        if kind == "burst":
            kinds[kind]["kernel_drops"] = sum(r.get("kernel_drops", 0) for r in rows)
            kinds[kind]["refused"] = sum(r.get("refused", 0) for r in rows)
        k = kinds[kind]
        print(f"  {kind:16s} {k['recovered']}/{k['events']} recovered"
              f" ({k['failed']} failed, {k['skipped']} skipped), recovery ms median "
              f"{k['recovery_ms_median']} max {k['recovery_ms_max']}; underruns "
              f"{k['underruns_within_1s']} within 1 s + {k['underruns_later']} later; blocks "
              f"differing {k['blocks_differing']}; commands lost {k['commands_lost']}, "
              f"dump misses {k['dump_misses']}")  # fmt: skip
    growth: dict[str, float] = {}
    for era in result["eras"]:
        print(f"  era {era['era']}: {era['events']} events; {era['failed'] or 'ran to the end'}; "
              f"recording: {era['recording']}; acknowledged {era['acknowledged']}, unanswered "
              f"{era['unanswered']}; orphans {era['orphans']}; unreaped before the stop "
              f"{era['zombies_before_stop']}; leaked {len(era['leaked'])} "
              f"{era['leaked'][:4]}")  # fmt: skip
        if "engine_end" in era:
            print(f"    engine at the end: {era['engine_end']}")
            for spell in era["underrun_spells"]:
                print(f"    underruns: {spell}")
        for title, rss in era["rss_mb"].items():
            if rss["same_process"]:
                growth[title] = max(growth.get(title, -1e9), rss["end"] - rss["start"])
        print("    RSS MB (start → end): " + ", ".join(
            f"{t} {r['start']}→{r['end']}{'' if r['same_process'] else ' (replaced)'}"
            for t, r in era["rss_mb"].items()))  # fmt: skip
    figures.update(
        backend=args.backend, minutes=round(seconds / 60, 2), every_s=args.every, kinds=kinds,
        eras=result["eras"],
        commands_lost=sum(lost_by_kind.values()), dump_misses=sum(misses.values()),
        leaked=sum(len(e["leaked"]) for e in result["eras"]),
        orphans=sum(len(e["orphans"]) for e in result["eras"]),
        rss_growth_mb={t: round(g, 1) for t, g in growth.items()},
        failed_kinds=[k for k, v in kinds.items() if v["failed"]],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="device", choices=("null", "device"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between events")
    parser.add_argument(
        "--rounds", type=int, default=0, help="and go on until each kind had this many turns"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, in turn")
    parser.add_argument("--recover-s", type=float, default=5.0, help="longest wait to recover")
    parser.add_argument("--burst-s", type=float, default=60.0, help="longest wait for a burst")
    add_json_flag(parser)
    args = parser.parse_args()
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if unknown := [k for k in args.kinds if k not in EVENTS]:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    with figures_out(args.json) as figures:
        run(args, figures)


if __name__ == "__main__":
    main()
