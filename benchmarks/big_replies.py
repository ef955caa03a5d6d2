"""Replies of any size: `/engine/dump` of a large patch over TCP, and what a dump costs others.

    python benchmarks/big_replies.py [--saws 40 80] [--runs 30]

For each size, a null-backend engine gets `tests.sessions.wide_patch(saws)` (unconnected saws
with 13 lanes of 128 steps each, ~10.5 KB of dump a saw), sent paced. Then:

- dump: `EngineClient.dump()` as `chronus send` and the shell call it (a request over the open
  TCP connection, the engine's JSON, OSC and SLIP encoding, the client's decoding and
  `json.loads`); median and max of `--runs`.
- encode: the supervisor's share of one dump, in process, on the same patch: `to_dict`,
  `json.dumps`, the OSC packet (`encode_raw`, and python-osc's builder as `encode_raw` used
  it before), SLIP; median of `--runs`, the two encoders alternated.
- others: the round trip of a UDP `/engine/sync` from another client (what every command
  waits behind in the supervisor), median and p99 of 300, alone and while a separate process
  dumps back to back.

Timing on a shared machine is noisy: compare within one run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from chronus.dsp.patch import Patch
from chronus.engine import slip
from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import encode_raw
from tests.sessions import wide_patch

DUMPER = """
import sys
from chronus.engine.client import EngineClient
with EngineClient("127.0.0.1", int(sys.argv[1])) as client:
    while True:
        client.dump(timeout=10)
"""


def _python_osc(address: str, text: str) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    builder.add_arg(text)
    return builder.build().dgram


def _ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return 1000 * (time.perf_counter() - started)


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(values), 3), "p99": round(p99, 3)}


def encode_costs(saws: int, runs: int) -> dict[str, float]:
    """Median ms of each step of the supervisor's work for one dump of this patch."""
    patch = Patch()
    for batch in wide_patch(saws):
        for message in batch:
            patch.apply(message)
    text = json.dumps(patch.to_dict())
    packet = encode_raw("/engine/dump", text)
    steps: dict[str, list[float]] = {
        "to_dict": [], "to_dict_and_json": [], "osc": [], "osc_python_osc": [], "slip": [],
    }  # fmt: skip
    for _ in range(runs):
        steps["to_dict"].append(_ms(patch.to_dict))
        steps["to_dict_and_json"].append(_ms(lambda: json.dumps(patch.to_dict())))
        steps["osc"].append(_ms(lambda: encode_raw("/engine/dump", text)))
        steps["osc_python_osc"].append(_ms(lambda: _python_osc("/engine/dump", text)))
        steps["slip"].append(_ms(lambda: slip.encode(packet)))
    out = {name: round(statistics.median(values), 3) for name, values in steps.items()}
    out["bytes"] = len(packet)
    return out


def sync_round_trips(client: EngineClient, count: int) -> list[float]:
    """Round trips of `/engine/sync` over UDP, in ms."""
    return [_ms(client.sync) for _ in range(count)]


def measure(saws: int, runs: int) -> dict[str, object]:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            for batch in wide_patch(saws):
                client.send(batch)
                client.sync(timeout=10)
            client.dump()  # the connection opened, the JSON of this patch once
            dumps = [_ms(client.dump) for _ in range(runs)]
            size = len(json.dumps(client.dump()))
            alone = sync_round_trips(client, 300)
            dumper = subprocess.Popen([sys.executable, "-c", DUMPER, str(engine.port)])
            try:
                time.sleep(1.0)
                busy = sync_round_trips(client, 300)
            finally:
                dumper.kill()
                dumper.wait()
            status = client.status()
    finally:
        engine.quit()
    return {
        "saws": saws,
        "dump_json_bytes": size,
        "dump_ms": {"median": round(statistics.median(dumps), 2), "max": round(max(dumps), 2)},
        "sync_ms_alone": _spread(alone),
        "sync_ms_while_dumping": _spread(busy),
        "reply_errors": status["engine"]["osc"]["reply_errors"],
        "underruns": status["io"]["underruns"],
        "supervisor_ms": encode_costs(saws, runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saws", type=int, nargs="+", default=[40, 80])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for saws in args.saws:
        print(json.dumps(measure(saws, args.runs)), flush=True)


if __name__ == "__main__":
    main()
