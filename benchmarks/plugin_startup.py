"""An engine ready with 12 user modules loaded and validated: `chronus engine` to the last
`/plugins/loaded`.

    python benchmarks/plugin_startup.py [--modules 12] [--runs 3] [--reloads 5] [--force]
                                        [--json]

Each run starts `chronus engine --backend null` in a fresh subprocess, with a folder of
`--modules` distinct module files (`--modules DIR`) and a fresh plugin store, and times from
just before the subprocess starts: to its READY line, and to the last of the
`/plugins/load <name>` replies (sent all at once right after READY), each module validated
in the sandbox pool (`--force` skips validation: the import and warm-up alone) and imported
and warmed by every engine process. A first untimed run fills the caches. After the last
run's loads, `--reloads` times: one module's file is changed and `/plugins/reload` sent, to
its `/plugins/loaded` (validated, imported, built in the standby, tested and crossfaded in).
Medians, and the spread, of every run; this machine is shared and noisy, so compare only
figures of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from figures import add_json_flag, figures_out
from plugin_sources import SCALE

from chronus.engine.client import EngineClient, EngineProcess


def write_modules(folder: Path, count: int) -> list[str]:
    """`count` distinct module files in `folder`; their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f"scale{index:02d}"
        (folder / f"{name}.py").write_text(SCALE.format(tag=name, amount=0.5 + index / 100))
        names.append(name)
    return names


def _await(client: EngineClient, count: int) -> set[str]:
    """The names of `count` `/plugins/loaded` replies (SystemExit on an `/error`)."""
    active: set[str] = set()
    deadline = time.monotonic() + 120.0
    while len(active) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(active)} of {count} modules loaded")
        reply = client.receive(0.5)
        if reply is None:
            continue
        address, args = reply
        if address == "/error":
            raise SystemExit(f"a load failed: {args}")
        if address == "/plugins/loaded":
            active.add(str(args[0]))
    return active


def one_run(
    folder: Path, names: list[str], store: Path, force: bool, reloads: int = 0
) -> tuple[float, float, list[float]]:
    """(seconds to READY, seconds to the last module active, seconds of each reload) of one
    engine start."""
    began = time.perf_counter()
    engine = EngineProcess(
        port=0,
        backend="null",
        extra_args=["--modules", str(folder), "--plugin-store", str(store)],
    ).boot()
    ready = time.perf_counter() - began
    try:
        with engine.client() as client:
            for name in names:
                client.send_raw("/plugins/load", name, name, int(force), "inline")  # reloads
            _await(client, len(names))
            loaded = time.perf_counter() - began
            took = []
            for reload in range(reloads):
                source = folder / f"{names[0]}.py"
                source.write_text(source.read_text() + f"\n# reload {reload}\n")
                sent = time.perf_counter()
                client.send_raw("/plugins/reload", names[0], int(force))
                _await(client, 1)
                took.append(time.perf_counter() - sent)
    finally:
        engine.quit()
    return ready, loaded, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=12, help="user modules to load")
    parser.add_argument("--runs", type=int, default=3, help="timed engine starts")
    parser.add_argument("--reloads", type=int, default=5, help="timed reloads, last run")
    parser.add_argument("--force", action="store_true", help="skip validation")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures, tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "modules"
        names = write_modules(folder, args.modules)
        one_run(folder, names, Path(temp) / "store-warm", args.force)  # fills the caches
        ready, loaded, reloads = [], [], []
        for run in range(args.runs):
            last = run == args.runs - 1
            r, done, reloads = one_run(
                folder, names, Path(temp) / f"store{run}", args.force, args.reloads if last else 0
            )
            ready.append(r)
            loaded.append(done)
            print(f"run {run + 1}: READY {r:.2f} s, {args.modules} modules active {done:.2f} s")
        figures.update(
            modules=args.modules,
            validated=not args.force,
            ready_s=ready,
            loaded_s=loaded,
            loaded_median_s=statistics.median(loaded),
            reload_s=reloads,
        )
        print(
            f"{args.modules} user modules {'forced' if args.force else 'validated'} and "
            f"active: median {statistics.median(loaded):.2f} s from start "
            f"(READY alone {statistics.median(ready):.2f} s)",
            file=sys.stderr if args.json else sys.stdout,
        )
        if reloads:
            print(
                f"a reload, to /plugins/loaded: median {statistics.median(reloads):.2f} s "
                f"(min {min(reloads):.2f}, max {max(reloads):.2f}, n = {len(reloads)})",
                file=sys.stderr if args.json else sys.stdout,
            )


if __name__ == "__main__":
    main()
