"""The engine's block on JACK follows the server's period, as a DAW's latency follows the
device's buffer setting.

When the output device PortAudio opens is a JACK one and `--block` is not given, the block
is the server's period: PortAudio then hands each JACK cycle straight to the audio I/O
(another size makes it re-buffer, a period or more of latency), MIDI out writes in the
cycle it schedules for, and MIDI in's fixed latency (`least_latency_ms`) shrinks with the
period: a player who runs JACK at 64 frames gets 7.2 ms instead of 11.2.

The server is asked in a child process (`python -m chronus.engine.jack_period`), so that
the engine's own processes load neither PortAudio nor a JACK client for it.

>>> choose_block(None, JackPeriod(64, 48000, "system"))
(64, 'jack')
>>> choose_block(256, JackPeriod(64, 48000, "system")), choose_block(None, None)
((256, 'option'), (128, 'default'))
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Final

from chronus.dsp.rates import block_problem

__all__ = ["DEFAULT_BLOCK", "JackPeriod", "ask_period", "choose_block", "describe_block", "main"]

DEFAULT_BLOCK: Final = 128
"""The block when no `--block` is given and the device is not JACK (2.67 ms at 48 kHz)."""
_ASK_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class JackPeriod:
    """What the JACK server the output device belongs to runs at."""

    frames: int
    rate: int
    device: str


def choose_block(given: int | None, period: JackPeriod | None) -> tuple[int, str]:
    """The engine's block and where it comes from: `option` (`--block`), `jack` (the
    server's period) or `default`."""
    if given is not None:
        return given, "option"
    if period is not None and block_problem(period.frames) is None:
        return period.frames, "jack"
    return DEFAULT_BLOCK, "default"


def describe_block(block: int, source: str, period: JackPeriod | None) -> str:
    """One line for the engine's start: the block, and why.

    >>> describe_block(64, "jack", JackPeriod(64, 48000, "system"))
    "block 64 frames: the JACK server's period (device system)"
    >>> describe_block(128, "option", JackPeriod(64, 48000, "system"))
    'block 128 frames (--block); the JACK server runs at 64: PortAudio re-buffers, adding latency'
    """
    if source == "jack":
        device = period.device if period is not None else "?"
        return f"block {block} frames: the JACK server's period (device {device})"
    if source == "option" and period is not None and period.frames != block:
        return (
            f"block {block} frames (--block); the JACK server runs at {period.frames}: "
            "PortAudio re-buffers, adding latency"
        )
    return f"block {block} frames ({'--block' if source == 'option' else 'the default'})"


def ask_period(device: str | None, timeout_s: float = _ASK_TIMEOUT_S) -> JackPeriod | None:
    """The period of the JACK server PortAudio's output `device` (None: the default one)
    belongs to; None if that device is not JACK's, or none can be opened."""
    command = [sys.executable, "-m", "chronus.engine.jack_period"]
    if device is not None:
        command += ["--device", device]
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s
        )
        found = json.loads(done.stdout or "null")
    except (subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return JackPeriod(int(found["frames"]), int(found["rate"]), str(found["device"]))


def _period_of(device: str | None) -> dict[str, object] | None:
    try:
        import sounddevice as sd
    except OSError:  # no PortAudio: no device
        return None
    try:
        info = sd.query_devices(device, kind="output")
        host_api = sd.query_hostapis(int(info["hostapi"]))["name"]
    except (ValueError, sd.PortAudioError):
        return None
    if "JACK" not in host_api:
        return None
    import jack

    try:
        client = jack.Client("chronus-period", no_start_server=True)
    except jack.JackError:
        return None
    try:
        return {"frames": client.blocksize, "rate": client.samplerate, "device": info["name"]}
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Print the JSON of the output device's JACK period (`null`: not a JACK device)."""
    parser = argparse.ArgumentParser(prog="python -m chronus.engine.jack_period")
    parser.add_argument("--device", default=None, help="PortAudio output device name or index")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(_period_of(args.device)) + "\n")  # the device as the I/O names it
    return 0


if __name__ == "__main__":
    sys.exit(main())
