"""MIDI out timing on JACK: each note's frame against the frame its sound left the engine.

    PYTHONPATH=. python benchmarks/midi_out.py [--notes 600] [--lead 2] [--block 128]
    PYTHONPATH=. python benchmarks/midi_out.py --cost     (the supervisor's share, no JACK)

An engine on the JACK device sends a track's notes (16ths at 150 bpm) to a test JACK client
(`tests.jack_midi_reader`), which dates each message by the frame it arrived on and records
the engine's audio output on the same frames. A note is scheduled for the frame its sample
leaves the engine on JACK, which is where its sound starts (a saw with no attack: its onset
is its note's exact sample), so the timing error is a note on's frame less its onset's.
Also the spread of (frame − sample) over the notes (the sample clock's mapping, whatever
the audio), xruns, and the frame offsets the MIDI process used.

`--cost`: the CPU the supervisor spends on MIDI out's sequencer (it runs from the start,
whether MIDI out is on or not) per second of music, ticked every block, for 1, 16 and 64
tracks of 16ths, and the copy a command that changes the forecast costs.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineProcess
from chronus.midi.out_forecast import MidiForecast
from chronus.midi.out_schedule import MidiSchedule
from chronus.protocol import validate
from chronus.session.stamped_log import read_stamped_log
from tests.jack_midi_reader import MidiReader
from tests.onsets import onsets
from tests.sessions import crisp_bass

RATE = 48000
BPM = 150.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=600)
    parser.add_argument("--lead", type=int, default=2)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--cost", action="store_true")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        if args.cost:
            figures.update(cost())
        else:
            figures.update(measure(args.notes, args.lead, args.block))


def cost() -> dict[str, Any]:
    """The supervisor's CPU for MIDI out's schedule (ms per second of music) and a copy."""
    figures: dict[str, Any] = {}
    pattern = "c2 eb2 g2 c3 bb2 g2 f2 eb2 c2 c2 eb2 g2 c3 bb2 g2 f2"
    seconds = 10
    for tracks in (1, 16, 64):
        forecast = MidiForecast(RATE)
        for i in range(tracks):
            forecast.command(validate("/patch/create", (f"t{i}", "saw")), 0)
            forecast.command(validate(f"/seq/t{i}/pattern", (pattern,)), 0)
        began = time.process_time()
        for edge in range(0, RATE * seconds, 128):
            forecast.idle(edge)
        off = (time.process_time() - began) * 1000 / seconds
        forecast.route("t0", 0, RATE * seconds)
        began = time.process_time()
        for edge in range(RATE * seconds, RATE * 2 * seconds, 128):
            forecast.tick(edge, edge + RATE // 10)
        on = (time.process_time() - began) * 1000 / seconds
        began = time.perf_counter()
        for _ in range(20):
            copy.deepcopy(forecast.final)
        copied = (time.perf_counter() - began) / 20 * 1000
        print(f"{tracks:3d} tracks: MIDI out off {off:.1f} ms/s, one track out {on:.1f} ms/s; "
              f"a forecast rebuilt {copied:.2f} ms")  # fmt: skip
        figures[f"tracks_{tracks}"] = {"off_ms_per_s": off, "on_ms_per_s": on, "copy_ms": copied}
    return figures


def measure(notes: int, lead: int, block: int) -> dict[str, Any]:
    """Play `notes` notes out; print and return the figures (ms)."""
    folder = Path(tempfile.mkdtemp(prefix="midi-out-"))
    seconds = notes / (BPM / 60 * 4) + 1.0
    with MidiReader("chronus-bench-synth", audio=True, seconds=int(seconds) + 10) as synth:
        before = synth.audio_clients()
        engine = EngineProcess(
            port=0, backend="device", block=block,
            extra_args=["--lead", str(lead), "--files", str(folder), "--log", "s.log"],
        ).boot()  # fmt: skip
        try:
            deadline = time.monotonic() + 20.0
            while not (came := synth.audio_clients() - before) and time.monotonic() < deadline:
                time.sleep(0.05)
            (audio_client,) = came
            synth.listen_to(audio_client)
            with engine.client() as client:
                client.send(crisp_bass(BPM))
                client.sync()
                client.ask("/midi/out", "bass", "chronus-bench-synth", timeout=30.0)
                time.sleep(0.5)
                client.send([validate("/seq/bass/pattern", ("c2 eb2 g2 c3 bb2 g2 f2 eb2",))])
                time.sleep(seconds)
                client.send([validate("/seq/stop", ())])
                time.sleep(0.3)
                client.sync()
                status = client.status()
        finally:
            engine.quit()
        got = synth.messages()
        audio = synth.audio()
    schedule = MidiSchedule(RATE, {"bass": 0})
    for stamp, message in read_stamped_log(folder / "s.log").commands:
        schedule.apply(message, stamp)
    samples = [e.sample for e in schedule.events_until(1 << 40) if e.data[0] == 0x90]
    ons = [frame for frame, data in got if data[0] == 0x90]
    heard = [audio.first_frame + h for h in onsets(audio.samples[:, None], 1e-4, 600)]
    count = min(len(ons), len(heard), len(samples))
    errors_ms = [(m - a) * 1000 / RATE for m, a in zip(ons[:count], heard[:count], strict=True)]
    deltas = [m - s for m, s in zip(ons[:count], samples[:count], strict=True)]
    middle = statistics.median(deltas)
    io, midi_out = status["io"], status["engine"]["midi_out"]
    print(
        f"JACK, block {block}, lead {lead}; {len(ons)} note ons sent, {len(heard)} onsets "
        f"heard, {count} compared; xruns {io['xruns']} ({io['xruns_in_host_stalls']} in host "
        f"stalls), underruns {io['underruns']}; MIDI process {midi_out['sender']}"
    )
    absolute = [abs(e) for e in errors_ms]
    figures: dict[str, Any] = {
        "block": block, "lead": lead, "notes": count, "xruns": io["xruns"],
        "underruns": io["underruns"], "offsets_used": midi_out["sender"].get("deltas_seen"),
        "off_by_a_period": sum(1 for e in errors_ms if abs(e) * RATE / 1000 >= block / 2),
    }  # fmt: skip
    for name, value in (
        ("p50", statistics.median(absolute)),
        ("p99", percentile(absolute, 99)),
        ("max", max(absolute)),
    ):
        print(f"  {name}: |note on − its onset| {value:6.3f} ms")
        figures[f"error_{name}_ms"] = value
    spread = max(abs(d - middle) for d in deltas) * 1000 / RATE
    print(f"  (frame − sample) spread from its median: {spread:.3f} ms at most")
    print(f"  notes a period or more off: {figures['off_by_a_period']}")
    figures["mapping_spread_ms"] = spread
    return figures


if __name__ == "__main__":
    main()
