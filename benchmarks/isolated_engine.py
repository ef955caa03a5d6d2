"""What isolating modules costs the engine's slots: their render time, inline against isolated.

    python benchmarks/isolated_engine.py [--rounds 2] [--modules 4] [--seconds 6] [--json]

A null-backend engine plays `--modules` saws, each through its own gain module (a user
module loaded `inline` or `isolated`), for `--seconds`; the active slot's render time per
block (p50, p99 over its recent blocks) is read from the status at the end. The two modes
are alternated `--rounds` times, each in a fresh engine; the medians are printed. The
difference over the module count is what one isolated module costs a slot per block (the
host's own CPU is not in it: see `isolated_hosts.py`).

Timings on a shared machine are noisy: compare the two in the same run, and measure again on
a quiet machine for the record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from chronus.engine.client import EngineProcess
from chronus.protocol import Message, validate
from tests.plugins.modules import write_gain
from tests.sessions import answer


def _chains(count: int) -> list[Message]:
    messages = []
    for i in range(count):
        messages += [
            validate("/patch/create", (f"s{i}", "saw")),
            validate("/patch/create", (f"g{i}", "gain")),
            validate("/patch/connect", (f"s{i}", f"g{i}")),
            validate("/patch/connect", (f"g{i}", "master")),
            validate(f"/seq/s{i}/pattern", ("c2 eb2 g2 c3",)),
        ]
    return [*messages, validate("/seq/start", ())]


def render_us(root: Path, hosting: str, modules: int, seconds: float) -> tuple[float, float]:
    """The active slot's render time per block (p50, p99 µs) with `modules` gains hosted so."""
    engine = EngineProcess(
        port=0,
        backend="null",
        extra_args=["--plugin-store", str(root / "store"), "--modules", str(root / "modules")],
    ).boot()
    try:
        with engine.client() as client:
            client.send_raw("/plugins/load", "gain", "", 1, hosting)
            if answer(client, "/plugins/loaded")[0] != "/plugins/loaded":
                raise RuntimeError(f"the gain module did not load {hosting}")
            client.send(_chains(modules))
            time.sleep(seconds)
            slots = client.status()["slots"]
        [active] = [slot for slot in slots if slot.get("role") == "active"]
        return float(active["render"]["p50_us"]), float(active["render"]["p99_us"])
    finally:
        engine.quit()


def main() -> None:
    """Alternate the two modes, print each run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modules", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {"inline": [], "isolated": []}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "modules").mkdir()
        write_gain(root / "modules", 1.0)
        for _ in range(args.rounds):
            for hosting in runs:
                runs[hosting].append(render_us(root, hosting, args.modules, args.seconds))
                if not args.json:
                    print(hosting, runs[hosting][-1], flush=True)
    figures = {
        hosting: {
            "p50_us": statistics.median(p50 for p50, _ in values),
            "p99_us": statistics.median(p99 for _, p99 in values),
        }
        for hosting, values in runs.items()
    }
    extra = figures["isolated"]["p50_us"] - figures["inline"]["p50_us"]
    figures["per_module_us"] = {"p50": extra / args.modules}
    print(json.dumps(figures, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
