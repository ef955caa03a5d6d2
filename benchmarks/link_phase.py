"""Ableton Link phase error: chronus's recorded beats against an independent peer's timeline.

    python benchmarks/link_phase.py [--seconds 30] [--bpm 127] [--backend null|device]
                                    [--port 0] [--json]

Starts a Link peer in its own process (`tests/link_peers.py`: plain `aalink`) at `--bpm`, then
an engine with `--link --record`, which joins the peer's session; a short kick plays on every
beat from the transport's start (which waits for the session's bar line). For `--seconds` the
benchmark reads the engine's clock from its health (blocks handed over and when the last one
was, as the engine's own sample clock does) and the peer's beat, ten times a second. The
recording's onsets are then placed on the host's clock (handed over, plus the device latency
the I/O reports) and compared with the peer's beat at that moment: the error is the distance
to the nearest whole beat (late > 0). The first two bars are left out (the start settles),
and so is a beat whose block or the one before was an underrun (of the last 8 the I/O
lists): that block is a fade, and the onset found in it moves by up to a block, which is no
phase error.

Printed: the error's p50, p99 and max of its size and its mean (ms), the beats judged, the
first beat's distance from the session's bar line, the tempo nudges the engine sent, and the
xruns and underruns meanwhile. On `--backend device` run it under `flock /tmp/jack.lock`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineProcess
from chronus.engine.files import FILES_ENV
from chronus.session.wav import read_wav
from tests.link_measure import Timeline, kick_messages, percentile
from tests.link_peers import PeerProcess
from tests.onsets import onsets

RATE, BLOCK = 48000, 128
SETTLE_BEATS = 8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--bpm", type=float, default=127.0)
    parser.add_argument("--backend", choices=("null", "device"), default="null")
    parser.add_argument("--port", type=int, default=0)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures, tempfile.TemporaryDirectory() as folder:
        os.environ[FILES_ENV] = folder
        wav = Path(folder) / "link.wav"
        peer = PeerProcess(args.bpm)
        engine = EngineProcess(
            port=args.port, backend=args.backend, rate=RATE, block=BLOCK,
            extra_args=["--link", "--record", str(wav)],
        )  # fmt: skip
        timeline = Timeline(RATE, BLOCK)
        try:
            engine.boot()
            with engine.client() as client:
                peer.wait_peers(1)
                start = client.status(timeout=10.0)
                client.send(kick_messages())
                client.sync()
                timeline.watch(client, peer, args.seconds)
                end = client.status(timeout=10.0)
            engine.quit()
        finally:
            engine.quit()
            peer.close()
        hits = onsets(read_wav(wav)[0])
        missing = {row["block"] for row in end["io"]["recent_underruns"]}
        judged = [s for s in hits[SETTLE_BEATS:] if not missing & {s // BLOCK, s // BLOCK - 1}]
        errors = timeline.errors_ms(judged)
        first_bar = float(timeline.errors_ms(hits[:1], quantum=4.0)[0])
        io0, io1 = start["io"], end["io"]
        link = end["engine"]["link"]
        latency = io1["device_latency_ms"]
        print(f"{len(hits) - SETTLE_BEATS - len(judged)} beats at an underrun left out (its "
              "block is a fade: the onset moves by up to a block)")  # fmt: skip
        print(f"{len(judged)} beats judged at {args.bpm:g} bpm ({args.backend}), "
              f"device latency {latency:.3f} ms; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"phase error |p50| {percentile(errors, 50):.3f} ms, |p99| "
              f"{percentile(errors, 99):.3f} ms, max {percentile(errors, 100):.3f} ms, mean "
              f"{float(np.mean(errors)):+.3f} ms")  # fmt: skip
        print(f"first beat from the session's bar line: {first_bar:+.3f} ms; nudges "
              f"{link['nudges']}; xruns {io1['xruns'] - io0['xruns']}, underruns "
              f"{io1['underruns'] - io0['underruns']}")  # fmt: skip
        figures.update(
            beats=len(judged), p50_ms=round(percentile(errors, 50), 4),
            p99_ms=round(percentile(errors, 99), 4), max_ms=round(percentile(errors, 100), 4),
            mean_ms=round(float(np.mean(errors)), 4), first_bar_ms=round(first_bar, 4),
            left_out=len(hits) - SETTLE_BEATS - len(judged), nudges=link["nudges"],
            xruns=io1["xruns"] - io0["xruns"],
            underruns=io1["underruns"] - io0["underruns"],
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
