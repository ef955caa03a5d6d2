"""What the read-only HTTP API costs: the supervisor's status publishing, and a GET's time.

    python benchmarks/http_api.py [--plugins 12] [--requests 300] [--json]

Starts a real engine in this process (a `Supervisor` on the null backend, with `--http` on a
free loopback port; its slots and audio I/O are processes as usual), puts `--plugins` plugins
in its registry (as data: states, validations, metrics; no plugin code), and measures:

- what one publish costs the supervisor's serve loop — `status()` plus its JSON encoding,
  done `1 / PUBLISH_EVERY_S` times a second while `--http` is on — and that as a share of
  one CPU;
- a GET of `/v1/health`, `/v1/plugins` and `/v1/plugins/<name>/health` from urllib, a new
  connection each (as `curl` does), `--requests` of each: p50 and p99.

Timings on a shared machine are noisy; compare runs on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.engine.http_api import PUBLISH_EVERY_S
from chronus.engine.supervisor import EngineConfig, Supervisor
from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult


def fill(registry: PluginRegistry, count: int) -> list[str]:
    """`count` plugins, active with a validation and some metrics; their names."""
    names = [f"plug{k:02d}" for k in range(count)]
    for k, name in enumerate(names):
        registry.discover(name, f"/tmp/{name}.py")
        registry.transition(name, PluginState.VALIDATING, "load")
        result = ValidationResult(ok=True, duration=0.05, params=("drive", "mix", "volume", "pan"))
        registry.set_validation(name, result, f"{k:012x}")
        registry.transition(name, PluginState.READY, "validated")
        registry.transition(name, PluginState.ACTIVE, "loaded")
        registry.update_metrics(name, success_count=1000 * k, cpu_us_p50=5.0, cpu_us_p99=9.0)
    return names


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    supervisor = Supervisor(EngineConfig(port=0, backend="null", http=("127.0.0.1", 0)))
    try:
        ready = supervisor.start()
        names = fill(supervisor.registry, args.plugins)
        api = supervisor._http
        assert api is not None
        publish: list[float] = []
        for _ in range(args.requests):
            started = time.perf_counter()
            api.publish(supervisor.status())
            publish.append(time.perf_counter() - started)
            time.sleep(0.002)
        body, _ = api.published()
        host, port = api.address
        figures: dict[str, Any] = {
            "ready": ready,
            "plugins": args.plugins,
            "publish_us_p50": round(statistics.median(publish) * 1e6, 1),
            "publish_us_p99": round(percentile(publish, 0.99) * 1e6, 1),
            "status_bytes": len(body or b""),
            "publish_cpu_share": round(statistics.median(publish) / PUBLISH_EVERY_S, 5),
        }
        for label, path in (
            ("health", "/v1/health"),
            ("plugins", "/v1/plugins"),
            ("plugin_health", f"/v1/plugins/{names[-1]}/health"),
        ):
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as answer:
                    size = len(answer.read())
                times.append(time.perf_counter() - started)
            figures[f"get_{label}_ms_p50"] = round(statistics.median(times) * 1e3, 3)
            figures[f"get_{label}_ms_p99"] = round(percentile(times, 0.99) * 1e3, 3)
            figures[f"get_{label}_bytes"] = size
        return figures
    finally:
        supervisor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=12)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="one JSON object of figures")
    args = parser.parse_args()
    figures = measure(args)
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
