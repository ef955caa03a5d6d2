"""Isolated plugins under fire: native plugins in hosts of their own, one host SIGKILLed
every `--every` seconds, for `--minutes`.

    python benchmarks/isolated_soak.py --backend null --minutes 2
    python benchmarks/isolated_soak.py --backend device --minutes 10 [--stop]

An engine (`--backend null|device`, in a process group of its own) plays two saws, each
through a chain of two native LADSPA plugins from the Debian packages (`PLUGINS`: CMT's
low-pass then the TAP reverberator after the bass, the SDK's high-pass then SWH's plate after
the lead; `--plugins N` keeps the first N, a saw left without any plays straight to the
master), every plugin hosted isolated. Every `--every`
seconds (30) one plugin host is SIGKILLed, the hosts taken in turn. A host's pid is read from
`/plugins/<name>/health` and checked to be of the engine's group; the turn goes over the
*distinct* pids, so a host that serves several modules (one per maker) is one host. With
`--stop`, halfway between two kills the next host in turn is SIGSTOPped for `--stop-s` (2 s:
past the 1.5 s of missed heartbeats, so its keeper finds it dead) and SIGCONTed.

Reported: underruns (in all, and how many fell in a ~50 ms poll window that saw a host stall
of ≥ 4 ms, recorded by a SCHED_FIFO 99 sleeper per CPU, `tests/stalls.py`, against how many
windows saw one at all); the lockstep divergences and the calls the two slots offered a host
differently; per kill, the calls bypassed (from the kill to the next event: the dead host's,
and the new host's catch-up) and the time until every module it served had a new host serving
(polled every ~20 ms); the restarts and each module's respawn-ladder state (a host that served
longer than `RespawnPolicy.young_s` is forgiven, so one killed every 30 s should always be
"respawning now"), the hosts' deaths by cause, and the plugins' states (one the guard
suspended plays bypassed); the RSS of the supervisor and the plugin hosts at the start and the
end; how long the engine took to quit and the processes left after it; and whether `chronus
render` of the session log equals the recording: the blocks that differ, in runs (an
underrun's fade-out, lost blocks and fade-in), and the runs with no underrun the audio I/O
logged near them (`_explained`). And where the underruns and the CPU went: the underruns the
audio I/O logged, by cause; each slot's render time per block (p50, p99, max) and its slow
blocks; each process role's CPU over the run and its scheduling policy (`cpu_by_role.py`).

Timings on a shared machine are noisy: the lead measures again on a quiet one.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_by_role import CpuByRole
from engine_watch import group_processes, kill_group, rss_by_title, zombies
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import Message, validate
from tests.sessions import answer
from tests.stalls import StallMonitor

LADSPA = "/usr/lib/ladspa"


@dataclass(frozen=True, slots=True)
class Plugin:
    """A native plugin as the soak loads it: `/plugins/load <reference> <name>`."""

    reference: str
    name: str
    params: tuple[tuple[str, float], ...] = ()

    @property
    def library(self) -> Path:
        """The shared library it comes from."""
        return Path(self.reference.split("#")[0])


PLUGINS = (
    Plugin(f"{LADSPA}/cmt.so#lpf", "lpf_1051", (("cutoff_frequency", 1200.0),)),
    Plugin(f"{LADSPA}/tap_reverb.so#tap_reverb", "tap_reverb"),
    Plugin(f"{LADSPA}/filter.so#hpf", "hpf_1042", (("cutoff_frequency", 200.0),)),
    Plugin(f"{LADSPA}/plate_1423.so#plate", "plate"),
)
"""Four makers (CMT, TAP, the LADSPA SDK, SWH): four hosts even where hosts are grouped by
maker. Two chains of two."""
CHAINS = (("bass", "c2 eb2 g2 c3 . c2 bb1 g1"), ("lead", "c4 g4 eb4 . bb4 g4 f4 eb4"))
POLL_S = 0.05
"""How often the engine's status is polled: the underrun windows."""
STALL_MS = 4.0
SLACK_NS = 10_000_000
"""A stall that ended just before a window can still be paid for in it."""
NEAR_UNDERRUN = 2
"""A differing block within this many blocks of an underrun is the underrun's (its fades)."""
BLOCK, RATE = 128, 48000
RENDER_EVERY_S = 2.0
"""How often the slots' render times and the processes' CPU are read (a slot's timing window
is its last 1,024 blocks: 2.7 s)."""


@dataclass
class Event:
    """One SIGKILL (or SIGSTOP) of a host, and what followed."""

    kind: str
    pid: int
    modules: list[str]
    at: float
    bypasses_before: dict[str, int]
    cont_at: float | None = None
    served_ms: float | None = None
    new_pids: list[int] = field(default_factory=list)
    bypassed: int | None = None
    decisions: list[str] = field(default_factory=list)
    kept: bool = False

    def row(self, started: float) -> dict[str, Any]:
        """As reported."""
        return {
            "kind": self.kind, "at_s": round(self.at - started, 1), "pid": self.pid,
            "modules": self.modules, "serving_again_ms": _round(self.served_ms),
            "bypassed_calls": self.bypassed, "new_pids": self.new_pids,
            "decisions": self.decisions, "kept": self.kept,
        }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def chains(plugins: tuple[Plugin, ...]) -> tuple[list[Message], list[tuple[str, Plugin]]]:
    """The patch (two saws, each through its plugins, the pattern started) and its plugin
    modules, as (module id, plugin)."""
    messages: list[Message] = []
    modules: list[tuple[str, Plugin]] = []
    for c, (voice, notes) in enumerate(CHAINS):
        mine = plugins[2 * c : 2 * c + 2]
        messages += [validate("/patch/create", (voice, "saw")),
                     validate("/mod/" + voice + "/volume", (-12.0,))]  # fmt: skip
        before = voice
        for plugin in mine:
            module = f"fx{len(modules)}"
            modules.append((module, plugin))
            messages.append(validate("/patch/create", (module, plugin.name)))
            messages += [validate(f"/mod/{module}/{p}", (v,)) for p, v in plugin.params]
            messages.append(validate("/patch/connect", (before, module)))
            before = module
        messages += [validate("/patch/connect", (before, "master")),
                     validate(f"/seq/{voice}/pattern", (notes,))]  # fmt: skip
    return [*messages, validate("/seq/start", ())], modules


class Soak:
    """The engine, its plugin modules and what the soak saw of them."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.log, self.wav = work / "session.log", work / "out.wav"
        self.plugins = PLUGINS[: args.plugins]
        self.patch, self.modules = chains(self.plugins)
        (work / "modules").mkdir(exist_ok=True)
        self.engine = EngineProcess(
            port=0, backend=args.backend, rate=RATE, block=BLOCK, own_group=True,
            extra_args=["--log", str(self.log), "--record", str(self.wav),
                        "--plugin-store", str(work / "store"), "--modules", str(work / "modules")],
        ).boot()  # fmt: skip
        assert self.engine.process is not None
        self.pgid = os.getpgid(self.engine.process.pid)
        self.client: EngineClient = self.engine.client()
        self.events: list[Event] = []
        self.polls: list[tuple[int, int, int]] = []
        self.underrun_blocks: set[int] = set()
        self._booting: set[int] = set()
        self.first_block = 0
        self.waits_before: dict[str, dict[str, float]] = {}
        self.underrun_rows: dict[int, dict[str, Any]] = {}
        """The audio I/O's log of each underrun seen while striking, by block."""
        self.renders: list[dict[str, dict[str, float]]] = []
        """Each slot's render time (p50, p99, max over its last 1,024 blocks), every
        `RENDER_EVERY_S`."""
        self.cpu = CpuByRole(self.pgid)
        self.host_counts: list[dict[str, float]] = []
        """Every `RENDER_EVERY_S`: the plugin host processes of the group (titled), the
        processes still starting (untitled: a spawned host importing) and the zombies."""
        self.load_s = 0.0
        """From the first `/plugins/load` to every module's host serving."""
        self.started = time.monotonic()

    def load(self) -> None:
        """Load every plugin (isolated: natives never play inline), build the patch, wait
        until every module's host serves."""
        began = time.monotonic()
        for plugin in self.plugins:
            self.client.send_raw("/plugins/load", plugin.reference, plugin.name, 0, "isolated")
            reply = answer(self.client, "/plugins/loaded", 120.0)
            if reply[0] != "/plugins/loaded" or reply[1][2] != "active":
                raise SystemExit(f"{plugin.name} did not load: {reply}")
        self.client.send(self.patch)
        _, notes = self.client.sync(timeout=10.0)
        if notes:
            raise SystemExit(f"the patch was refused: {notes}")
        deadline = time.monotonic() + 120.0  # a loaded machine takes long to import
        while not self._all_serving(self.hosts()):
            if time.monotonic() > deadline:
                raise SystemExit(f"the hosts did not all start: {self.hosts()}")
            time.sleep(0.1)
        self.load_s = time.monotonic() - began

    def hosts(self, names: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each plugin module's host health, by module id (of the plugins in `names` only)."""
        found: dict[str, dict[str, Any]] = {}
        for plugin in self.plugins:
            if names is None or plugin.name in names:
                found.update(self.client.plugin_health(plugin.name).get("hosts", {}))
        return found

    def _all_serving(self, hosts: dict[str, dict[str, Any]]) -> bool:
        return all(
            module in hosts and hosts[module]["host_state"] == "running"
            and int(hosts[module]["host_pid"]) != 0
            for module, _ in self.modules
        )  # fmt: skip

    def ours(self, pid: int) -> bool:
        """Whether `pid` is a plugin host of this engine (never signal anything else)."""
        return group_processes(self.pgid).get(pid, "").startswith("plugin host")

    # -- the events ----------------------------------------------------------------------

    def strike(self, kind: str, turn: int) -> None:
        """SIGKILL (or SIGSTOP) the `turn`-th distinct host pid, in module order."""
        hosts = self.hosts()
        pids: list[int] = []
        for module, _ in self.modules:
            pid = int(hosts.get(module, {}).get("host_pid", 0))
            if pid and hosts[module]["host_state"] == "running" and pid not in pids:
                pids.append(pid)
        pids = [pid for pid in pids if self.ours(pid)]
        if not pids:
            print(f"  {kind}: no host serving, skipped", flush=True)
            return
        pid = pids[turn % len(pids)]
        served = [m for m, h in hosts.items() if int(h["host_pid"]) == pid]
        bypasses = {m: int(h["bypasses"]) for m, h in hosts.items()}
        self._close_window(bypasses)
        os.kill(pid, signal.SIGKILL if kind == "kill" else signal.SIGSTOP)
        event = Event(kind, pid, served, time.monotonic(), bypasses)
        if kind == "stop":
            event.cont_at = event.at + self.args.stop_s
        self.events.append(event)

    def _close_window(self, bypasses: dict[str, int]) -> None:
        """The last event's bypassed calls: from it until now."""
        if self.events and self.events[-1].bypassed is None:
            last = self.events[-1]
            last.bypassed = sum(
                bypasses.get(m, last.bypasses_before[m]) - last.bypasses_before[m]
                for m in last.modules
            )

    def follow(self) -> None:
        """SIGCONT a stopped host when due; see whether the struck hosts serve again."""
        now = time.monotonic()
        pending = [e for e in self.events if e.served_ms is None and not e.kept]
        for event in pending:
            if event.cont_at is not None and now >= event.cont_at:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(event.pid, signal.SIGCONT)
                event.cont_at = None
        names = {self._plugin(m) for e in pending for m in e.modules}
        if not names:
            return
        hosts = self.hosts(names)
        for event in pending:
            mine = [hosts.get(m, {}) for m in event.modules]
            fine = all(h.get("host_state") == "running" and h.get("host_pid") for h in mine)
            pids = sorted({int(h["host_pid"]) for h in mine}) if fine else []
            if fine and event.pid not in pids:
                event.served_ms = 1000 * (time.monotonic() - event.at)
                event.new_pids = pids
                event.decisions = [str(h.get("decision", "")) for h in mine]
                self._tell(event)
            elif fine and event.kind == "stop" and event.cont_at is None:
                event.kept = True  # SIGCONTed before its keeper judged it dead
                self._tell(event)

    def _plugin(self, module: str) -> str:
        return next(p.name for m, p in self.modules if m == module)

    def _tell(self, event: Event) -> None:
        what = "kept (SIGCONTed in time)" if event.kept else f"serving again in " \
            f"{event.served_ms:.0f} ms ({', '.join(event.decisions)})"  # fmt: skip
        print(f"  {event.at - self.started:6.1f} s  {event.kind} host {event.pid} "
              f"({', '.join(event.modules)}): {what}", flush=True)  # fmt: skip

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Play and strike for `--minutes` (then wait up to 15 s for the last struck host to
        be replaced); the status and hosts at the end."""
        args = self.args
        self.started = start = time.monotonic()
        end = start + 60 * args.minutes
        next_kill, next_stop = start + args.every, start + args.every / 2
        kills = stops = 0
        io = self.client.status()["io"]
        self._seen = int(io["underruns"])
        self._booting = {int(u["block"]) for u in io["recent_underruns"]}
        self.first_block = int(io["blocks_played"])
        self.waits_before = {m: h.get("slot_waits", {}) for m, h in self.hosts().items()}
        self.underrun_blocks |= self._booting
        self._since, self._polled = time.monotonic_ns(), time.monotonic()
        self._sampled = self._polled
        self.cpu.sample(credit=False)
        while (now := time.monotonic()) < end:
            if now >= next_kill:
                self.strike("kill", kills)
                kills, next_kill = kills + 1, next_kill + args.every
            elif args.stop and now >= next_stop:
                self.strike("stop", stops + 1)
                stops, next_stop = stops + 1, next_stop + args.every
            self.follow()
            self._watch()
            time.sleep(0.02)
        deadline = time.monotonic() + 15.0
        while any(e.served_ms is None and not e.kept for e in self.events):
            if time.monotonic() > deadline:
                break
            self.follow()
            self._watch()
            time.sleep(0.02)
        hosts = self.hosts()
        self._close_window({m: int(h["bypasses"]) for m, h in hosts.items()})
        states = {p.name: str(self.client.plugin_health(p.name)["state"]) for p in self.plugins}
        status = self._watch(now=True)
        return {"status": status, "hosts": hosts, "plugin_states": states}

    def _watch(self, now: bool = False) -> dict[str, Any] | None:
        """Every `POLL_S` (or `now`): the underruns since the last look, as a window, and
        the blocks the audio I/O logged them at. The status, if one was read."""
        if not now and time.monotonic() - self._polled < POLL_S:
            return None
        status = self.client.status()
        self._polled, stamp = time.monotonic(), time.monotonic_ns()
        underruns = int(status["io"]["underruns"])
        self.polls.append((self._since, stamp, underruns - self._seen))
        self.underrun_blocks |= {int(u["block"]) for u in status["io"]["recent_underruns"]}
        if underruns > self._seen:
            self.underrun_rows.update(
                {int(u["block"]): u for u in status["io"]["recent_underruns"]}
            )
        self._seen, self._since = underruns, stamp
        if now or self._polled - self._sampled >= RENDER_EVERY_S:
            self._sampled = self._polled
            self.renders.append(
                {s["name"]: s["render"] for s in status["slots"] if s.get("render")}
            )
            self.cpu.sample()
            self._count_hosts()
        return status

    def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until no process is still starting (a spawned host imports for seconds, and
        is not titled a plugin host until it has): the memory at the start counts them all."""
        deadline = time.monotonic() + timeout_s
        while _spawning(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.2)

    def _count_hosts(self) -> None:
        titles = group_processes(self.pgid).values()
        self.host_counts.append({
            "t": round(time.monotonic() - self.started, 1),
            "hosts": sum(t.startswith("plugin host") for t in titles),
            "starting": _spawning(self.pgid), "zombies": zombies(self.pgid),
        })  # fmt: skip

    def quit(self) -> tuple[int | None, float, list[str]]:
        """Stop the engine (its stderr kept in the run's folder); its exit code (-9: it did
        not stop within 10 s and was killed), the seconds that took, and the processes of
        its group left behind."""
        for event in self.events:
            if event.cont_at is not None:  # a host left stopped would hold the quit up
                with contextlib.suppress(ProcessLookupError):
                    os.kill(event.pid, signal.SIGCONT)
        self.client.close()
        code: int | None = None
        began = time.monotonic()
        with contextlib.suppress(EngineError, OSError, subprocess.TimeoutExpired):
            code = self.engine.quit()
        took = time.monotonic() - began
        left = kill_group(self.pgid, grace_s=5.0)
        with contextlib.suppress(Exception):
            self.engine.kill()
        (self.work / "engine.stderr").write_text("".join(self.engine.notices))
        return code, took, left


# -- the recording against the offline render ---------------------------------------------------


def _wav_data(path: Path) -> npt.NDArray[np.float32]:
    """A float32 WAV's frames, mapped (not read: a 10-minute take is 230 MB)."""
    with path.open("rb") as file:
        head = file.read(1 << 16)
    pos, channels = 12, 2
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            tag, channels, _, _, _, bits = struct.unpack("<HHIIHH", head[pos + 8 : pos + 24])
            if (tag, bits) != (3, 32):
                raise ValueError(f"{path}: not float32")
        elif chunk == b"data":
            frames = size // (4 * channels)
            return np.memmap(path, "<f4", "r", pos + 8, (frames, channels))
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def compare(soak: Soak, played: int, underruns: int) -> dict[str, Any]:
    """`chronus render` of the session log against the recording, over the first `played`
    blocks (the rest is the shutdown's)."""
    offline = soak.work / "offline.wav"
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "chronus", "render", str(soak.log), "-o", str(offline),
         "--seconds", repr(played * BLOCK / RATE)],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    render_s = time.monotonic() - began
    if done.returncode != 0:
        return {"equal": False, "note": f"chronus render failed: {done.stderr.strip()[-400:]}"}
    recorded, rendered = _wav_data(soak.wav), _wav_data(offline)
    frames = min(len(recorded), len(rendered), played * BLOCK)
    differing: list[int] = []
    step = BLOCK * 4096
    for first in range(0, frames, step):
        last = min(frames, first + step)
        rows = np.flatnonzero(np.any(recorded[first:last] != rendered[first:last], axis=1))
        differing += sorted({(first + int(r)) // BLOCK for r in rows})
    return {
        "blocks_compared": frames // BLOCK, "blocks_differing": len(differing),
        **_explained(differing, soak.underrun_blocks, underruns),
        "within_twice_the_underruns": len(differing) <= 2 * underruns,
        "peak": round(float(np.abs(rendered[:frames]).max()), 3) if frames else 0.0,
        "render_s": round(render_s, 1),
    }  # fmt: skip


def _explained(differing: list[int], logged: set[int], underruns: int) -> dict[str, Any]:
    """The runs of consecutive differing blocks (an underrun's fade-out, its lost blocks and
    the fade-in make one run), and those with no underrun the audio I/O logged near them.
    The I/O keeps its last 8 underruns: more between two polls, or while the engine was
    made, are counted but not logged, so a run may be theirs. `equal`: every run is near a
    logged underrun or can be an unlogged one."""
    runs: list[list[int]] = []
    for block in differing:
        if runs and block == runs[-1][-1] + 1:
            runs[-1].append(block)
        else:
            runs.append([block])
    near = {b + d for b in logged for d in range(-NEAR_UNDERRUN, NEAR_UNDERRUN + 1)}
    alone = [run for run in runs if not near.intersection(run)]
    unlogged = max(0, underruns - len(logged))
    return {
        "runs": len(runs), "runs_with_no_logged_underrun": len(alone),
        "underruns_not_logged": unlogged, "first_runs_alone": [r[0] for r in alone[:10]],
        "equal": sum(len(run) for run in runs) <= 2 * underruns and len(alone) <= unlogged,
    }  # fmt: skip


def stall_windows(
    polls: list[tuple[int, int, int]], stalls: list[tuple[int, int, int]]
) -> dict[str, Any]:
    """How many underruns fell in a poll window that saw a host stall, against how many
    windows saw one at all (the chance of a coincidence)."""

    def stalled(start: int, stop: int) -> bool:
        return any(s < stop and s + d > start - SLACK_NS for _, s, d in stalls)

    hit = [stalled(start, stop) for start, stop, _ in polls]
    return {
        "underruns_in_host_stall_windows": sum(n for (_, _, n), h in zip(polls, hit, strict=True)
                                               if h),
        "host_stalls": len(stalls),
        "longest_host_stall_ms": round(max((d for _, _, d in stalls), default=0) / 1e6, 1),
        "windows_with_a_stall": f"{sum(hit)} of {len(polls)}",
    }  # fmt: skip


def _near_events(soak: Soak) -> int:
    """Underruns in the poll windows that end within 1 s after a kill or a stop."""
    struck = [int(e.at * 1e9) for e in soak.events]
    return sum(n for _, end, n in soak.polls if any(0 <= end - at <= 1e9 for at in struck))


def underrun_causes(soak: Soak) -> dict[str, Any]:
    """What the audio I/O logged of the underruns seen while striking (it keeps its last 8:
    more between two polls go unlogged): how many by cause, and by how many blocks the
    active slot was behind."""
    rows = list(soak.underrun_rows.values())
    return {
        "logged": len(rows),
        "by_cause": dict(collections.Counter(str(r["cause"]) for r in rows)),
        "active_behind": dict(collections.Counter(int(r["behind"][r["active"]]) for r in rows)),
        "at_s": sorted(round((b - soak.first_block) * BLOCK / RATE, 1) for b in soak.underrun_rows),
        "rows": [soak.underrun_rows[b] for b in sorted(soak.underrun_rows)],
    }


SLOT_COUNTERS = (
    "heavy_renders", "held_renders", "slow_wakes", "max_wake_us", "late_blocks", "restarts",
    "waited_for_peer", "found_active_held_up", "rendered_ahead", "max_gc_us", "max_drain_us",
    "lead",
)  # fmt: skip
"""A slot's counters at the end of the run, as `/engine/status` gives them."""


def slot_figures(soak: Soak, status: dict[str, Any]) -> dict[str, Any]:
    """Each slot's render time over the run (the median of its p50 readings, the median and
    the largest of its p99s, the largest max) and its counters of slow blocks at the end."""
    figures: dict[str, Any] = {}
    for slot in status["slots"]:
        name = str(slot["name"])
        readings = [r[name] for r in soak.renders if name in r]
        p99s = [float(r["p99_us"]) for r in readings]
        figures[name] = {
            "render_p50_us": _round(statistics.median(float(r["p50_us"]) for r in readings))
            if readings else None,
            "render_p99_us": {"median": _round(statistics.median(p99s)) if p99s else None,
                              "max": max(p99s, default=None)},
            "render_max_us": max((float(r["max_us"]) for r in readings), default=None),
            **{key: slot.get(key) for key in SLOT_COUNTERS},
        }  # fmt: skip
    return figures


def _waits_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """A module's slot waits while striking: the counts and the time grown since the start
    (the longest wait is the ring's, the host's warm-up included)."""
    return {k: v if k == "longest_us" else round(v - before.get(k, 0), 1) for k, v in after.items()}


def _hosts_rss(rss: dict[str, tuple[int, float]]) -> dict[str, Any]:
    """The plugin hosts' memory: RSS each and in all, and their proportional share in all
    (PSS: the pages they share with each other, numpy's and numba's, counted once)."""
    hosts = {t: (pid, round(mb, 1)) for t, (pid, mb) in rss.items() if t.startswith("plugin host")}
    return {
        "count": len(hosts), "total_mb": round(sum(mb for _, mb in hosts.values()), 1),
        "pss_mb": round(sum(_pss_mb(pid) for pid, _ in hosts.values()), 1),
        "each": {t: mb for t, (_, mb) in hosts.items()},
    }  # fmt: skip


def _spawning(pgid: int) -> int:
    """The group's processes spawned by multiprocessing and still untitled (importing)."""
    count = 0
    for pid, title in group_processes(pgid, every=True).items():
        if not title.startswith("plugin host") and "python" in title:
            with contextlib.suppress(OSError):
                count += b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return count


def _host_counts(counts: list[dict[str, float]]) -> dict[str, Any]:
    """The plugin host processes over the run: fewest and most, the last count, and the
    most processes seen starting (spawned, importing) and zombies."""
    hosts = [int(c["hosts"]) for c in counts] or [0]
    return {
        "min": min(hosts), "max": max(hosts), "last": hosts[-1],
        "starting_max": max((int(c["starting"]) for c in counts), default=0),
        "zombies_max": max((int(c["zombies"]) for c in counts), default=0),
        "samples": len(counts),
    }  # fmt: skip


def _pss_mb(pid: int) -> float:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0  # gone meanwhile
    return next((int(line.split()[1]) / 1024 for line in rollup.splitlines()
                 if line.startswith("Pss:")), 0.0)  # fmt: skip


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Boot, load, play and strike, stop, render and compare; fill `figures`."""
    missing = [p.reference for p in PLUGINS[: args.plugins] if not p.library.is_file()]
    if missing:
        raise SystemExit(f"missing LADSPA plugins {missing}: apt install tap-plugins "
                         "swh-plugins cmt ladspa-sdk")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="chronus-isolated-soak-", dir=args.work))
    load_before = os.getloadavg()
    soak = Soak(args, work)
    try:
        soak.load()
        time.sleep(1.0)
        soak.settle()
        rss_start = rss_by_title(soak.pgid)
        hosts_start = _hosts_rss(rss_start)
        with StallMonitor(STALL_MS, capacity=1 << 15) as monitor:
            end = soak.run()
            stalls = monitor.stalls
        rss_end = rss_by_title(soak.pgid)
        hosts_end = _hosts_rss(rss_end)
    finally:
        code, quit_s, left = soak.quit()
    status, hosts = end["status"], end["hosts"]
    io, engine = status["io"], status["engine"]
    underruns = int(io["underruns"])
    recording = (
        {"equal": None, "note": "not rendered (--no-render)"}
        if args.no_render
        else compare(soak, int(io["blocks_played"]), underruns)
    )
    rows = [e.row(soak.started) for e in soak.events]
    kills = [e for e in soak.events if e.kind == "kill"]
    times = [e.served_ms for e in kills if e.served_ms is not None]
    bypassed = [e.bypassed for e in kills if e.bypassed is not None]
    figures.update(
        backend=args.backend, minutes=args.minutes, every_s=args.every, work=str(work),
        plugins=[p.name for p in soak.plugins], load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in os.getloadavg()],
        kills=len(kills), stops=len(soak.events) - len(kills),
        served_again=sum(1 for e in soak.events if e.served_ms is not None or e.kept),
        serving_again_ms={"median": _round(statistics.median(times)) if times else None,
                          "max": _round(max(times)) if times else None},
        bypassed_calls_per_kill={"median": statistics.median(bypassed) if bypassed else None,
                                 "max": max(bypassed) if bypassed else None},
        underruns=underruns, underruns_while_striking=sum(n for _, _, n in soak.polls),
        underruns_within_1s_of_an_event=_near_events(soak),
        xruns=int(io.get("xruns", 0)),
        xruns_in_host_stalls=int(io.get("xruns_in_host_stalls", 0)),
        underrun_log=underrun_causes(soak), slots=slot_figures(soak, status),
        cpu_by_role=soak.cpu.report(time.monotonic() - soak.started),
        **stall_windows(soak.polls, stalls), stall_monitor_realtime=monitor.realtime,
        divergences=int(engine["divergences"]),
        offered_differently=sum(int(h["different"]) for h in hosts.values()),
        host_errors=sum(int(h["host_errors"]) for h in hosts.values()),
        slot_waits={m: _waits_since(soak.waits_before.get(m, {}), h.get("slot_waits", {}))
                    for m, h in hosts.items()},
        restarts=sum(int(h["restarts"]) for h in hosts.values()),
        ladder={m: {"state": h["host_state"], "restarts": h["restarts"],
                    "decision": h["decision"], "deaths": collections.Counter(h["deaths"])}
                for m, h in hosts.items()},
        plugin_states=end["plugin_states"],
        deaths=collections.Counter(d for h in hosts.values() for d in h["deaths"]),
        suspended=sum(1 for h in hosts.values() if h["host_state"] == "suspended"),
        rss_mb={"supervisor": [round(rss_start["supervisor"][1], 1),
                               round(rss_end["supervisor"][1], 1)],
                "hosts_start": hosts_start, "hosts_end": hosts_end},
        exit_code=code, quit_s=round(quit_s, 1), left_behind=left, recording=recording, events=rows,
        load_s=round(soak.load_s, 2), host_processes=_host_counts(soak.host_counts),
    )  # fmt: skip
    report(figures)


def report(f: dict[str, Any]) -> None:
    """The figures in prose."""
    rec = f["recording"]
    print(
        f"\nbackend {f['backend']}, {f['minutes']:g} min, plugins {', '.join(f['plugins'])}; "
        f"load {f['load_before'][0]} → {f['load_after'][0]}"
    )
    print(
        f"  {f['kills']} SIGKILLs and {f['stops']} SIGSTOPs of a host; served again after "
        f"{f['served_again']}; serving again ms median {f['serving_again_ms']['median']} max "
        f"{f['serving_again_ms']['max']}; calls bypassed per kill median "
        f"{f['bypassed_calls_per_kill']['median']} max {f['bypassed_calls_per_kill']['max']}"
    )
    print(
        f"  underruns {f['underruns']} ({f['underruns_in_host_stall_windows']} in a window "
        f"with a host stall; windows with one: {f['windows_with_a_stall']}; stalls "
        f"{f['host_stalls']}, longest {f['longest_host_stall_ms']} ms), xruns {f['xruns']}"
    )
    print(f"  underruns within 1 s after a kill or a stop: {f['underruns_within_1s_of_an_event']}")
    print(f"  underruns the I/O logged: {f['underrun_log']}")
    print(f"  the slots' waits in the rings (for the host; for the peer): {f['slot_waits']}")
    for name, slot in f["slots"].items():
        print(f"    slot {name}: {slot}")
    print("  CPU by role (% of one core over the run; policies seen):")
    for role, cpu in f["cpu_by_role"].items():
        print(f"    {role}: {cpu['cpu_pct_of_a_core']} % ({', '.join(cpu['policies'])})")
    print(
        f"  divergences {f['divergences']}, calls offered differently "
        f"{f['offered_differently']}, host errors {f['host_errors']}, restarts "
        f"{f['restarts']}, suspended {f['suspended']}"
    )
    for module, ladder in f["ladder"].items():
        print(
            f"    {module}: {ladder['state']}, {ladder['restarts']} restarts, last decision "
            f"{ladder['decision']!r}; deaths {dict(ladder['deaths'])}"
        )
    print(f"  plugins: {f['plugin_states']} (a plugin the guard suspended plays bypassed)")
    rss = f["rss_mb"]
    print(
        f"  RSS MB: supervisor {rss['supervisor'][0]} → {rss['supervisor'][1]}; plugin hosts "
        f"{rss['hosts_start']['count']} processes {rss['hosts_start']['total_mb']} "
        f"(PSS {rss['hosts_start']['pss_mb']}) → {rss['hosts_end']['count']} processes "
        f"{rss['hosts_end']['total_mb']} (PSS {rss['hosts_end']['pss_mb']})"
    )
    h = f["host_processes"]
    print(f"  plugin host processes: {h['min']}–{h['max']}, {h['last']} at the end (starting at "
          f"most {h['starting_max']}, zombies at most {h['zombies_max']}); every host serving "
          f"{f['load_s']} s after the first /plugins/load")  # fmt: skip
    print(f"  host deaths by cause: {dict(f['deaths'])}")
    print(f"  engine exit {f['exit_code']} after {f['quit_s']} s, left behind {f['left_behind']}")
    print(f"  recording against `chronus render` of the log: {rec}")
    print(f"  files: {f['work']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between kills")
    parser.add_argument("--plugins", type=int, default=4, choices=(0, 1, 2, 3, 4))
    parser.add_argument("--stop", action="store_true", help="and a SIGSTOP between kills")
    parser.add_argument("--stop-s", type=float, default=2.0, help="how long a host stays stopped")
    parser.add_argument(
        "--no-render", action="store_true", help="skip the offline render of the session log"
    )
    parser.add_argument(
        "--work", default=None, help="where the run's folder goes (default: TMPDIR)"
    )
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


if __name__ == "__main__":
    main()
