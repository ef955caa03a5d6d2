"""Measuring chronus against a Link peer's timeline, from outside: a recording's onsets.

The engine records what it hands the device (`--record`, from sample 0). While it plays,
`Timeline.watch` reads the engine's clock from its health (blocks handed over and when the
last one was, as the engine's own `SampleClock` does) and the peer's beat (`PeerProcess`).
Afterwards each onset's sample gives the moment it was heard (handed over, plus the device's
latency) and the peer's beat then: a kick on every beat should fall on whole beats, and its
first hit (chronus's beat 0) on the session's bar line.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from chronus.engine.client import EngineClient
from chronus.engine.link_phase import phase_error
from chronus.engine.sample_clock import SampleClock
from chronus.protocol import Message, validate
from tests.link_peers import PeerProcess, PeerReading

KICK_EVERY_BEAT = "x . . . x . . . x . . . x . . ."


def kick_messages() -> list[Message]:
    """A short kick (it falls silent between beats, so each onset is found on its sample)
    on every beat; its first hit starts the transport."""
    return [
        validate("/patch/create", ("kick", "kick")),
        validate("/mod/kick/decay", (0.02,)),
        validate("/patch/connect", ("kick", "master")),
        validate("/seq/kick/pattern", (KICK_EVERY_BEAT,)),
    ]


JOIN_S = 10.0
"""How long a test waits for `/link 1`: the first join loads Link's native library in the
supervisor (0.08-0.17 s at load 10; over 2 s once at load 13-15)."""

LOCAL_S = 1.5
"""An onset is placed by the engine's clock readings within this of it: a clock that moved
(an xrun, a slow start) misplaces no onset far from where it moved."""


@dataclass
class Timeline:
    """The engine's clock readings and the peer's, gathered while the music plays."""

    rate: int = 48000
    block: int = 128
    blocks: list[tuple[int, int, int]] = field(default_factory=list)
    """(blocks handed over, when the last one was, xruns so far) as the engine's health said."""
    readings: list[PeerReading] = field(default_factory=list)
    latency_ns: float = 0.0

    def watch(
        self, client: EngineClient, peer: PeerProcess, seconds: float,
        until: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        """Read the engine's clock and the peer for `seconds`, or until `until()` is true
        (then it must be within `seconds`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            io = client.status(timeout=10.0)["io"]
            self.blocks.append((io["blocks_played"], io["last_block_ns"], io["xruns"]))
            self.latency_ns = 1e6 * float(io["device_latency_ms"])
            self.readings.append(peer.read())
            if until is not None and until():
                return
            time.sleep(0.05)
        assert until is None, f"not so within {seconds} s"

    def calm_s(self) -> float:
        """Seconds the engine played, by its clock readings, since its last xrun (since the
        first reading if none): a null I/O held up by the host for over a period, or a
        device that lost time, hands the following samples over that much late, and the
        beats then are late until Link's nudges have made it up (over bars, never jumped)."""
        consumed, _, xruns = self.blocks[-1]
        since = next(count for count, _, seen in self.blocks if seen == xruns)
        return (consumed - since) * self.block / self.rate

    def xrun_samples(self) -> list[int]:
        """For each new xrun the readings saw, the samples handed over by the first reading
        that counted it (the xrun came after the reading before)."""
        return [
            count * self.block
            for (_, _, before), (count, _, after) in itertools.pairwise(self.blocks)
            if after > before
        ]

    def watched(self, samples: list[int]) -> list[int]:
        """The samples that have readings of the engine's clock around them."""
        reach = LOCAL_S * self.rate / self.block
        return [
            s for s in samples if any(abs(c - s / self.block) <= reach for c, _, _ in self.blocks)
        ]

    def heard_ns(self, sample: int) -> float:
        """When the engine's `sample` was heard (monotonic ns): the engine's sample clock
        (`SampleClock`) fed the readings around it."""
        clock = SampleClock(self.rate, self.block, window_s=2 * LOCAL_S)
        reach = LOCAL_S * self.rate / self.block
        for consumed, started, xruns in self.blocks:
            if abs(consumed - sample / self.block) <= reach:
                clock.observe(consumed, started, xruns)
        offset = clock.offset_ns()
        assert offset is not None, f"no reading of the engine's clock near sample {sample}"
        return offset + sample * 1e9 / self.rate + self.latency_ns

    def peer_beat(self, monotonic_ns: float) -> tuple[float, float]:
        """The peer's beat at a moment, from its nearest reading; and its tempo."""
        nearest = min(self.readings, key=lambda r: abs(r.monotonic_ns - monotonic_ns))
        return nearest.beat_at(monotonic_ns), nearest.bpm

    def errors_ms(self, samples: list[int], quantum: float = 1.0) -> np.ndarray:
        """Each onset's distance from the peer's nearest beat line (ms, late > 0); with a
        quantum of 4, from its nearest bar line."""
        out = []
        for sample in samples:
            beat, bpm = self.peer_beat(self.heard_ns(sample))
            out.append(-phase_error(0.0, beat, quantum) * 60e3 / bpm)
        return np.asarray(out)


def on_whole_blocks(samples: list[int], faded: Iterable[int], block: int) -> list[int]:
    """The onsets outside the blocks an underrun `faded` (out, and the next one back in):
    those hold the pump's ramps, not the engine's block, and a kick found there is its tail
    up to a block late (`classify_blocks` tells them from the offline render), which is no
    error of the engine's phase."""
    skip = set(faded)
    return [sample for sample in samples if sample // block not in skip]


def percentile(errors: np.ndarray, q: float) -> float:
    """The q-th percentile of |error|."""
    return float(np.percentile(np.abs(errors), q))
