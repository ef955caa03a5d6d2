"""One peer floods, another keeps its round trips: the per-peer rate (`--peer-rate`) on and off.

    python benchmarks/peer_flood.py [--seconds 5] [--rounds 2] [--rate 5000] [--calm 8] [--json]

For each round, an engine (null backend) with the per-peer rate at `--rate`, then one with it
off (`--peer-rate 0`), alternated. Against each: a calm client's `/engine/sync` round trips
without a flood, then during one: a second process sends `/mod/nobody/cutoff 500` (refused:
an `/error` each, work to answer) from one UDP socket as fast as it can for `--seconds`. The
calm client alternates a UDP sync (lost if not answered within 0.5 s: the kernel drops what
overflows the engine's one UDP socket, whoever sent it) and a TCP one (its own queue), 20 ms
apart. Meanwhile `--calm` more UDP senders, each from a port of its own (so that with the
engine's 4 sockets on the port some would share the flooder's, by the kernel's hash), send a
sync every 50 ms and count the answers that come. Printed per setting: p50/p99 of each, the
UDP syncs lost (the calm senders' too), what the flooder sent, what the engine shed and the
kernel dropped, and the audio: blocks played against the clock's count, underruns. This
machine is shared: compare only figures of one run.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out
from latency import percentile

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import encode_raw, parse_packet

_FLOOD = """
import socket, sys, time
from chronus.protocol import encode_raw
packet = encode_raw("/mod/nobody/cutoff", 500.0)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target, end, sent = ("127.0.0.1", int(sys.argv[1])), time.monotonic() + float(sys.argv[2]), 0
print("go", flush=True)
while time.monotonic() < end:
    for _ in range(100):
        sock.sendto(packet, target)
    sent += 100
print(sent)
"""
_UDP_TIMEOUT_S = 0.5
_CALM_EVERY_S = 0.05


def _calm_senders(port: int, count: int, stop: threading.Event, lost: list[int]) -> None:
    """`count` UDP senders, a sync each every `_CALM_EVERY_S` until `stop`; then each one's
    syncs that got no answer (within 1 s of the last) go into `lost`."""
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    sent = 0
    answered: list[set[int]] = [set() for _ in senders]

    def read(until: float) -> None:
        while time.monotonic() < until:
            for n, sock in enumerate(senders):
                while True:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        break
                    for address, args in parse_packet(data):
                        if address == "/engine/synced":
                            answered[n].add(int(args[0]))  # type: ignore[arg-type]
            time.sleep(0.005)

    for sock in senders:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
    while not stop.is_set():
        sent += 1
        for sock in senders:
            try:
                sock.sendto(encode_raw("/engine/sync", sent), ("127.0.0.1", port))
            except BlockingIOError:
                pass  # not sent: counted lost, as the engine never had it
        read(time.monotonic() + _CALM_EVERY_S)
    read(time.monotonic() + 1.0)
    lost.extend(sent - len(got) for got in answered)
    lost.append(sent)
    for sock in senders:
        sock.close()


def _spread(values: list[float]) -> dict[str, float | int]:
    """p50 / p99 / max of round trips in ms, and how many."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2),
    }


def _round_trips(
    client: EngineClient, asker: EngineClient, until: float
) -> tuple[list[float], list[float], int]:
    """UDP (`client`) and TCP (`asker`, which sends nothing over UDP, so that its requests
    wait for no UDP sync) sync round trips in ms, alternated until `until`; UDP syncs lost."""
    udp: list[float] = []
    tcp: list[float] = []
    lost = 0
    token = 0
    while time.monotonic() < until:
        token += 1
        began = time.perf_counter()
        try:
            if token % 2:
                client.sync(timeout=_UDP_TIMEOUT_S)
                udp.append(1000 * (time.perf_counter() - began))
            else:
                asker.ask("/engine/sync", token, timeout=5.0)
                tcp.append(1000 * (time.perf_counter() - began))
        except EngineError:
            lost += 1
            client.pending.clear()
        time.sleep(0.02)
    return udp, tcp, lost


def measure(rate: int, seconds: float, calm: int = 8) -> dict[str, Any]:
    """One engine at `--peer-rate rate`: round trips without and during a flood."""
    engine = EngineProcess(port=0, backend="null", extra_args=["--peer-rate", str(rate)]).boot()
    try:
        with engine.client() as client, engine.client() as asker:
            calm_udp, calm_tcp, _ = _round_trips(client, asker, time.monotonic() + 2.0)
            before = asker.status()
            flood = subprocess.Popen(
                [sys.executable, "-c", _FLOOD, str(engine.port), str(seconds)],
                stdout=subprocess.PIPE, text=True,
                env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            )  # fmt: skip
            assert flood.stdout is not None
            flood.stdout.readline()  # it has started sending
            began = time.monotonic()
            stop, calm_lost = threading.Event(), []
            others = threading.Thread(
                target=_calm_senders, args=(engine.port, calm, stop, calm_lost), daemon=True
            )
            others.start()
            udp, tcp, lost = _round_trips(client, asker, began + seconds)
            stop.set()
            sent = int(flood.communicate(timeout=seconds + 60)[0])
            others.join(30)
            time.sleep(1.0)  # the queue drains
            after = asker.status(timeout=10.0)
            wall = time.monotonic() - began
    finally:
        engine.quit()
    osc, osc0 = after["engine"]["osc"], before["engine"]["osc"]
    io, io0 = after["io"], before["io"]
    block_s = 128 / 48000
    return {
        "peer_rate": rate,
        "calm": {"udp": _spread(calm_udp), "tcp": _spread(calm_tcp)},
        "flood": {"udp": _spread(udp), "tcp": _spread(tcp), "udp_lost": lost},
        "calm_senders": {"syncs_each": calm_lost[-1], "lost_each": calm_lost[:-1]},
        "flood_sent": sent,
        "shed": osc.get("shed", 0) - osc0.get("shed", 0),
        "kernel_drops": osc["kernel_drops"] - osc0["kernel_drops"],
        "handled": osc["received"] - osc0["received"] - (osc.get("shed", 0) - osc0.get("shed", 0)),
        "blocks_played": io["blocks_played"] - io0["blocks_played"],
        "blocks_of_the_clock": int(wall / block_s),
        "underruns": io["underruns"] - io0["underruns"],
    }


def _line(row: dict[str, Any]) -> str:
    flood = row["flood"]
    return (
        f"peer rate {row['peer_rate'] or 'off':>5}: during the flood UDP sync "
        f"p50 {flood['udp'].get('p50_ms', '-')} p99 {flood['udp'].get('p99_ms', '-')} ms "
        f"({flood['udp_lost']} lost of {flood['udp'].get('count', 0) + flood['udp_lost']}), "
        f"TCP p50 {flood['tcp'].get('p50_ms', '-')} p99 {flood['tcp'].get('p99_ms', '-')} ms; "
        f"calm UDP p50 {row['calm']['udp'].get('p50_ms', '-')} ms; calm senders' syncs lost "
        f"{row['calm_senders']['lost_each']} of {row['calm_senders']['syncs_each']} each; "
        f"sent {row['flood_sent']}, "
        f"handled {row['handled']}, shed {row['shed']}, kernel drops {row['kernel_drops']}; "
        f"blocks {row['blocks_played']} of {row['blocks_of_the_clock']}, "
        f"underruns {row['underruns']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="flood length (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of on/off (default 2)")
    parser.add_argument("--rate", type=int, default=5000, help="the per-peer rate when on")
    parser.add_argument("--calm", type=int, default=8, help="more calm UDP senders (default 8)")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        rows = []
        for _ in range(args.rounds):
            for rate in (args.rate, 0):
                rows.append(measure(rate, args.seconds, args.calm))
                print(_line(rows[-1]), flush=True)
        figures["runs"] = rows


if __name__ == "__main__":
    main()
