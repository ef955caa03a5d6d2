"""Fuzzing a live engine over UDP: `--packets` (100,000) packets in families, then the proof
that the engine is whole and counted every bad one.

Families (`tests/osc_fuzz.py`, drawn from a seeded random, in equal shares, in turn): random
bytes, documented addresses with wrong types and counts, NaN/inf/1e38/1e308 and 64-bit ints,
strings up to 64 kB, nested bundles (to 400 levels) and bundles dated in the past and the
future, every documented address at and beyond its boundaries, pathological patterns. No
family sends `/engine/quit`, the recording's own start and stop, or `/plugins/load` (a
sandbox per packet). The engine (null backend) plays a patch meanwhile and records itself;
its per-peer rate is off (`--peer-rate 0`: what a flood sheds is `peer_flood.py`'s).

Packets go in batches of at most 64 kB, each followed by a sync, so that the kernel drops
little; what it drops is counted by the engine (`osc.kernel_drops`). For each packet the
errors its form must earn are predicted with the protocol's own parser (`predicted_errors`):
a packet that cannot be read is one `/error`, each message of one that can but that the
address space refuses is one. Checked after each family: received + kernel drops = sent;
errors ≥ predicted − dropped, and ≤ predicted + the messages that passed (the engine may
refuse those: an unknown module); internal errors 0. At the end: `/engine/status` answers, the
supervisor and the audio I/O are the processes they were, no slot died, no traceback in the
engine's stderr, and the recording matches the offline render of the session log.

    python benchmarks/fuzz_osc.py                 # 100,000 packets
    python benchmarks/fuzz_osc.py --packets 7000  # a quick look
"""

from __future__ import annotations

import argparse
import collections
import itertools
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_watch import recording_vs_log
from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate
from chronus.session.stamped_log import read_stamped_log
from tests.osc_fuzz import FAMILIES, predicted_errors

BATCH_BYTES = 1 << 16
BATCH_PACKETS = 64
_TOKENS = itertools.count(1 << 20)


def _patch(client: EngineClient) -> None:
    """Bass and kick playing; refusals (they are there already) do not matter."""
    rows = [
        ("/patch/abort", ()), ("/panic", ()), ("/tempo", (120.0,)), ("/seq/start", ()),
        ("/patch/create", ("bass", "saw")), ("/patch/create", ("f", "acid")),
        ("/patch/connect", ("bass", "f")), ("/patch/connect", ("f", "master")),
        ("/patch/create", ("kick", "kick")), ("/patch/connect", ("kick", "master")),
        ("/seq/bass/pattern", ("c2 eb2 g2 c3",)), ("/seq/kick/pattern", ("x . x .",)),
    ]  # fmt: skip
    client.send([validate(a, args) for a, args in rows])
    client.sync(timeout=10.0)


def _synced(client: EngineClient, replies: collections.Counter[str]) -> int:
    """Sync, again if the sync itself was dropped, counting every reply that comes on the
    way (`EngineClient.sync` keeps only errors and warnings). Returns how many syncs it
    sent; SystemExit if the engine stopped answering."""
    for attempt in range(1, 6):
        token = next(_TOKENS)
        client.send_raw("/engine/sync", token)
        deadline = time.monotonic() + 5.0
        while (left := deadline - time.monotonic()) > 0 and (r := client.receive(left)):
            if r[0] == "/engine/synced" and r[1][:1] == (token,):
                return attempt
            replies[r[0]] += 1
    raise SystemExit("the engine stopped answering")


def _counters(client: EngineClient) -> dict[str, int]:
    status = client.status(timeout=10.0)
    engine = status["engine"]
    return {
        **{k: engine["osc"][k] for k in _OSC},
        **{k: engine[k] for k in ("failovers", "respawns", "divergences", "commits")},
        "underruns": status["io"]["underruns"],
    }


_OSC = ("received", "errors", "internal_errors", "kernel_drops", "replies_cut", "shed")


def _family(client: EngineClient, name: str, count: int, rng: random.Random) -> dict[str, Any]:
    make = FAMILIES[name]
    _patch(client)  # as it was: the family before may have removed or staged things
    before = _counters(client)
    sent = predicted = passed = syncs = 0
    replies: collections.Counter[str] = collections.Counter()
    began = time.monotonic()
    batch = 0
    while sent < count:
        packet = make(rng)
        errors, ok = predicted_errors(packet)
        predicted += errors
        passed += ok
        client.send_bytes(packet)
        sent += 1
        batch += len(packet)
        if batch >= BATCH_BYTES or sent % BATCH_PACKETS == 0 or sent == count:
            syncs += _synced(client, replies)
            batch = 0
    seconds = time.monotonic() - began
    after = _counters(client)
    delta = {k: after[k] - before[k] for k in after}
    # Not the fuzz's: our syncs, the status request after, and the sync the client sends
    # before a TCP request when something went over UDP since its last own sync.
    received = delta["received"] - syncs - 2
    dropped = delta["kernel_drops"]
    return {
        "family": name, "sent": sent, "seconds": round(seconds, 1),
        "received": received, "kernel_drops": dropped,
        "predicted_errors": predicted, "passed_the_protocol": passed,
        "errors": delta["errors"], "internal_errors": delta["internal_errors"],
        "replies_cut": delta["replies_cut"], "replies_seen": dict(replies),
        **{k: delta[k] for k in ("failovers", "respawns", "divergences", "commits", "underruns")},
        "all_counted": received + dropped == sent and delta["shed"] == 0
        and predicted - dropped <= delta["errors"] <= predicted + passed,
    }  # fmt: skip


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    work = Path(tempfile.mkdtemp(prefix="chronus-fuzz-"))
    log, wav = work / "session.log", work / "out.wav"
    engine = EngineProcess(
        port=0, backend="null", own_group=True,
        extra_args=["--files", str(work), "--log", str(log), "--record", str(wav),
                    "--peer-rate", "0"],  # each packet's errors are predicted: none shed
    )  # fmt: skip
    engine.stderr_tail = collections.deque()  # every line, to look for tracebacks
    engine.boot()
    rng = random.Random(args.seed)
    rows = []
    try:
        with engine.client() as client:
            _patch(client)
            start = client.status(timeout=10.0)
            names = [n.strip() for n in args.families.split(",")]
            share = args.packets // len(names)
            for name in names:
                row = _family(client, name, share, rng)
                rows.append(row)
                print(f"  {name:13s} sent {row['sent']:6d} in {row['seconds']:6.1f} s, "
                      f"received {row['received']}, kernel drops {row['kernel_drops']}, "
                      f"errors {row['errors']} (predicted {row['predicted_errors']}, "
                      f"+ up to {row['passed_the_protocol']} the engine may refuse), internal "
                      f"{row['internal_errors']}, replies cut {row['replies_cut']}; counted: "
                      f"{row['all_counted']}; replies {row['replies_seen']}; "
                      f"underruns {row['underruns']}, "
                      f"commits {row['commits']}, respawns {row['respawns']}, failovers "
                      f"{row['failovers']}, divergences {row['divergences']}")  # fmt: skip
            client.send([validate("/patch/abort", ())])  # the boundaries may have staged
            _synced(client, collections.Counter())
            end = client.status(timeout=10.0)
        exit_code = engine.quit()
    finally:
        engine.kill()
        stderr = "".join(engine.stderr_tail)
        (work / "engine.stderr").write_text(stderr)
        print(f"  the engine's stderr: {work / 'engine.stderr'}")
    same = {
        "supervisor": end["engine"]["uptime_s"] > start["engine"]["uptime_s"],
        "audio I/O": end["io"]["pid"] == start["io"]["pid"],
    }
    deaths = {
        k: end["engine"][k] - start["engine"][k] for k in ("failovers", "respawns", "divergences")
    }
    session = read_stamped_log(log)
    blocks, compared = recording_vs_log(session, wav, int(end["io"]["blocks_played"]))
    figures.update(
        packets=sum(r["sent"] for r in rows), families=rows,
        answers_status_after=True, exit_code=exit_code,
        same_processes=same, slot_deaths=deaths,
        tracebacks=stderr.count("Traceback"),
        internal_errors=end["engine"]["osc"]["internal_errors"],
        every_bad_packet_counted=all(r["all_counted"] for r in rows),
        kernel_drops=end["engine"]["osc"]["kernel_drops"],
        underruns=end["io"]["underruns"], blocks_differing=len(blocks), blocks_compared=compared,
    )  # fmt: skip
    print(f"\n{figures['packets']} packets; the engine answered /engine/status after them and "
          f"quit with {exit_code}; same processes {same}; slot deaths {deaths}; tracebacks in "
          f"its stderr {figures['tracebacks']}; internal errors {figures['internal_errors']}; "
          f"every bad packet counted: {figures['every_bad_packet_counted']}; kernel drops "
          f"{figures['kernel_drops']}; underruns {figures['underruns']}; recording against the "
          f"offline render: {len(blocks)} of {compared} blocks differ; files {work}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


if __name__ == "__main__":
    main()
