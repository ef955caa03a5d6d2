"""The standby audio I/O on JACK, measured: what JACK mixes around a SIGKILL of the active I/O,
and the xruns a standby client adds.

`capture`: an engine with `CHRONUS_IO_SPARE=standby` holds a sine note (A4: no two 128-frame
blocks of it are equal). Once the standby is warm, `jack_rec` records every output port of the
engine's JACK clients (the active's and the standby's, each a channel of its own: what JACK
sums into the playback ports), and the active I/O is killed with SIGKILL. In the recording:

- `stuck`: blocks after the active's last live one that repeat it exactly (JACK mixing a dead
  client's last buffer again: a buzz at the block rate), and `other`: blocks of it that are
  neither that nor silence;
- `gap`: blocks from the active's last live block to the standby's first sounding one;
- `both`: blocks in which the dead client's port and the standby's both sound;
- `frames`: frames recorded against the seconds asked for;
- `chronus_gap_ms` and `blocks_missed`: the engine's own account (kill to the first block the
  standby played; blocks the sample clock passed meanwhile): more blocks missed than the
  recording's gap would mean JACK cycles that ran for nobody;
- the lines jackd logged meanwhile (`JackEngine::XRun` per client, the driver's late wake-ups).

`xruns`: the 8-voice acid pattern of `failover.py`, `--seconds` a run, with the standby and
with the warm spare (`CHRONUS_IO_SPARE=warm`), runs alternated: chronus's xruns (callbacks
with a status flag; those right after a host stall) and underruns, and jackd's own count (the
lines its log, `--jack-log`, gained: `JackEngine::XRun`, per client, and the driver's late
wake-ups, `JackTimedDriver::Process XRun`). The counting starts once the spare is warm.

    python benchmarks/standby_io.py capture --kills 4
    python benchmarks/standby_io.py xruns --runs 3 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from failover import _patch
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess

BLOCK = 128
RATE = 48000
_CLIENT_XRUN = re.compile(r"JackEngine::XRun: client = (\S+) was not finished")
_DRIVER_XRUN = "JackTimedDriver::Process XRun"


def _output_ports() -> set[str]:
    """Every JACK output port of a PortAudio client (chronus's I/Os are those)."""
    listing = subprocess.run(["jack_lsp", "-p"], capture_output=True, text=True, check=True)
    ports: set[str] = set()
    name = ""
    for line in listing.stdout.splitlines():
        if not line.startswith(("\t", " ")):
            name = line.strip()
        elif "output" in line and name.startswith("PortAudio"):
            ports.add(name)
    return ports


def _read_wav(path: Path) -> npt.NDArray[np.float64]:
    """A PCM WAV of any channel count (libsndfile writes WAVE_FORMAT_EXTENSIBLE): frames ×
    channels, as floats in [-1, 1)."""
    data = path.read_bytes()
    at, channels, bits, samples = 12, 0, 0, b""
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        body = data[at + 8 : at + 8 + size]
        if kind == b"fmt ":
            channels, bits = struct.unpack("<H", body[2:4])[0], struct.unpack("<H", body[14:16])[0]
        elif kind == b"data":
            samples = body
        at += 8 + size + (size & 1)
    dtype = {16: "<i2", 32: "<i4"}[bits]
    raw = np.frombuffer(samples[: len(samples) // (bits // 8) // channels * channels * (bits // 8)],
                        dtype=dtype)  # fmt: skip
    return raw.reshape(-1, channels).astype(np.float64) / float(1 << (bits - 1))


def analyse(wav: Path, seconds: float) -> dict[str, Any]:
    """The dead client's and the standby's channels around the kill (see the module's doc)."""
    audio = _read_wav(wav)
    blocks = audio[: len(audio) // BLOCK * BLOCK].reshape(-1, BLOCK, audio.shape[1])
    lefts = range(0, audio.shape[1], 2)
    loud = [int(np.abs(blocks[:8, :, c]).max() > 1e-4) for c in lefts]
    dead_c = 2 * loud.index(1) if 1 in loud else 0
    standby_c = next(c for c in lefts if c != dead_c)
    dead, standby = blocks[:, :, dead_c], blocks[:, :, standby_c]
    same = np.all(dead[1:] == dead[:-1], axis=1)
    silent = np.all(dead == 0.0, axis=1)
    live = [k for k in range(1, len(dead)) if not same[k - 1] and not silent[k]]
    last = live[-1]
    after = range(last + 1, len(dead))
    stuck = sum(1 for k in after if np.array_equal(dead[k], dead[last]))
    other = sum(1 for k in after if not silent[k] and not np.array_equal(dead[k], dead[last]))
    sounding = np.flatnonzero(np.abs(standby).max(axis=1) > 0.0)
    first = int(sounding[0]) if len(sounding) else -1
    both = sum(1 for k in after if not silent[k] and k < len(standby) and k >= first >= 0)
    return {
        "last_live_block": last,
        "stuck": stuck,
        "other": other,
        "standby_first_block": first,
        "gap_blocks": first - last - 1 if first >= 0 else -1,
        "gap_ms": round((first - last - 1) * BLOCK / RATE * 1000, 2) if first >= 0 else -1,
        "both": both,
        "frames": len(audio),
        "frames_asked": int(seconds * RATE),
        "channels": audio.shape[1],
    }


def _wait_warm(client: EngineClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.status(timeout=10.0)["io"]["spare"] != "warm":
        if time.monotonic() > deadline:
            raise RuntimeError("no warm spare")
        time.sleep(0.1)


def capture(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Kill the active I/O `--kills` times with `jack_rec` recording both clients."""
    work = Path(tempfile.mkdtemp(prefix="chronus-standby-"))
    before = _output_ports()
    engine = EngineProcess(
        port=0, backend="device", env={"CHRONUS_IO_SPARE": "standby"},
        extra_args=["--files", str(work)],
    ).boot()  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        with engine.client() as client:
            client.send_raw("/patch/create", "tone", "sine")
            client.send_raw("/patch/connect", "tone", "master")
            client.send_raw("/mod/tone/volume", -12.0)
            client.send_raw("/note/tone", 69.0, 100.0)
            client.sync()
            for n in range(args.kills):
                _wait_warm(client)
                time.sleep(0.5)
                ports = sorted(_output_ports() - before)
                wav = work / f"kill{n}.wav"
                seconds = 3.0
                rec = subprocess.Popen(
                    ["jack_rec", "-f", str(wav), "-d", str(seconds), "-b", "32", *ports],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
                time.sleep(1.0)
                pid = int(client.status(timeout=10.0)["io"]["pid"])
                since = _jack_log_size(Path(args.jack_log))
                killed_ns = time.monotonic_ns()
                os.kill(pid, signal.SIGKILL)
                _, err = rec.communicate(timeout=30)
                driver, clients = _jack_xruns(Path(args.jack_log), since)
                last = client.status(timeout=10.0)["io"]["last_restart"]
                row = {
                    "ports": len(ports), **analyse(wav, seconds),
                    "chronus_gap_ms": round((int(last["resumed_ns"]) - killed_ns) / 1e6, 2),
                    "blocks_missed": last["blocks_missed"],
                    "jackd_client_xruns": dict(clients), "jackd_driver_late": driver,
                }  # fmt: skip
                if err.strip():
                    row["jack_rec"] = err.strip()[-200:]
                rows.append(row)
                print(f"  kill {n + 1}: {row}", flush=True)
                time.sleep(3.5)  # the restart backoff counts a death within 3 s a crash loop
        engine.quit()
    finally:
        engine.kill()
    for key in ("stuck", "other", "gap_ms", "both", "chronus_gap_ms", "blocks_missed"):
        values = [float(r[key]) for r in rows]
        print(f"{key:7s} median {statistics.median(values):7.2f}  max {max(values):7.2f}")
        figures[key] = {"median": statistics.median(values), "max": max(values)}
    figures["kills"] = rows


def _jack_log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def _jack_xruns(log: Path, since: int) -> tuple[int, Counter[str]]:
    """The driver's late wake-ups and the per-client xruns jackd logged after `since`."""
    if not log.exists():
        return 0, Counter()
    with log.open("rb") as text:
        text.seek(since)
        lines = text.read().decode(errors="replace").splitlines()
    driver = sum(1 for line in lines if _DRIVER_XRUN in line)
    clients = Counter(m.group(1) for line in lines if (m := _CLIENT_XRUN.search(line)))
    return driver, clients


def one_run(spare: str, seconds: float, log: Path) -> dict[str, Any]:
    """`seconds` of the acid pattern with `spare`: xruns counted from the spare's warm-up."""
    engine = EngineProcess(port=0, backend="device", env={"CHRONUS_IO_SPARE": spare}).boot()
    try:
        with engine.client() as client:
            _patch(client)
            _wait_warm(client)
            io0 = client.status(timeout=10.0)["io"]
            since = _jack_log_size(log)
            load0 = os.getloadavg()[0]
            time.sleep(seconds)
            io = client.status(timeout=10.0)["io"]
            driver, clients = _jack_xruns(log, since)
        engine.quit()
    finally:
        engine.kill()
    return {
        "spare": spare,
        "xruns": io["xruns"] - io0["xruns"],
        "xruns_in_host_stalls": io["xruns_in_host_stalls"] - io0["xruns_in_host_stalls"],
        "underruns": io["underruns"] - io0["underruns"],
        "jackd_client_xruns": sum(clients.values()),
        "jackd_by_client": dict(clients),
        "jackd_driver_late": driver,
        "load": round((load0 + os.getloadavg()[0]) / 2, 2),
    }


def xruns(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Standby and warm spare alternated, `--runs` each."""
    rows: list[dict[str, Any]] = []
    for _ in range(args.runs):
        for spare in ("standby", "warm"):
            rows.append(one_run(spare, args.seconds, Path(args.jack_log)))
            print(f"  {rows[-1]}", flush=True)
    for spare in ("standby", "warm"):
        mine = [r for r in rows if r["spare"] == spare]
        summary = {
            key: statistics.median(float(r[key]) for r in mine)
            for key in ("xruns", "xruns_in_host_stalls", "underruns", "jackd_client_xruns",
                        "jackd_driver_late")
        }  # fmt: skip
        print(f"{spare:8s} medians over {len(mine)} runs of {args.seconds:g} s: {summary}")
        figures[spare] = {"medians": summary, "runs": mine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("capture", "xruns"))
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jack-log", default="/tmp/jackd.log", help="where jackd logs")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        (capture if args.what == "capture" else xruns)(args, figures)


if __name__ == "__main__":
    main()
