"""How exactly OSC time tags land: a dated bundle's stamp against the sample the audio I/O was
handing the device at the tag's time.

    python benchmarks/time_tags.py [--count 400] [--ahead 0.2] [--backend null|device] [--json]

Starts an engine that logs its session, and meanwhile reads the audio I/O's own counters
(blocks handed over, when the last one was: the shared memory the supervisor reads) every
0.5 ms, so that the start of nearly every block is known. Every 50 ms it sends a bundle dated
`--ahead` seconds later (python-osc's builder, UDP on localhost) setting a saw's cutoff to a
value of its own, `--count` of them. The session log gives each bundle's stamp; the truth is
the sample handed over at the tag's time, interpolated between the starts of the blocks
around it (less the device's latency, as the I/O reports it).

Printed: the stamp error in samples (stamp − truth: p50 and p99 of its size, and its median
sign); the same for the bundles with no xrun in the 0.3 s before their sample (an xrun moves
the sample clock: a bundle sent to the slots before it is off by what the device lost); the
error against the schedule the callbacks keep when on time (the earliest of them over the
run: only in a run with no xrun); the jitter (p50 and p99 of how far the gap between
consecutive stamps is from the gap between their tags, about 50 ms); how many came late, and
the xruns meanwhile. The truth carries the callbacks' own jitter (the null backend wakes
20–100 µs late, 1–5 samples). This machine is shared: re-measure on a quiet one.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out
from latency import percentile
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from chronus.engine.client import EngineProcess
from chronus.engine.files import FILES_ENV
from chronus.engine.sample_clock import wall_offset_ns
from chronus.engine.stats import IoField
from chronus.protocol import validate
from chronus.session.stamped_log import read_stamped_log

RATE = 48000
BLOCK = 128
SPACING_S = 0.05
XRUN_REACH_NS = 300_000_000
"""A bundle whose sample comes within this after an xrun is not clean: it may have gone to
the slots before the clock moved (100 ms ahead), or been mapped by the first readings after."""
POLL_S = 0.0005


class BlockStarts:
    """Reads the audio I/O's counters of an engine from its shared memory, in a thread."""

    def __init__(self, engine_pid: int) -> None:
        found = sorted(Path("/dev/shm").glob(f"chronus-{engine_pid}-*-io-*"))
        if not found:
            raise SystemExit(f"no audio I/O counters of engine {engine_pid} in /dev/shm")
        self.values = np.memmap(found[0], dtype=np.int64, mode="r", shape=(IoField.SIZE,))
        self.starts: dict[int, int] = {}
        """Block index → monotonic ns its callback began."""
        self.xruns: list[int] = []
        """When (monotonic ns, to a poll) each xrun the I/O counted was seen."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BlockStarts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        v = self.values
        xruns = int(v[IoField.XRUNS])
        while not self._stop.is_set():
            if int(v[IoField.XRUNS]) != xruns:
                xruns = int(v[IoField.XRUNS])
                self.xruns.append(time.monotonic_ns())
            consumed = int(v[IoField.CONSUMED])
            started = int(v[IoField.LAST_BLOCK_NS])
            if int(v[IoField.CONSUMED]) == consumed and consumed > 0:
                # the last read of a count wins: the I/O writes the count, then the start
                self.starts[consumed - 1] = started
            time.sleep(POLL_S)

    def truth(self, monotonic_ns: int) -> float | None:
        """The sample handed over at `monotonic_ns`, between the two block starts around it
        (None where either is missing); the device's latency taken off first."""
        at = monotonic_ns - 1000 * int(self.values[IoField.DEVICE_LATENCY_US])
        starts = self.starts
        k = max((b for b, t in starts.items() if t <= at), default=None)
        if k is None or k + 1 not in starts:
            return None
        return (k + (at - starts[k]) / (starts[k + 1] - starts[k])) * BLOCK

    def on_time(self, monotonic_ns: int) -> float:
        """The sample handed over at `monotonic_ns` had every block come on time: the
        schedule the callbacks follow, from the earliest of them over the whole run (1st
        percentile of start − k × period; right while the clock did not slip)."""
        period = BLOCK * 1e9 / RATE
        offsets = sorted(t - k * period for k, t in self.starts.items())
        zero = offsets[len(offsets) // 100]
        at = monotonic_ns - 1000 * int(self.values[IoField.DEVICE_LATENCY_US])
        return (at - zero) / period * BLOCK


def _bundle(when: float, value: float) -> bytes:
    message = OscMessageBuilder(address="/mod/saw/cutoff")
    message.add_arg(value)
    builder = OscBundleBuilder(when)
    builder.add_content(message.build())
    return builder.build().dgram


def measure(count: int, ahead: float, backend: str) -> dict[str, object]:
    """Send `count` dated bundles and compare each stamp with the truth."""
    folder = tempfile.mkdtemp(prefix="chronus-time-tags-")
    log = Path(folder) / "tags.log"
    engine = EngineProcess(
        port=0, backend=backend, extra_args=["--log", str(log)], env={FILES_ENV: folder}
    ).boot()
    sent: list[tuple[float, int]] = []  # (cutoff value, the tag's monotonic ns)
    assert engine.process is not None
    try:
        with engine.client() as client, BlockStarts(engine.process.pid) as starts:
            client.send([
                validate("/patch/create", ("saw", "saw")),
                validate("/patch/connect", ("saw", "master")),
            ])  # fmt: skip
            client.sync()
            time.sleep(1.5)  # past the start, and a full window of clock readings
            before = client.status()
            for i in range(count):
                due = time.monotonic() + ahead
                value = 100.0 + i
                client.send_bytes(_bundle(due + wall_offset_ns() / 1e9, value))
                sent.append((value, int(due * 1e9)))
                time.sleep(SPACING_S)
            time.sleep(ahead + 0.2)
            client.sync()
            after = client.status()
        truths = {value: starts.truth(at) for value, at in sent}  # the reader has stopped
        scheduled = {value: starts.on_time(at) for value, at in sent}
    finally:
        engine.quit()
    stamps = {
        float(m.args[0]): sample
        for sample, m in read_stamped_log(log).commands
        if m.address == "/mod/saw/cutoff"
    }
    errors = [
        stamps[value] - truth
        for value, truth in truths.items()
        if truth is not None and value in stamps
    ]
    dated = [(stamps[value], at) for value, at in sent if value in stamps]
    gaps = [  # how far the gap between two stamps is from the gap between their tags
        abs(b - a - (b_at - a_at) * RATE / 1e9)
        for (a, a_at), (b, b_at) in itertools.pairwise(dated)
    ]
    sizes = [abs(e) for e in errors]
    off_schedule = [abs(stamps[v] - truth) for v, truth in scheduled.items() if v in stamps]
    due = dict(sent)
    clean = [  # no xrun from before its release to its sample
        abs(stamps[value] - truth)
        for value, truth in truths.items()
        if truth is not None and value in stamps
        and not any(due[value] - XRUN_REACH_NS <= x <= due[value] for x in starts.xruns)
    ]  # fmt: skip
    xruns = after["io"]["xruns"] - before["io"]["xruns"]
    osc = after["engine"]["osc"]
    return {
        "backend": backend,
        "ahead_s": ahead,
        "bundles": count,
        "judged": len(errors),
        "late": osc["late"] - before["engine"]["osc"]["late"],
        "xruns": xruns,
        "clean": len(clean),
        "clean_p50_samples": round(percentile(clean, 50), 2) if clean else None,
        "clean_p99_samples": round(percentile(clean, 99), 2) if clean else None,
        "error_p50_samples": round(percentile(sizes, 50), 2),
        "error_p99_samples": round(percentile(sizes, 99), 2),
        "error_max_samples": round(max(sizes), 2),
        "error_median_signed": round(statistics.median(errors), 2),
        "schedule_p50_samples": None if xruns else round(percentile(off_schedule, 50), 2),
        "schedule_p99_samples": None if xruns else round(percentile(off_schedule, 99), 2),
        "jitter_p50_samples": round(percentile(gaps, 50), 2),
        "jitter_p99_samples": round(percentile(gaps, 99), 2),
        "engine": engine.ready_line,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="dated bundles, 50 ms apart")
    parser.add_argument("--ahead", type=float, default=0.2, help="how far ahead each is dated")
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        figures.update(measure(args.count, args.ahead, args.backend))
        f = figures
        print(
            f"{f['bundles']} bundles dated {f['ahead_s']} s ahead, {f['backend']} backend "
            f"({f['judged']} judged; {f['late']} late; {f['xruns']} xruns meanwhile):"
        )
        print(
            f"  stamp error (samples): p50 {f['error_p50_samples']} | p99 "
            f"{f['error_p99_samples']} | max {f['error_max_samples']} | median signed "
            f"{f['error_median_signed']}"
        )
        print(f"  the {f['clean']} with no xrun in the 0.3 s before their sample: p50 "
              f"{f['clean_p50_samples']} | p99 {f['clean_p99_samples']}")  # fmt: skip
        if f["schedule_p50_samples"] is not None:
            print(f"  against the on-time schedule of the callbacks (samples): p50 "
                  f"{f['schedule_p50_samples']} | p99 {f['schedule_p99_samples']}")  # fmt: skip
        print(f"  jitter between consecutive stamps (samples): p50 {f['jitter_p50_samples']} | "
              f"p99 {f['jitter_p99_samples']}")  # fmt: skip


if __name__ == "__main__":
    main()
