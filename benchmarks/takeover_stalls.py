"""What a supervisor kill costs a few seconds later: every underrun set against the takeover's
steps, the host's stalls and the guest's free page reports.

The chaos soak's patch plays (8 voices, drums, effects). Windows of `--watch` seconds (8)
alternate: a *kill* window starts with a SIGKILL of the supervisor (once the parent holds a
standby warm and both slots run), a *control* window starts with nothing, so that what the
load does on its own is seen beside what a kill does. In each window, polled every ~20 ms:

- the engine's processes appearing and leaving (by title: the new standby supervisor, the
  spare, the renewed slots, the slots' capture forks) and the takeover's events;
- each underrun the audio I/O logged (`recent_underruns`: its block, the callback's gap and
  so its cause), its time from the block and the sample clock;
- host stalls, a SCHED_FIFO 99 sleeper on each CPU late by over 3 ms (`tests/stalls.py`);
- on a VM with free page reporting (virtio-balloon, `/sys/module/page_reporting`), how
  much memory the guest handed back to the host and when.

A supervisor kill frees the dead supervisor's private memory at once (~55 MB here, with its
spare's ~11 MB); about 2 s later the guest reports the freed blocks to the host in batches,
and on this VM each batch stalled *both* vCPUs for 10–40 ms (see docs/PERFORMANCE.md, "The
underruns after a supervisor kill"). An underrun is charged to a report when it falls within
`NEAR_REPORT_S` of one.

With `--free-mib N` no engine runs: a child process touches N MiB and exits, `--kills`
times, and each window shows the page reports and host stalls that follow the free alone.

    python benchmarks/takeover_stalls.py --backend device --kills 4
    python benchmarks/takeover_stalls.py --backend null --kills 3 --json
    python benchmarks/takeover_stalls.py --free-mib 300 --kills 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaos import patch
from engine_watch import group_processes
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from tests.stalls import StallMonitor

REPORTING = Path("/sys/module/page_reporting/parameters/reported_kib")
"""KiB the guest has reported free to the host so far (Linux's free page reporting)."""
NEAR_REPORT_S = 0.15
"""An underrun this close after a page report's batch is charged to it."""
POLL_S = 0.02


class Reports:
    """The guest's free page reports, sampled every 5 ms in a thread: (time, KiB) per batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def available() -> bool:
        return REPORTING.exists()

    def __enter__(self) -> Reports:
        if self.available():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        last = int(REPORTING.read_text())
        while not self._stop.wait(0.005):
            now = int(REPORTING.read_text())
            if now != last:
                self.batches.append((time.monotonic(), now - last))
                last = now


def _status(client: EngineClient, timeout: float) -> dict[str, Any] | None:
    try:
        return client.status(timeout=timeout)
    except (EngineError, OSError):
        return None


def _ready(client: EngineClient) -> dict[str, Any]:
    """The status once a standby supervisor is warm and both seats run."""
    while True:
        s = _status(client, 1.0)
        if s and s["engine"]["supervisor"]["standby"]:
            if all(x["seat"] == "running" for x in s["slots"]):
                return s
        time.sleep(0.2)


def window(client: EngineClient, pgid: int, kill: bool, seconds: float) -> dict[str, Any]:
    """One window: a kill (or nothing), then `seconds` of watching; what was seen."""
    before = _ready(client)
    played0, underruns0 = before["io"]["blocks_played"], before["io"]["underruns"]
    procs = group_processes(pgid)
    steps: list[tuple[float, str]] = []
    clock: list[tuple[float, int]] = []
    rows: dict[int, dict[str, Any]] = {}
    seen = {(e["serial"], e["text"]) for e in client.now()["events"]}
    with StallMonitor() as host, Reports() as reports:
        t0, t0_ns = time.monotonic(), time.monotonic_ns()
        if kill:
            os.kill(before["engine"]["supervisor"]["pid"], signal.SIGKILL)
        while (now := time.monotonic()) - t0 < seconds:
            cur = group_processes(pgid)
            steps += [(now - t0, f"+ {cur[p]}") for p in set(cur) - set(procs)]
            steps += [(now - t0, f"- {procs[p]}") for p in set(procs) - set(cur)]
            procs = cur
            s = _status(client, 0.2)
            if s is not None:
                clock.append((time.monotonic() - t0, s["io"]["blocks_played"]))
                if s["io"]["underruns"] > underruns0:
                    for row in s["io"]["recent_underruns"]:
                        if row["block"] >= played0:
                            rows.setdefault(row["block"], row)
                with contextlib.suppress(EngineError, OSError):
                    for event in client.now()["events"]:
                        if (event["serial"], event["text"]) not in seen:
                            seen.add((event["serial"], event["text"]))
                            steps.append((now - t0, f"event: {event['text']}"))
            time.sleep(POLL_S)
        after = _status(client, 2.0)
    block_s = before["engine"]["block"] / before["engine"]["rate"]

    def when(block: int) -> float | None:
        if not clock:
            return None
        t, played = min(clock, key=lambda c: abs(c[1] - block))
        return round(t + (block - played) * block_s, 3)

    underruns = [dict(row, t=when(b)) for b, row in sorted(rows.items())]
    batches = [(round(t - t0, 3), kib) for t, kib in reports.batches]
    for u in underruns:
        u["report"] = u["t"] is not None and any(
            0 <= u["t"] - t <= NEAR_REPORT_S for t, _ in batches
        )
    stalls = [(cpu, round((ns - t0_ns) / 1e9, 3), round(d / 1e6, 1)) for cpu, ns, d in host.stalls]
    count = (after["io"]["underruns"] - underruns0) if after else None
    return {
        "kill": kill,
        "underruns": count,
        "underrun_rows": underruns,
        "steps": sorted(steps),
        "reports": batches,
        "reported_mib": round(sum(k for _, k in batches) / 1024, 1),
        "stalls": stalls,
        "stall_ms": round(sum(d for _, _, d in stalls), 1),
        "load": round(os.getloadavg()[0], 2),
    }


def free_window(mib: int, seconds: float) -> dict[str, Any]:
    """A child touches `mib` MiB and exits; the page reports and host stalls after it."""
    touch = f"import numpy as np; np.ones({mib} << 18, dtype=np.float32).sum()"
    with StallMonitor() as host, Reports() as reports:
        t0_ns = time.monotonic_ns()
        subprocess.run([sys.executable, "-c", touch], check=True)
        freed, freed_ns = time.monotonic(), time.monotonic_ns()
        time.sleep(seconds)
    batches = [(round(t - freed, 3), kib) for t, kib in reports.batches if t >= freed]
    stalls = [
        (cpu, round((ns - freed_ns) / 1e9, 3), round(d / 1e6, 1))
        for cpu, ns, d in host.stalls
        if ns >= t0_ns
    ]
    return {"freed_mib": mib, "reports": batches, "stalls": stalls}


def _print(n: int, w: dict[str, Any]) -> None:
    kind = "kill" if w["kill"] else "control"
    print(
        f"window {n} ({kind}): {w['underruns']} underruns, {w['reported_mib']} MiB reported to "
        f"the host in {len(w['reports'])} batches, host stalls {w['stall_ms']} ms in all; "
        f"load {w['load']}",
        flush=True,
    )
    lines = [(t, f"{what}") for t, what in w["steps"]]
    lines += [(t, f"REPORT {kib // 1024} MiB") for t, kib in w["reports"]]
    lines += [(t, f"stall cpu{cpu} {d} ms") for cpu, t, d in w["stalls"] if d >= 5]
    lines += [
        (u["t"] or 0.0, f"UNDERRUN block {u['block']} {u['cause']} (gap {u['after_ms']} ms, "
         f"behind {u['behind']}){' after a report' if u['report'] else ''}")
        for u in w["underrun_rows"]
    ]  # fmt: skip
    for t, what in sorted(lines):
        print(f"  {t:7.3f} s  {what}", flush=True)


def main() -> None:
    """Alternate kill and control windows; print each and the totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("null", "device"), default="device")
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--watch", type=float, default=8.0, help="seconds per window")
    parser.add_argument("--free-mib", type=int, default=0, help="no engine: free this much")
    add_json_flag(parser)
    args = parser.parse_args()
    if args.free_mib:
        with figures_out(args.json) as figures:
            frees = [free_window(args.free_mib, args.watch) for _ in range(args.kills)]
            for n, w in enumerate(frees):
                print(f"free {n + 1}: {args.free_mib} MiB freed at 0 s; load "
                      f"{os.getloadavg()[0]:.1f}")  # fmt: skip
                lines = [(t, f"REPORT {kib // 1024} MiB") for t, kib in w["reports"]]
                lines += [(t, f"stall cpu{cpu} {d} ms") for cpu, t, d in w["stalls"] if d >= 5]
                for t, what in sorted(lines):
                    print(f"  {t:7.3f} s  {what}")
            figures.update(frees=frees, page_reporting=Reports.available())
        return
    work = Path(tempfile.mkdtemp(prefix="chronus-takeover-"))
    with figures_out(args.json) as figures:
        engine = EngineProcess(
            port=0, backend=args.backend, own_group=True,
            extra_args=["--files", str(work), "--log", str(work / "session.log")],
        ).boot()  # fmt: skip
        assert engine.process is not None
        client = engine.client()
        windows: list[dict[str, Any]] = []
        try:
            client.send(patch())
            client.sync(timeout=10.0)
            pgid = os.getpgid(engine.process.pid)
            for n in range(2 * args.kills):
                windows.append(window(client, pgid, n % 2 == 0, args.watch))
                _print(n + 1, windows[-1])
        finally:
            code = engine.quit()
        for kind, kill in (("kill", True), ("control", False)):
            mine = [w for w in windows if w["kill"] is kill]
            rows = [u for w in mine for u in w["underrun_rows"]]
            figures[kind] = {
                "windows": len(mine),
                "underruns": sum(w["underruns"] or 0 for w in mine),
                "underruns_after_a_report": sum(u["report"] for u in rows),
                "late_underruns": sum(u["cause"] == "late" for u in rows),
                "reported_mib_median": statistics.median(w["reported_mib"] for w in mine),
                "stall_ms_median": statistics.median(w["stall_ms"] for w in mine),
                "load_median": statistics.median(w["load"] for w in mine),
            }
            f = figures[kind]
            print(
                f"{kind}: {f['windows']} windows of {args.watch:g} s, {f['underruns']} "
                f"underruns ({f['underruns_after_a_report']} within {NEAR_REPORT_S:g} s after a "
                f"page report, {f['late_underruns']} with the device late); reported to the "
                f"host median {f['reported_mib_median']} MiB, host stalls median "
                f"{f['stall_ms_median']} ms per window; load median {f['load_median']}"
            )
        figures.update(backend=args.backend, page_reporting=Reports.available(), exit_code=code)
        print(f"free page reporting {'on' if Reports.available() else 'absent'}; engine exit "
              f"code {code}")  # fmt: skip


if __name__ == "__main__":
    main()
