"""The audio I/O replaced, measured: SIGKILL it while an 8-voice acid pattern plays.

The pattern runs in the engine's sequencer (as in `failover.py`); the benchmark only watches
and kills. Before each kill it waits (on a device) until the spare I/O is warm (`--spare`:
`standby`, JACK's default, `warm`, or `none`: every restart starts a process); then it sends
SIGKILL to the audio I/O process and times, on CLOCK_MONOTONIC:

- `exit_ms`: from the kill until the kernel has ended the process (its pidfd readable);
- `seen_ms`: from the kill until the supervisor saw the death (and took the clock);
- `device_ran_ms`: from the death seen until the new I/O's device called back (the clock
  handed over to it);
- `gap_ms`: from the kill until the new I/O played its first block (the I/O stamps it);
- `blocks_missed`: blocks the sample clock passed with no I/O to play them;
- underruns and xruns over the whole run, apart from the gaps (a block missing before the
  first block played again is counted missed, not as an underrun).

At the end the recording is compared with an offline render of the session log: blocks that
differ outside the gaps (and the fade-in after each) are counted.

    python benchmarks/io_restart.py --kills 10 --every 4
    python benchmarks/io_restart.py --backend null --kills 10
    python benchmarks/io_restart.py --spare none --kills 5      # no spare: a new process
    python benchmarks/io_restart.py --spare warm                # the warm spare
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from failover import _patch
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.io_keeper import SPARE_KINDS
from chronus.session.offline import render_session
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav

SETTLE_S = 3.2
"""Play at least this long after a resume before the next kill: the restart backoff counts
an I/O that died younger than 3 s as a crash loop."""


def _status_until(client: EngineClient, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.status(timeout=10.0)
        if done(status["io"]) or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def _resumed_after(io: dict[str, Any], killed_ns: int) -> bool:
    """Whether the I/O's last restart played its first block after `killed_ns`."""
    last = io["last_restart"]
    return bool(last) and int(last["resumed_ns"]) > killed_ns and io["process"] == "running"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="device", choices=("null", "device"))
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kills")
    parser.add_argument(
        "--spare", default="standby", choices=SPARE_KINDS, help="the spare I/O (JACK's: standby)"
    )
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Play, kill, compare and print; the headline figures go into `figures`."""
    work = Path(tempfile.mkdtemp(prefix="chronus-io-restart-"))
    log, wav = work / "session.log", work / "out.wav"
    engine = EngineProcess(
        port=0, backend=args.backend,
        extra_args=["--files", str(work), "--log", str(log), "--record", str(wav)],
        env={"CHRONUS_IO_SPARE": args.spare},
    ).boot()  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        with engine.client() as client:
            _patch(client)
            time.sleep(1.0)
            for n in range(1, args.kills + 1):
                time.sleep(max(0.0, args.every - SETTLE_S))
                if args.backend == "device" and args.spare != "none":
                    _status_until(client, lambda io: io["spare"] == "warm", 30.0)
                status = client.status(timeout=10.0)
                pid = int(status["io"]["pid"])
                gone = os.pidfd_open(pid)
                killed_ns = time.monotonic_ns()
                os.kill(pid, signal.SIGKILL)
                select.select([gone], [], [], 1.0)
                exit_ms = (time.monotonic_ns() - killed_ns) / 1e6
                os.close(gone)
                io = _status_until(
                    client, lambda io, t=killed_ns: _resumed_after(io, t), 30.0
                )["io"]  # fmt: skip
                last = io["last_restart"]
                if not _resumed_after(io, killed_ns):
                    print(f"  kill {n}: the I/O did not come back: {io['process']}")
                    break
                rows.append({
                    "exit_ms": exit_ms,
                    "gap_ms": (int(last["resumed_ns"]) - killed_ns) / 1e6,
                    "blocks_missed": float(last["blocks_missed"]),
                    "seen_ms": (int(last["resumed_ns"]) - killed_ns) / 1e6 - last["gap_ms"],
                    "device_ran_ms": float(last["clock_handed_over_ms"]),
                    "spare": float(io["spares_used"]),
                    "gap": (int(last["died_at_block"]), int(last["resumed_at_block"])),
                })  # fmt: skip
                print(f"  kill {n}: gap {rows[-1]['gap_ms']:.1f} ms, "
                      f"{last['blocks_missed']} blocks missed, exit {exit_ms:.1f} ms, "
                      f"spares used {io['spares_used']}")  # fmt: skip
                time.sleep(SETTLE_S)
            end = client.status(timeout=10.0)
        engine.quit()
    finally:
        engine.kill()
    _report(args, rows, end, log, wav, figures)


def _report(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    end: dict[str, Any],
    log: Path,
    wav: Path,
    figures: dict[str, Any],
) -> None:
    io = end["io"]
    session = read_stamped_log(log)
    recorded, rate = read_wav(wav)
    offline = render_session(session, len(recorded))
    block = session.block
    played = min(int(io["blocks_played"]), len(recorded) // block)
    gaps = {k for r in rows for k in range(r["gap"][0] - 1, r["gap"][1] + 1)}
    rec = recorded[: played * block].reshape(played, block, -1)
    ref = offline[: played * block].reshape(played, block, -1)
    differing = [int(k) for k in np.flatnonzero((rec != ref).any(axis=(1, 2))) if k not in gaps]
    print(f"backend {args.backend}, spare {args.spare}: {len(rows)} "
          f"SIGKILLs of the audio I/O, {len(recorded) / rate:.1f} s recorded")  # fmt: skip
    figures.update(kills=len(rows), spare=args.spare, backend=args.backend)
    for key in ("gap_ms", "blocks_missed", "exit_ms", "seen_ms", "device_ran_ms"):
        values = [float(r[key]) for r in rows] or [0.0]
        print(f"  {key:13s} median {statistics.median(values):9.2f}  max {max(values):9.2f}")
        figures[key] = {"median": statistics.median(values), "max": max(values)}
    figures.update(
        spares_used=io.get("spares_used", 0), restarts=io.get("restarts", 0),
        underruns=io["underruns"], xruns=io["xruns"],
        xruns_in_host_stalls=io["xruns_in_host_stalls"],
        blocks_differing_outside_gaps=len(differing),
    )  # fmt: skip
    print(f"  restarts {io['restarts']} ({io['spares_used']} by a warm spare), underruns apart "
          f"from the gaps {io['underruns']}, xruns {io['xruns']} "
          f"({io['xruns_in_host_stalls']} right after a host stall)")  # fmt: skip
    print(
        f"  recording vs offline render of the session log, outside the gaps: "
        f"{len(differing)} blocks differ {differing[:10]} (underruns {io['underruns']})"
    )


if __name__ == "__main__":
    main()
