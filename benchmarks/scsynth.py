"""SuperCollider's scsynth as a realtime server on the running JACK server: the anchor for
start-up and for the control round trip.

`scsynth -u PORT` connects to JACK (the Debian build's audio driver) and prints
"SuperCollider 3 server ready." once it takes commands over UDP on PORT.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chronus.protocol import ProtocolError, encode_raw, parse_packet
from tests.conftest import jack_running

READY = "SuperCollider 3 server ready"


def why_not() -> str:
    """Why scsynth cannot run here as a realtime server ("" if it can)."""
    if shutil.which("scsynth") is None:
        return "scsynth is not installed (Debian: supercollider-server)"
    if not jack_running():
        return "no JACK server running (scsynth's realtime driver needs one)"
    return ""


def version() -> str:
    """`scsynth -v` without its build note ("scsynth 3.13.0"), or "" if not installed."""
    if shutil.which("scsynth") is None:
        return ""
    try:
        done = subprocess.run(["scsynth", "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    words = (done.stdout or done.stderr).split()
    return " ".join(words[:2]) if done.returncode == 0 else ""


def free_udp_port() -> int:
    """A UDP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
    """Every line of `stream` into `lines`, then "" at its end."""
    for line in stream or ():
        lines.put(line)
    lines.put("")


class Server:
    """One `scsynth -u PORT` process: `boot` times it to its ready line, `quit` ends it."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_udp_port()
        self.process: subprocess.Popen[str] | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def boot(self, timeout: float = 20.0) -> float:
        """Start it; the seconds from just before the start to its ready line."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            ["scsynth", "-u", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path.home(),
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        seen: list[str] = []
        deadline = started + timeout
        try:
            while line := lines.get(timeout=max(0.0, deadline - time.perf_counter())):
                seen.append(line)
                if READY in line:
                    return time.perf_counter() - started
        except queue.Empty:
            pass
        self.quit()
        raise RuntimeError(f"scsynth did not become ready: {''.join(seen)[-500:]}")

    def sync(self, token: int, timeout: float = 2.0) -> None:
        """`/sync token`, waiting for its `/synced token` (other replies are skipped)."""
        self.sock.sendto(encode_raw("/sync", token), ("127.0.0.1", self.port))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                replies = parse_packet(self.sock.recv(65536))
            except ProtocolError:
                continue
            if any(address == "/synced" and args[:1] == (token,) for address, args in replies):
                return
        raise TimeoutError(f"no /synced {token} from scsynth within {timeout} s")

    def quit(self) -> None:
        """Ask it to quit (`/quit`); killed if it has not within 5 s."""
        if self.process is not None and self.process.poll() is None:
            self.sock.sendto(encode_raw("/quit"), ("127.0.0.1", self.port))
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sock.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.quit()
