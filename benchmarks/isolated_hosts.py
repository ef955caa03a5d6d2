"""What hosting a module in its own process costs: the round trip, the respawn, the CPU.

    python benchmarks/isolated_hosts.py [--calls 3000] [--kills 8] [--json]

A user module (`examples/modules/fold.py`) is hosted by a real host process kept by a
`HostKeeper`, on a ring of 128-frame calls at 48 kHz, and played from this process at the
block period, as a slot would:

- **round trip**: from a call's submission to its `DONE` seen by the slot, which here waits
  for it at once (a slot does not: it reads a call's output a block later); p50 and p99 over
  `--calls` calls, paced one per period so that the host sleeps between them as it would;
- **spawn from the warm pool**: the host SIGKILLed `--kills` times; for each, the time from
  the keeper's `go` to the new host serving (its spare was made ready meanwhile), and from
  the kill to serving with the keeper polling every 10 ms;
This process plays the slot at the slots' realtime priority (SCHED_FIFO 60, above the host's
59), where the system allows it: otherwise the host, woken by a submission, preempts the slot
on its CPU and the slot's time includes the host's.

- **CPU per module per block**: the slot's time in the stand-in's `process_stereo` (submit,
  collect) against the module's own `process_stereo` inline, alternated; and the host
  process's CPU over the run (user + system, from `/proc`) per call, against the module's
  own time per call.

Timings on a shared machine are noisy: medians, and measure again on a quiet machine for the
record.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.host_keeper import HostKeeper
from chronus.engine.lifecycle import try_realtime
from chronus.engine.slot import SLOT_PRIORITY
from chronus.plugins.host_ring import DONE, ENTRIES, HostRing, RingShape, SlotLink
from chronus.plugins.isolated import isolated_type
from chronus.plugins.source import import_plugin, version_of
from chronus.plugins.type_source import TypeSource

RATE, FRAMES = 48000, 128
PERIOD = FRAMES / RATE
FOLD = Path(__file__).resolve().parent.parent / "examples" / "modules" / "fold.py"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def round_trips(ring: HostRing, keeper: HostKeeper, calls: int) -> dict[str, float]:
    """Submit, then wait for DONE, one call per period; the host's CPU per call."""
    link = SlotLink(ring)
    params = np.array([spec.default for spec in import_fold().PARAMS])
    inp = 0.5 * np.random.default_rng(3).standard_normal((FRAMES, 2))
    fifo = np.zeros((4 * FRAMES, 2))
    host = keeper.host
    assert host is not None
    first = int(ring.header[0]) + 1
    times: list[float] = []
    cpu_before = _cpu_s(host.pid)
    began = time.monotonic()
    for i in range(calls):
        call = first + i
        due = began + i * PERIOD
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter_ns()
        link.submit(call, inp, params, FRAMES)
        e = call % ENTRIES
        while int(ring.words[e]) != call * 8 + DONE:
            ring.word_futex.wait(e, int(ring.words[e]), 0.01)
            if time.perf_counter_ns() - t0 > 50_000_000:
                break
        times.append((time.perf_counter_ns() - t0) / 1000)
        link.collect(call, fifo, 0, FRAMES)
    host_cpu_us = 1e6 * (_cpu_s(host.pid) - cpu_before) / calls
    return {
        "round_trip_p50_us": _percentile(times, 50),
        "round_trip_p99_us": _percentile(times, 99),
        "round_trip_max_us": max(times),
        "host_cpu_us_per_call": host_cpu_us,
    }


def import_fold() -> Any:
    return import_plugin(FOLD, "fold", version_of(FOLD.read_bytes()))


def slot_cost(ring: HostRing, keeper: HostKeeper, calls: int) -> dict[str, float]:
    """The stand-in's process_stereo (with the host answering) against the module's own,
    alternated call by call, paced."""
    fold = import_fold()
    inline = fold(RATE, FRAMES)
    stand_in = isolated_type(fold)(RATE, FRAMES)
    stand_in.attach(SlotLink(ring))
    inp = 0.5 * np.random.default_rng(4).standard_normal((FRAMES, 2))
    out = np.zeros((FRAMES, 2))
    # the stand-in's calls start at 0: the ring starts over, with a new host (at call 0)
    host = keeper.host
    assert host is not None
    ring.format()
    os.kill(host.pid, signal.SIGKILL)
    while keeper.health()["host_pid"] in (0, host.pid):
        keeper.poll()
        time.sleep(0.01)
    own, isolated = [], []
    began = time.monotonic()
    for i in range(calls):
        delay = began + i * PERIOD - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter_ns()
        inline.process_stereo(inp, out, FRAMES)
        t1 = time.perf_counter_ns()
        stand_in.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
        t2 = time.perf_counter_ns()
        own.append((t1 - t0) / 1000)
        isolated.append((t2 - t1) / 1000)
    return {
        "module_us_p50": statistics.median(own),
        "stand_in_us_p50": statistics.median(isolated),
        "stand_in_us_p99": _percentile(isolated, 99),
    }


def respawns(keeper: HostKeeper, kills: int) -> dict[str, float]:
    """SIGKILL the host `kills` times; the keeper's spawn time and kill-to-serving time."""
    spawn_ms, gap_ms = [], []
    for _ in range(kills):
        time.sleep(4.0)  # the spare gets ready; the policy's "young" window passes
        host = keeper.host
        assert host is not None
        t0 = time.perf_counter()
        os.kill(host.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30.0
        while keeper.health()["host_pid"] in (0, host.pid) and time.monotonic() < deadline:
            keeper.poll()
            time.sleep(0.01)
        gap_ms.append(1000 * (time.perf_counter() - t0))
        spawn_ms.append(float(keeper.health()["spawn_ms"]))
    return {
        "spawn_ms_median": statistics.median(spawn_ms),
        "spawn_ms_max": max(spawn_ms),
        "kill_to_serving_ms_median": statistics.median(gap_ms),
        "kill_to_serving_ms_max": max(gap_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=8)
    add_json_flag(parser)
    args = parser.parse_args()
    fold = import_fold()
    realtime = try_realtime(SLOT_PRIORITY)  # as a slot runs: above its host
    name = f"chr_bench_host_{os.getpid()}"
    ring = HostRing.create(name, RingShape(FRAMES, len(fold.PARAMS)))
    source = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
    keeper = HostKeeper(ring, source, RATE)
    try:
        with figures_out(args.json) as figures:
            print(f"this process (the slot) at SCHED_FIFO {SLOT_PRIORITY}: {realtime}")
            figures["slot_realtime"] = realtime
            keeper.start()
            time.sleep(2.0)
            trips = round_trips(ring, keeper, args.calls)
            print(
                f"round trip: p50 {trips['round_trip_p50_us']:.0f} µs, "
                f"p99 {trips['round_trip_p99_us']:.0f} µs, max {trips['round_trip_max_us']:.0f}"
                f" µs; host CPU {trips['host_cpu_us_per_call']:.1f} µs per call"
            )
            figures.update(trips)
            respawned = respawns(keeper, args.kills)
            print(
                f"spawn from the warm pool: median {respawned['spawn_ms_median']:.1f} ms, "
                f"max {respawned['spawn_ms_max']:.1f} ms; kill to serving median "
                f"{respawned['kill_to_serving_ms_median']:.1f} ms, max "
                f"{respawned['kill_to_serving_ms_max']:.1f} ms"
            )
            figures.update(respawned)
            cost = slot_cost(ring, keeper, args.calls)
            print(
                f"in the slot: the module's own process_stereo {cost['module_us_p50']:.1f} µs,"
                f" the stand-in's {cost['stand_in_us_p50']:.1f} µs (p99 "
                f"{cost['stand_in_us_p99']:.1f} µs) a call"
            )
            figures.update(cost)
    finally:
        keeper.close()
        ring.unlink()
        ring.close()


if __name__ == "__main__":
    main()
