"""What one host per maker saves: four native plugins of one maker in one host, against four.

    python benchmarks/isolated_groups.py [--rounds 3] [--seconds 5] [--json]

Four TAP plugins (Debian's `tap-plugins`, all by Tom Szilagyi: the reverberator, the stereo
echo, the tube warmth and the chorus/flanger) each get a ring, served either by **one** host
process (`grouped`: one `HostKeeper` whose group holds the four rings, as the engine hosts a
maker's plugins) or by **four** (`apart`: a keeper each, as it hosts user modules). This
process plays them as a slot would, at the block period (128 frames at 48 kHz): each block
it offers call *k* of every ring, then reads call *k* − 1's output (a block later, as the
stand-in does). Per module and block: the hosts' CPU (user + system from `/proc`, the spares
left out), their voluntary context switches (wake-ups), this "slot"'s time in the four
exchanges, and the calls bypassed; beside them, the plugins' own time per block, run inline
here. The modes alternate `--rounds` times, fresh hosts each; medians are printed.

Timings on a shared machine are noisy: compare the two in the same run, and measure again on
a quiet machine for the record.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.host_keeper import HostKeeper
from chronus.engine.lifecycle import try_realtime
from chronus.engine.slot import SLOT_PRIORITY
from chronus.plugins.host_ring import H, HostRing, RingShape, SlotLink
from chronus.plugins.type_source import TypeSource, resolve_type

RATE, FRAMES = 48000, 128
PERIOD = FRAMES / RATE
FOLDER = Path("/usr/lib/ladspa")
PLUGINS = (
    ("tap_reverb", "tap_reverb.so", "tap_reverb"),
    ("tap_echo", "tap_echo.so", "tap_stereo_echo"),
    ("tap_tubewarmth", "tap_tubewarmth.so", "tap_tubewarmth"),
    ("tap_chorusflanger", "tap_chorusflanger.so", "tap_chorusflanger"),
)


def _proc(pid: int) -> tuple[float, int]:
    """A process's CPU seconds (user + system) and voluntary context switches so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    switches = next(line for line in status.splitlines() if line.startswith("voluntary_"))
    return cpu, int(switches.split()[1])


def sources() -> list[TypeSource]:
    """The four plugins as a host is given them."""
    return [
        TypeSource("ladspa", name, str(FOLDER / lib), label=label) for name, lib, label in PLUGINS
    ]


def inline_us(blocks: int = 2000) -> float:
    """The four plugins' own time per module and block, run in this process (median)."""
    instances = [resolve_type(source, RATE)(RATE, FRAMES) for source in sources()]
    inp = 0.3 * np.random.default_rng(5).standard_normal((FRAMES, 2))
    out = np.zeros((FRAMES, 2))
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter_ns()
        for instance in instances:
            instance.process_stereo(inp, out, FRAMES)  # type: ignore[attr-defined]
        times.append((time.perf_counter_ns() - t0) / 1000 / len(instances))
    return statistics.median(times)


def play(grouped: bool, seconds: float, round_: int) -> dict[str, float]:
    """One run: the four rings hosted so, played for `seconds`; figures per module per block."""
    kinds = [(source, resolve_type(source, RATE)) for source in sources()]
    rings = [
        HostRing.create(
            f"chr_bench_grp_{os.getpid()}_{round_}_{i}", RingShape(FRAMES, len(cls.PARAMS))
        )
        for i, (_, cls) in enumerate(kinds)
    ]
    keepers: list[HostKeeper] = []
    try:
        for ring, (source, _) in zip(rings, kinds, strict=True):
            if grouped and keepers:
                keepers[0].add(ring, source)
            else:
                keepers.append(HostKeeper(ring, source, RATE))
        for keeper in keepers:
            keeper.start()
        deadline = time.monotonic() + 30.0
        while any(int(ring.header[H.HOST_PID]) == 0 for ring in rings):
            for keeper in keepers:
                keeper.poll()
            if time.monotonic() > deadline:
                raise RuntimeError("the hosts did not serve every ring")
            time.sleep(0.01)
        time.sleep(1.0)
        pids = {int(ring.header[H.HOST_PID]) for ring in rings}
        links = [SlotLink(ring) for ring in rings]
        params = [np.array([spec.default for spec in cls.PARAMS]) for _, cls in kinds]
        first = [int(ring.header[H.SUBMITTED]) + 1 for ring in rings]
        inp = 0.3 * np.random.default_rng(5).standard_normal((FRAMES, 2))
        fifo = np.zeros((2 * FRAMES, 2))
        before = {pid: _proc(pid) for pid in pids}
        bypasses = sum(int(ring.header[H.BYPASSES]) for ring in rings)
        blocks = int(seconds / PERIOD)
        exchange_us: list[float] = []
        began = time.monotonic()
        for block in range(blocks):
            delay = began + block * PERIOD - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter_ns()
            for i, link in enumerate(links):
                link.submit(first[i] + block, inp, params[i], FRAMES)
            if block:
                for i, link in enumerate(links):
                    link.collect(first[i] + block - 1, fifo, 0, FRAMES)
            exchange_us.append((time.perf_counter_ns() - t0) / 1000)
        after = {pid: _proc(pid) for pid in pids}
        calls = len(rings) * blocks
        cpu = sum(after[pid][0] - before[pid][0] for pid in pids)
        switches = sum(after[pid][1] - before[pid][1] for pid in pids)
        return {
            "hosts": len(pids),
            "host_cpu_us_per_module_block": 1e6 * cpu / calls,
            "host_wakeups_per_block": switches / blocks,
            "slot_us_per_module_block_p50": statistics.median(exchange_us) / len(rings),
            "slot_us_per_module_block_p99": float(np.percentile(exchange_us, 99)) / len(rings),
            "bypassed": sum(int(ring.header[H.BYPASSES]) for ring in rings) - bypasses,
        }
    finally:
        for keeper in keepers:
            keeper.close()
        for ring in rings:
            ring.unlink()
            ring.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    add_json_flag(parser)
    args = parser.parse_args()
    missing = [lib for _, lib, _ in PLUGINS if not (FOLDER / lib).is_file()]
    if missing:
        raise SystemExit(f"needs tap-plugins (apt install tap-plugins): {missing} missing")
    realtime = try_realtime(SLOT_PRIORITY)  # as a slot runs: above its hosts
    runs: dict[str, list[dict[str, float]]] = {"grouped": [], "apart": []}
    with figures_out(args.json) as figures:
        print(f"this process (the slot) at SCHED_FIFO {SLOT_PRIORITY}: {realtime}")
        figures["slot_realtime"] = realtime
        figures["inline_us_per_module_block"] = own = inline_us()
        print(f"the plugins' own work, inline: {own:.1f} µs per module and block (median)")
        for round_ in range(args.rounds):
            for mode in runs:
                run = play(mode == "grouped", args.seconds, round_)
                runs[mode].append(run)
                print(mode, {k: round(v, 2) for k, v in run.items()}, flush=True)
        for mode, values in runs.items():
            medians = {key: statistics.median(v[key] for v in values) for key in values[0]}
            figures[mode] = medians
            print(
                f"{mode}: {medians['hosts']:.0f} host(s); per module and block: host CPU "
                f"{medians['host_cpu_us_per_module_block']:.1f} µs, slot "
                f"{medians['slot_us_per_module_block_p50']:.1f} µs (p99 "
                f"{medians['slot_us_per_module_block_p99']:.1f}); host wake-ups per block "
                f"{medians['host_wakeups_per_block']:.2f}; bypassed {medians['bypassed']:.0f}"
            )


if __name__ == "__main__":
    main()
