"""Command-to-sound latency: a typed line until its first sounding block reaches the device.

    python benchmarks/latency.py [--backend device|null] [--trials 200]

Each trial interprets `play c4 on probe for 20 ms` (grammar → intents → OSC), sends it over
UDP to a real engine, and polls `/engine/status` until the audio I/O reports a new onset: the
monotonic time at which the callback handed the first non-silent block to the device. Both
clocks are CLOCK_MONOTONIC, shared by every process on the machine. The device's own output
latency (what PortAudio reports: JACK's period for the dummy driver) is added for the total.
"""

from __future__ import annotations

import argparse
import statistics
import time

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="device", choices=("device", "null"))
    parser.add_argument("--trials", type=int, default=200)
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        figures.update(measure(args.backend, args.trials))


def measure(backend: str, trials: int) -> dict[str, float | str]:
    """Time `trials` typed lines to their first sounding block; print and return the figures
    (ms, the device's latency not included in `min`/`p50`/`p99`/`max`)."""
    engine = EngineProcess(port=0, backend=backend).boot()
    try:
        with engine.client() as client:
            interpreter = Interpreter(Context.from_dump(client.dump()))
            for line in ("add a sine called probe", "set probe attack 1 ms",
                         "set probe release 5 ms"):  # fmt: skip
                client.send(interpreter.interpret(line).messages)
            client.sync()
            status = client.status()
            device_ms = status["io"]["device_latency_ms"]
            block_ms = 1000 * status["engine"]["block"] / status["engine"]["rate"]
            latencies: list[float] = []
            for _ in range(trials):
                time.sleep(0.05 + (len(latencies) % 7) * block_ms / 7000)  # vary the phase
                before = client.status()["io"]["last_onset_ns"]
                started = time.monotonic_ns()
                client.send(interpreter.interpret("play c4 on probe for 20 ms").messages)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    onset = int(client.status()["io"]["last_onset_ns"])
                    if onset != before:
                        latencies.append((onset - started) / 1e6)
                        break
                else:
                    raise SystemExit("no onset seen within 1 s")
            final = client.status()
    finally:
        engine.quit()
    print(
        f"backend: {final['io']['device']}; block {block_ms:.2f} ms, "
        f"lead {final['engine']['lead_ms']:.2f} ms, device latency {device_ms:.2f} ms"
    )
    print(
        f"trials: {len(latencies)}; underruns {final['io']['underruns']}, "
        f"xruns {final['io']['xruns']}"
    )
    figures: dict[str, float | str] = {
        "device": final["io"]["device"], "block_ms": block_ms, "device_ms": device_ms,
        "lead_ms": final["engine"]["lead_ms"], "trials": len(latencies),
        "underruns": final["io"]["underruns"], "xruns": final["io"]["xruns"],
    }  # fmt: skip
    for name, value in (
        ("min", min(latencies)),
        ("p50", statistics.median(latencies)),
        ("p99", percentile(latencies, 99)),
        ("max", max(latencies)),
    ):
        print(f"  {name}: line → block at device {value:6.2f} ms; "
              f"+ device = {value + device_ms:6.2f} ms to the output")  # fmt: skip
        figures[name] = value
    return figures


if __name__ == "__main__":
    main()
