"""How long TCP connections are refused while a supervisor is replaced, and how many of them
the kernel connected to themselves: SIGKILL the supervisor N times (null backend).

After each kill (the client's own connection closed first: one the dead supervisor accepted
keeps the kernel from choosing the port for a connect until it is reset), connections to the
engine's port are made in a tight loop until one is accepted after some were refused (5 ms
each at most: a SYN into the dying supervisor's full backlog would wait 1 s). `refused` is
how many were refused and over how long (`window_ms`, first to last refusal); `met_self` is
how many the kernel gave the engine's own port as their local one, connected to themselves
(each aborted at once, as `EngineClient` does, so that no TIME_WAIT holds the port from the
new supervisor). The chance per refused connection is about 1 in the number of ephemeral
ports of the port's parity; an odd port is never chosen while even ones are free.

    python benchmarks/takeover_refusals.py --kills 8 --port 58740
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineProcess
from chronus.engine.parent import MAX_RESTARTS, RESTART_WINDOW_S
from tests.sessions import wait_status

_CONNECT_S = 0.005
_ABORT = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close with a reset, leaving no TIME_WAIT."""


def _across_the_gap(port: int, timeout: float = 5.0) -> tuple[int, int, float]:
    """Connect until one is accepted after a refusal: (refused, met themselves, window s)."""
    refused = met_self = 0
    first = last = 0.0
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(_CONNECT_S)
            try:
                sock.connect(("127.0.0.1", port))
            except (TimeoutError, ConnectionResetError):
                continue
            except ConnectionRefusedError:
                refused += 1
                last = time.monotonic()
                first = first or last
                continue
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            if sock.getsockname() == sock.getpeername():
                met_self += 1
            elif refused:
                break
    return refused, met_self, last - first


def main() -> None:
    """Kill the supervisor `--kills` times; print each gap and the totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="the engine's port (0: any)")
    add_json_flag(parser)
    args = parser.parse_args()
    spacing = RESTART_WINDOW_S / MAX_RESTARTS + 0.5  # the parent gives up on a faster loop
    with figures_out(args.json) as figures:
        engine = EngineProcess(port=args.port, backend="null").boot()
        refusals: list[int] = []
        windows: list[float] = []
        met: list[int] = []
        try:
            for kill in range(args.kills):
                with engine.client() as client:
                    wait_status(client, lambda s: bool(s["engine"]["supervisor"]["standby"]), 120.0)
                    time.sleep(spacing)
                    old = client.status()["engine"]["supervisor"]["pid"]
                os.kill(old, signal.SIGKILL)
                refused, met_self, window = _across_the_gap(engine.port)
                refusals.append(refused)
                windows.append(1e3 * window)
                met.append(met_self)
                print(
                    f"kill {kill + 1}: {refused} connections refused over {windows[-1]:.1f} ms, "
                    f"{met_self} met themselves; load {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                )
        finally:
            code = engine.quit()
        print(
            f"{args.kills} kills, port {engine.port}: {sum(refusals)} connections refused "
            f"(window max {max(windows):.1f} ms), {sum(met)} met themselves; engine exit "
            f"code {code}; load {os.getloadavg()[0]:.1f}"
        )
        figures.update(
            kills=args.kills,
            port=engine.port,
            refused=refusals,
            window_ms=windows,
            met_self=sum(met),
            exit_code=code,
            load=os.getloadavg()[0],
        )


if __name__ == "__main__":
    main()
