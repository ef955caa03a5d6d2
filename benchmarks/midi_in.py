"""MIDI in → audible: a key pressed on a JACK MIDI port until its note leaves the device.

    python benchmarks/midi_in.py [--trials 200] [--lead 2] [--block N] [--latency-ms MS]
                                 [--period N]

A test process opens a JACK MIDI port (rtmidi, as a keyboard's driver reaches JACK) and an
engine on the JACK device reads it (`/midi/in`); each trial sends a note on and notes the
monotonic time just before. The engine logs the sample each note was stamped at; the audio
I/O's counters (blocks handed over, the monotonic time of the last one), read all along,
give the time each sample was handed to the device (`SampleClock`, as the engine maps OSC
time tags); plus the device's output latency, that is when the note is heard. Also: how
many events the engine was too late for (applied at once, off their fixed latency), and the
spread of the latencies (fixed latency: only the MIDI delivery, JACK's period, varies).

Without `--block` the engine's block is the JACK period (`chronus.engine.jack_period`).
`--period N` runs it all on a JACK dummy server of the benchmark's own at N frames
(`jackd -n <unique name>`, ended after), not on the one `JACK_DEFAULT_SERVER` names.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineProcess
from chronus.engine.sample_clock import SampleClock
from chronus.protocol import validate
from chronus.session.stamped_log import read_stamped_log


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--lead", type=int, default=2)
    parser.add_argument("--block", type=int, default=None, help="default: the JACK period")
    parser.add_argument("--latency-ms", type=float, default=None, help="default: the engine's")
    parser.add_argument("--period", type=int, default=None, help="on a JACK server of its own")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures, _server(args.period):
        figures.update(measure(args.trials, args.lead, args.block, args.latency_ms))
        figures["load_after"] = os.getloadavg()[0]


@contextlib.contextmanager
def _server(period: int | None) -> Iterator[None]:
    """With `period`, a JACK dummy server of this run's own, which JACK clients then reach."""
    if period is None:
        yield
        return
    from tests.jack_server import jack_server

    with jack_server(period) as name:
        os.environ["JACK_DEFAULT_SERVER"] = name
        yield


def _observe(client: EngineClient, clock: SampleClock) -> dict[str, Any]:
    io = client.status()["io"]
    clock.observe(int(io["blocks_played"]), int(io["last_block_ns"]), int(io["xruns"]))
    return io


def measure(trials: int, lead: int, block: int | None, latency_ms: float | None) -> dict[str, Any]:
    """Play `trials` notes from a JACK MIDI port; print and return the figures (ms)."""
    load_before = os.getloadavg()[0]
    import rtmidi

    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="chronus-bench-keys")
    keys.open_virtual_port("out")
    folder = Path(tempfile.mkdtemp(prefix="midi-in-"))
    engine = EngineProcess(
        port=0, backend="device", block=block,
        extra_args=["--lead", str(lead), "--files", str(folder), "--log", "s.log"],
    ).boot()  # fmt: skip
    sent: list[int] = []
    offsets: list[float] = []
    try:
        with engine.client() as client:
            block = int(client.status()["engine"]["block"])
            clock = SampleClock(48000, block)
            client.send([
                validate("/patch/create", ("probe", "sine")),
                validate("/patch/connect", ("probe", "master")),
                validate("/mod/probe/attack", (0.001,)),
                validate("/mod/probe/release", (0.005,)),
            ])  # fmt: skip
            client.sync()
            extra = () if latency_ms is None else (latency_ms,)
            _, fixed_ms = client.ask("/midi/in", "chronus-bench-keys", "probe", *extra, timeout=30)
            time.sleep(0.5)
            for trial in range(trials):
                for _ in range(3):
                    io = _observe(client, clock)
                    time.sleep(0.02 + (trial % 7) * block / 48000 / 7)  # vary the phase
                sent.append(time.monotonic_ns())
                keys.send_message([0x90, 60, 100])
                time.sleep(0.03)
                keys.send_message([0x80, 60, 0])
                time.sleep(0.02)  # a status asked for meanwhile would hold the note off up
                _observe(client, clock)
                offset = clock.offset_ns()
                assert offset is not None
                offsets.append(offset)
            time.sleep(0.2)
            client.sync()
            status = client.status()
    finally:
        engine.quit()
        keys.close_port()
    stamps = [
        s for s, m in read_stamped_log(folder / "s.log").commands if m.address == "/note/probe"
    ]
    device_ms = float(io["device_latency_ms"])
    latencies = [
        (offset + stamp * 1e9 / 48000 - sent_ns) / 1e6 + device_ms
        for sent_ns, stamp, offset in zip(sent, stamps, offsets, strict=True)
    ]
    late = status["engine"]["osc"]["late"]
    print(
        f"JACK, block {block}, lead {lead}; device latency {device_ms:.2f} ms; fixed MIDI "
        f"latency {float(fixed_ms):.2f} ms; {len(latencies)} notes, {late} late; "
        f"xruns {status['io']['xruns']}, underruns {status['io']['underruns']}"
    )
    figures: dict[str, Any] = {
        "load_before": load_before, "block": block, "lead": lead, "device_ms": device_ms,
        "fixed_ms": float(fixed_ms),
        "trials": len(latencies), "late": late, "xruns": status["io"]["xruns"],
        "underruns": status["io"]["underruns"],
    }  # fmt: skip
    for name, value in (
        ("min", min(latencies)),
        ("p50", statistics.median(latencies)),
        ("p99", percentile(latencies, 99)),
        ("max", max(latencies)),
    ):
        print(f"  {name}: key → heard {value:6.2f} ms")
        figures[name] = value
    figures["spread_p1_p99"] = percentile(latencies, 99) - percentile(latencies, 1)
    print(f"  spread (p99 − p1): {figures['spread_p1_p99']:.2f} ms")
    figures.update(_parts(latencies, float(fixed_ms), device_ms, status["engine"]["midi"]))
    return figures


def _parts(
    latencies: list[float], fixed_ms: float, device_ms: float, midi: dict[str, Any]
) -> dict[str, Any]:
    """Where the time goes: the delivery (the key sent until the MIDI process has it: the
    rest of a latency that was not late is the fixed part), the hop from the MIDI process
    to the supervisor's stamping and the room left then (the engine's figures)."""
    delivery = [latency - fixed_ms for latency in latencies]
    timings = midi.get("timings") or {}
    parts: dict[str, Any] = {
        "delivery_p50": statistics.median(delivery),
        "delivery_p99": percentile(delivery, 99),
        "hop_ms": timings.get("hop_ms"),
        "read_ms": timings.get("read_ms"),
        "sent_ms": timings.get("sent_ms"),
        "room_ms": timings.get("room_ms"),
        "midi_late": timings.get("late"),
    }
    print(
        f"  parts: device {device_ms:.2f} + slots and margin {fixed_ms - device_ms:.2f} ms "
        f"fixed; delivery (key → MIDI process) p50 {parts['delivery_p50']:.2f}, "
        f"p99 {parts['delivery_p99']:.2f} ms"
    )
    print(f"  MIDI process → stamped: {parts['hop_ms']}; of it until read: {parts['read_ms']}")
    print(f"  stamped → done with (checked, sent, logged): {parts['sent_ms']}")
    print(f"  room left then: {parts['room_ms']}")
    return parts


if __name__ == "__main__":
    main()
