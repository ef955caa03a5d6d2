"""What sessions and snapshots cost (issue 16), on a real engine (null backend):

- the crash window: from sending a command to its line being in the session log (the engine
  writes it once a slot has applied it; a SIGKILL before that loses it);
- how long `load snapshot` holds the prompt: through the commit flow (staged, built and tested
  in the standby, crossfaded) against the old way (the difference sent and synced), loads
  alternated in one run;
- how long `sessions` takes to read an hour's log of 20,000 commands.

    python benchmarks/sessions.py [--loads 10] [--json]

Figures on a shared machine are noisy: medians, and re-measure on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate
from chronus.session.logs import session_info
from chronus.session.snapshots import load_messages
from chronus.session.stamped_log import StampedLog
from chronus.shell.app import Shell


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p90_ms": round(1000 * ordered[int(0.9 * (len(ordered) - 1))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
        "n": len(ordered),
    }


def log_window(folder: Path, commands: int = 60) -> dict[str, float]:
    """Send → the command's line in the log, one command at a time."""
    log = folder / "window.log"
    engine = EngineProcess(port=0, backend="null", extra_args=["--log", str(log)]).boot()
    waits = []
    try:
        with engine.client() as client:
            client.send([validate("/patch/create", ("a", "sine"))])
            client.sync()
            time.sleep(0.2)
            for n in range(commands):
                size = log.stat().st_size
                started = time.perf_counter()
                client.send([validate("/mod/a/volume", (-0.1 * n,))])
                while log.stat().st_size == size:
                    time.sleep(0.0005)
                waits.append(time.perf_counter() - started)
                time.sleep(0.03)
    finally:
        engine.quit()
    return _ms(waits)


def snapshot_loads(folder: Path, loads: int) -> dict[str, Any]:
    """`load snapshot` through the commit flow against the difference sent directly."""
    engine = EngineProcess(port=0, backend="null").boot()
    client = engine.client()
    written: list[str] = []
    interpreter = Interpreter(Context.from_dump(client.dump()))
    shell = Shell(client, interpreter, written.append, snapshot_dir=folder / "snaps")
    for line in (
        "add a saw called bass through an acid filter called f",
        "play c2 eb2 g2 c3 every 16th on bass", "start", "snapshot save one",
        "set f cutoff 1 khz; add kick; kick x . x .", "snapshot save two",
    ):  # fmt: skip
        shell.handle(line)
    committed, direct, failed = [], [], 0
    try:
        for _ in range(loads):
            for name in ("one", "two"):
                started = time.perf_counter()
                shell.handle(f"load snapshot {name}")
                committed.append(time.perf_counter() - started)
                failed += not written[-1].startswith("loaded")
            for name in ("one", "two"):
                started = time.perf_counter()
                client.send(load_messages(client.dump(), shell.snapshots.load(name)))
                client.sync()
                direct.append(time.perf_counter() - started)
        status = client.status()
    finally:
        client.close()
        engine.quit()
    return {
        "commit": _ms(committed),
        "direct": _ms(direct),
        "failed_loads": failed,
        "commits": status["engine"]["commits"],
        "underruns": status["io"]["underruns"],
    }


def listing(folder: Path, commands: int = 20000, runs: int = 7) -> dict[str, float]:
    """`sessions` reading one hour-long log."""
    path = folder / "2026-12-05_20-00-00.log"
    with StampedLog(path, 48000, 128) as log:
        for n in range(commands):
            log.write(n * 8640, validate("/mod/bass/cutoff", (400.0 + n % 100,)))
        log.mark_end(48000 * 3600)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session_info(path)
        times.append(time.perf_counter() - started)
    return {**_ms(times), "bytes": path.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10, help="pairs of loads each way")
    parser.add_argument("--json", action="store_true", help="the figures as one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chronus-sessions-") as temp:
        folder = Path(temp)
        figures = {
            "log_window": log_window(folder),
            "snapshot_load": snapshot_loads(folder, args.loads),
            "sessions_listing_hour_log": listing(folder),
        }
    print(json.dumps(figures, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
