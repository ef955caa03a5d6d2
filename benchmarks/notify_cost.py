"""What telling subscribers of every change costs: 0 against N subscribers, on one engine.

Boots a real engine (null backend by default) on `--port`, builds `--tracks` saws each
through an acid filter playing a pattern, then runs phases alternated on that one engine: in
each, `--per-second` parameter changes a second (`/mod/f<i>/cutoff`) for `--seconds`, with
no subscriber, or with `--subscribers` UDP subscribers on this machine (each reading what it
is sent, in a process of their own, counted; `--dead`: never reading). Meanwhile a second
client measures the control round trip (`/engine/sync` and its answer, every 20 ms). At the
end of each phase `/engine/status` gives the slots' render time over their last 1,024 blocks
(2.7 s: the burst's last seconds) and underruns; the supervisor's CPU time over the phase is
read from /proc.

    python benchmarks/notify_cost.py --runs 3 --subscribers 8 [--dead]
"""

from __future__ import annotations

import argparse
import multiprocessing
import select
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out
from pattern_changes import _build

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import encode_raw, parse_packet, validate

_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


class Listeners:
    """`count` UDP subscribers, read in a process of their own (so that reading them takes
    nothing from this process's round trips); `received()` counts their `/changed`."""

    def __init__(self, port: int, count: int, dead: bool = False) -> None:
        context = multiprocessing.get_context("fork")
        self._stop = context.Event()
        self._ready = context.Event()
        self._count = context.Value("q", 0)
        self._process = context.Process(
            target=_listen, args=(port, count, dead, self._ready, self._stop, self._count)
        )
        self._process.start()
        if not self._ready.wait(10):
            raise SystemExit("the subscribers did not start")

    def received(self) -> int:
        return int(self._count.value)

    def close(self) -> None:
        self._stop.set()
        self._process.join(5)


def _listen(port: int, count: int, dead: bool, ready: Any, stop: Any, received: Any) -> None:
    socks = []
    for i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.sendto(encode_raw("/notify", 1, f"bench{i}"), ("127.0.0.1", port))
        socks.append(sock)
    ready.set()
    while dead and not stop.wait(0.1):
        pass  # never read: the kernel drops what overflows their buffers
    while not stop.is_set():
        for sock in select.select(socks, [], [], 0.1)[0]:
            for address, _ in parse_packet(sock.recv(65536)):
                if address == "/changed":
                    received.value += 1
    for sock in socks:
        sock.sendto(encode_raw("/notify", 0), ("127.0.0.1", port))
        sock.close()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _round_trips(port: int, stop: threading.Event, out: list[float]) -> None:
    with EngineClient("127.0.0.1", port) as probe:
        while not stop.is_set():
            began = time.perf_counter()
            probe.sync(timeout=2.0)
            out.append(1e3 * (time.perf_counter() - began))
            stop.wait(0.02)


def one_phase(engine: EngineProcess, subscribers: int, args: argparse.Namespace) -> dict[str, Any]:
    listeners = Listeners(engine.port, subscribers, args.dead) if subscribers else None
    trips: list[float] = []
    with engine.client() as client:
        if listeners is not None:
            time.sleep(0.2)
            rows = client.ask("/clients")[0]
            assert str(rows).count("bench") == subscribers, rows
        before = client.status()
        pid = int(before["engine"]["supervisor"]["pid"])
        cpu0 = _cpu_s(pid)
        stop = threading.Event()
        prober = threading.Thread(target=_round_trips, args=(engine.port, stop, trips))
        prober.start()
        count = round(args.seconds * args.per_second)
        began = time.monotonic()
        for i in range(count):
            due = began + i / args.per_second
            while time.monotonic() < due:
                time.sleep(0.0005)
            value = 300.0 + (i * 37) % 3000
            client.send([validate(f"/mod/f{i % args.tracks}/cutoff", (value,))])
        client.sync(timeout=5.0)
        stop.set()
        prober.join()
        after = client.status()
        cpu = _cpu_s(pid) - cpu0
        elapsed = time.monotonic() - began
    time.sleep(0.3)
    received = listeners.received() if listeners is not None else 0
    if listeners is not None:
        listeners.close()
    slots = after["slots"]
    trips.sort()
    return {
        "subscribers": subscribers,
        "changes": count,
        "told": received,
        "render_p50_us": max(float(s["render"]["p50_us"]) for s in slots),
        "render_p99_us": max(float(s["render"]["p99_us"]) for s in slots),
        "render_max_us": max(float(s["render"]["max_us"]) for s in slots),
        "round_trip_p50_ms": round(trips[len(trips) // 2], 3),
        "round_trip_p99_ms": round(trips[int(0.99 * (len(trips) - 1))], 3),
        "supervisor_cpu_pct": round(100 * cpu / elapsed, 1),
        "underruns": after["io"]["underruns"] - before["io"]["underruns"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="null", choices=("null", "device"))
    parser.add_argument("--port", type=int, default=58150)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--per-second", type=float, default=500.0)
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--dead", action="store_true", help="subscribers that never read what they are sent"
    )
    add_json_flag(parser)
    args = parser.parse_args()
    engine = EngineProcess(port=args.port, backend=args.backend).boot()
    results: dict[int, list[dict[str, Any]]] = {0: [], args.subscribers: []}
    try:
        with figures_out(args.json) as figures, engine.client() as client:
            _build(client, args.tracks, ["c2 eb2 g2 c3 c2 . g2 bb2"])
            time.sleep(3.0)
            print(
                f"{args.per_second:g} changes/s for {args.seconds:g} s, {args.tracks} tracks "
                f"({args.backend} backend): 0 against {args.subscribers} "
                f"{'dead ' if args.dead else ''}subscribers, "
                f"{args.runs} run(s) each, alternated on one engine",
                flush=True,
            )
            for _ in range(args.runs):
                for count in (0, args.subscribers):
                    result = one_phase(engine, count, args)
                    results[count].append(result)
                    print(f"  {result}", flush=True)
            print("medians:")
            for count, runs in results.items():
                keys = [k for k in runs[0] if k != "subscribers"]
                medians = {k: statistics.median(float(r[k]) for r in runs) for k in keys}
                print(
                    f"  {count} subscribers: " + ", ".join(f"{k} {v:g}" for k, v in medians.items())
                )
                figures[f"{count} subscribers"] = runs
            figures["setup"] = vars(args) | {"json": None}
        engine.quit()
    finally:
        engine.kill()


if __name__ == "__main__":
    main()
