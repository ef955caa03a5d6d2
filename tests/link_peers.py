"""An independent Ableton Link peer in a process of its own, for tests and benchmarks.

It uses `aalink` directly (not chronus's `LinkPeer`) and talks over its stdin and stdout:
`tempo <bpm>` sets the session's tempo, `sync <0|1>` turns start/stop sync on or off,
`playing <0|1>` starts or stops the session, `read` answers one line
`<monotonic ns> <beat> <bpm> <peers> <playing>` (the beat read between two reads of the
monotonic clock, the tightest of three), `quit` leaves.

    python -m tests.link_peers 133 4   # join proposing 133 bpm, quantum 4
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PeerReading:
    """The peer's timeline at one moment of this host's monotonic clock."""

    monotonic_ns: int
    beat: float
    bpm: float
    peers: int
    playing: bool = False

    def beat_at(self, monotonic_ns: float) -> float:
        """The peer's beat at another moment, at this tempo."""
        return self.beat + (monotonic_ns - self.monotonic_ns) * self.bpm / 60e9


class PeerProcess:
    """`python -m tests.link_peers` as a child process."""

    def __init__(self, bpm: float, quantum: int = 4) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.link_peers", str(bpm), str(quantum)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def read(self) -> PeerReading:
        """The peer's beat now, its tempo and its count of peers."""
        mono, beat, bpm, peers, playing = self._ask("read").split()
        return PeerReading(int(mono), float(beat), float(bpm), int(peers), playing == "1")

    def set_tempo(self, bpm: float) -> None:
        """Set the session's tempo from this peer."""
        assert self._ask(f"tempo {bpm}") == "ok"

    def start_stop_sync(self, on: bool) -> None:
        """Share start/stop with the session (Link's start/stop sync) or not."""
        assert self._ask(f"sync {int(on)}") == "ok"

    def set_playing(self, playing: bool) -> int:
        """Start or stop the session from this peer; the monotonic time it did."""
        at = time.monotonic_ns()
        assert self._ask(f"playing {int(playing)}") == "ok"
        return at

    def wait_peers(self, count: int, timeout: float = 15.0) -> PeerReading:
        """Wait until the peer sees `count` other peers; the last reading."""
        deadline = time.monotonic() + timeout
        while (reading := self.read()).peers < count:
            assert time.monotonic() < deadline, f"the peer sees {reading.peers} peers"
            time.sleep(0.05)
        return reading

    def close(self) -> None:
        """Leave the session and wait for the process."""
        if self.process.poll() is None:
            self._ask("quit")
            self.process.wait(5)


def _serve(bpm: float, quantum: int) -> None:
    from aalink import Link

    async def make() -> Link:
        return Link(bpm)

    link = asyncio.new_event_loop().run_until_complete(make())
    link.quantum = quantum
    link.enabled = True
    for line in sys.stdin:
        word, *args = line.split()
        if word == "read":
            best = (1 << 62, 0, 0.0)
            for _ in range(3):
                before = time.monotonic_ns()
                beat = link.beat
                after = time.monotonic_ns()
                if after - before < best[0]:
                    best = (after - before, (before + after) // 2, beat)
            playing = int(link.playing)
            print(best[1], repr(best[2]), repr(link.tempo), link.num_peers, playing, flush=True)
        elif word == "tempo":
            link.tempo = float(args[0])
            print("ok", flush=True)
        elif word == "sync":
            link.start_stop_sync_enabled = bool(int(args[0]))
            print("ok", flush=True)
        elif word == "playing":
            link.playing = bool(int(args[0]))
            print("ok", flush=True)
        elif word == "quit":
            link.enabled = False
            print("bye", flush=True)
            return


if __name__ == "__main__":
    _serve(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4)
