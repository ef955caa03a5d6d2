"""A JACK dummy server of a test's own, at the period the test needs (the shared one runs at
128 frames): started under a unique name, reached through `JACK_DEFAULT_SERVER`, ended after."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["jack_server", "main"]


def _require_jackd() -> None:
    """Skip without `jackd`, except in CI (CHRONUS_REQUIRE_JACK=1), where that is a failure."""
    if shutil.which("jackd") is not None:
        return
    if os.environ.get("CHRONUS_REQUIRE_JACK") == "1":
        pytest.fail("CHRONUS_REQUIRE_JACK=1 but jackd is not installed")
    pytest.skip("jackd is not installed")


def _answers(name: str) -> bool:
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
    return subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=5).returncode == 0


@contextmanager
def jack_server(period: int, rate: int = 48000) -> Iterator[str]:
    """Run `jackd -n <unique> -d dummy -p period` for the block; yields its name."""
    _require_jackd()
    name = f"chronus-test-{os.getpid()}-p{period}"
    said = tempfile.TemporaryFile()
    server = subprocess.Popen(
        ["jackd", "-n", name, "-R", "-P", "70", "-d", "dummy", "-r", str(rate), "-p", str(period)],
        stdin=subprocess.DEVNULL, stdout=said, stderr=said,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10.0
        while not _answers(name):
            if server.poll() is not None or time.monotonic() > deadline:
                said.seek(0)
                raise RuntimeError(f"jackd -n {name} did not start: {said.read()[-2000:]!r}")
            time.sleep(0.1)
        yield name
    finally:
        said.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str]) -> int:
    """`python -m tests.jack_server PERIOD COMMAND…`: run a command (a benchmark) on a JACK
    dummy server of its own at PERIOD frames; its exit code."""
    with jack_server(int(argv[0])) as name:
        env = {**os.environ, "JACK_DEFAULT_SERVER": name}
        return subprocess.run(argv[1:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
