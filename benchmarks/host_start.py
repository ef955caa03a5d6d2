"""How long a new isolated module waits for its host: `/patch/create` to the host serving.

    python benchmarks/host_start.py [--creates 4] [--pause 2] [--json]

A null-backend engine loads the example module `fold` isolated, waits for the blank host to
warm, then creates `--creates` modules of it, `--pause` seconds apart (the blank host used
by one create is replaced before the next), and times each create to its host's state
`running` in `/plugins/fold/health` (polled every 10 ms). Until then the slots bypass the
module. Timings on a shared machine are noisy: measure again on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate
from tests.sessions import answer

FOLD = Path(__file__).resolve().parents[1] / "examples" / "modules" / "fold.py"


def _until_serving(client: EngineClient, module_id: str, timeout: float = 20.0) -> float | None:
    began = time.monotonic()
    client.send([validate("/patch/create", (module_id, "fold"))])
    while time.monotonic() - began < timeout:
        hosts = client.plugin_health("fold").get("hosts", {})
        if hosts.get(module_id, {}).get("host_state") == "running":
            return time.monotonic() - began
        time.sleep(0.01)
    return None


def measure(creates: int, pause: float) -> dict[str, object]:
    """Each create's wait for its host, in seconds (None: not within 20 s)."""
    with tempfile.TemporaryDirectory(prefix="chronus-host-start-") as store:
        engine = EngineProcess(port=0, backend="null", extra_args=["--plugin-store", store])
        engine.boot()
        try:
            with engine.client() as client:
                client.send_raw("/plugins/load", str(FOLD), "fold", 0, "isolated")
                address, _ = answer(client, "/plugins/loaded")
                assert address == "/plugins/loaded", address
                time.sleep(pause + 1.0)  # the blank host warms
                waits = []
                for index in range(creates):
                    waits.append(_until_serving(client, f"f{index}"))
                    time.sleep(pause)
        finally:
            engine.quit()
    timed = [wait for wait in waits if wait is not None]
    return {
        "creates": creates,
        "create_to_serving_s": [None if w is None else round(w, 3) for w in waits],
        "median_s": round(statistics.median(timed), 3) if timed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=4)
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.creates, args.pause)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"create → host serving (s): {figures['create_to_serving_s']}, "
              f"median {figures['median_s']}")  # fmt: skip


if __name__ == "__main__":
    main()
