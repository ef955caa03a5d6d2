"""User modules loaded, reloaded and unloaded while a pattern plays: underruns.

    python benchmarks/plugin_live.py [--backend device|null] [--cycles 5] [--plain] [--json]

An engine plays an 8-step saw pattern. Each cycle loads a user module (a wavefolder on a
numba kernel, `cache=True`, so each new version compiles once: in the sandbox, then in the
engine's processes; `--plain`: numpy only), validated in the sandbox pool, puts it in the
chain (saw → module → master), reloads it twice with a changed file (each reload validated,
imported off the render path, built in the standby and crossfaded in), then unloads it (its
module fades out) and routes the saw back, with half a second of music between steps. The
figures: underruns over the whole run (the target is 0 beyond what the host's stalls
explain; the engine's CPU stampers count those stalls), the time of each step to its reply,
and how often the seats swapped roles so that the active slot never imported. On this
shared VM, compare only runs made back to back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out
from plugin_sources import FOLD, SCALE

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate


def _reply(client: EngineClient, wanted: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.receive(0.2)
        if reply is None:
            continue
        if reply[0] == "/error":
            raise SystemExit(f"the engine refused: {reply[1]}")
        if reply[0] == wanted:
            return
    raise SystemExit(f"no {wanted} in {timeout} s")


def _step(client: EngineClient, address: str, args: tuple[Any, ...], wanted: str) -> float:
    began = time.perf_counter()
    client.send_raw(address, *args)
    _reply(client, wanted)
    return time.perf_counter() - began


def run(backend: str, cycles: int, folder: Path, text: str) -> dict[str, Any]:
    source = folder / "tilt.py"
    engine = EngineProcess(
        port=0, backend=backend, extra_args=["--plugin-store", str(folder / "store")]
    ).boot()
    steps: dict[str, list[float]] = {"load": [], "reload": [], "unload": []}
    try:
        with engine.client() as client:
            client.send([
                validate("/patch/create", ("bass", "saw")),
                validate("/patch/connect", ("bass", "master")),
                validate("/seq/bass/pattern", ("c2 c3 eb2 g2 c2 bb2 g2 eb3",)),
                validate("/seq/start", ()),
            ])  # fmt: skip
            client.sync()
            time.sleep(1.0)
            start = client.status()
            version = 0
            for _ in range(cycles):
                version += 1
                source.write_text(text.format(tag=f"version {version}", amount=0.8))
                steps["load"].append(
                    _step(
                        client,
                        "/plugins/load",
                        (str(source), "tilt", 0, "inline"),
                        "/plugins/loaded",
                    )
                )
                client.send([
                    validate("/patch/create", ("t", "tilt")),
                    validate("/patch/disconnect", ("bass", "master")),
                    validate("/patch/connect", ("bass", "t")),
                    validate("/patch/connect", ("t", "master")),
                ])  # fmt: skip
                time.sleep(0.5)
                for _ in range(2):
                    version += 1
                    source.write_text(text.format(tag=f"version {version}", amount=0.6))
                    steps["reload"].append(
                        _step(client, "/plugins/reload", ("tilt",), "/plugins/loaded")
                    )
                    time.sleep(0.5)
                client.send([validate("/patch/connect", ("bass", "master"))])
                steps["unload"].append(
                    _step(client, "/plugins/unload", ("tilt",), "/plugins/unloaded")
                )
                time.sleep(0.5)
            end = client.status()
    finally:
        engine.quit()
    io, first = end["io"], start["io"]
    return {
        "backend": io["device"] or backend,
        "cycles": cycles,
        "module": "numpy" if text is SCALE else "numba kernel",
        "seconds": round((io["blocks_played"] - first["blocks_played"]) * 128 / 48000, 1),
        "underruns": io["underruns"] - first["underruns"],
        "xruns": io["xruns"] - first["xruns"],
        "host_stalls": end["host"]["stalls"] - start["host"]["stalls"],
        "longest_host_stall_ms": end["host"]["longest_stall_ms"],
        "commits": end["engine"]["commits"],
        "role_swaps": end["engine"]["plugin_role_swaps"],
        "failovers": end["engine"]["failovers"],
        "step_s": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="device", choices=("device", "null"))
    parser.add_argument("--cycles", type=int, default=5, help="load, 2 reloads, unload")
    parser.add_argument("--plain", action="store_true", help="a numpy module, no kernel")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures, tempfile.TemporaryDirectory() as temp:
        text = SCALE if args.plain else FOLD
        figures.update(run(args.backend, args.cycles, Path(temp), text))
        out = sys.stderr if args.json else sys.stdout
        print(
            f"{figures['cycles']} cycles of a {figures['module']} module on "
            f"{figures['backend']} ({figures['seconds']} s): "
            f"{figures['underruns']} underruns, {figures['xruns']} xruns, "
            f"{figures['host_stalls']} host stalls (longest {figures['longest_host_stall_ms']} "
            f"ms), {figures['commits']} commits, {figures['role_swaps']} role swaps, "
            f"{figures['failovers']} failovers",
            file=out,
        )
        for name, values in figures["step_s"].items():
            print(
                f"  {name:6s} to its reply: median {statistics.median(values):.2f} s "
                f"(min {min(values):.2f}, max {max(values):.2f}, n = {len(values)})",
                file=out,
            )


if __name__ == "__main__":
    main()
