"""`chronus engine --http`: the read-only HTTP API of a real engine, read with urllib."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from chronus.engine.client import EngineError, EngineProcess
from chronus.protocol import validate


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProcess]:
    """A null-backend engine serving HTTP on a free loopback port."""
    process = EngineProcess(port=0, backend="null", extra_args=["--http", "127.0.0.1:0"]).boot()
    yield process
    process.quit()


def fetch(engine: EngineProcess, path: str, method: str = "GET") -> tuple[int, Any]:
    """(status code, decoded JSON body) of one request to the engine's HTTP API."""
    assert engine.http is not None
    host, port = engine.http
    request = urllib.request.Request(f"http://{host}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ready_line_names_where_it_serves(engine: EngineProcess) -> None:
    assert engine.http is not None
    host, port = engine.http
    assert host == "127.0.0.1" and port > 0 and port != engine.port
    with engine.client() as client:
        assert client.status()["engine"]["http"]["address"] == f"{host}:{port}"


def test_health_is_the_engines_status_and_follows_it(engine: EngineProcess) -> None:
    code, first = fetch(engine, "/v1/health")
    assert code == 200
    assert set(first) == {"engine", "io", "slots", "host"}
    assert first["io"]["backend"] == "null"
    with engine.client() as client:
        client.send([validate("/patch/create", ("httpbass", "saw"))])
        client.sync()
    deadline = time.monotonic() + 5.0
    while True:  # republished a few times a second
        code, later = fetch(engine, "/v1/health")
        if later["engine"]["osc"]["commands"] > first["engine"]["osc"]["commands"]:
            break
        assert time.monotonic() < deadline, later["engine"]["osc"]
        time.sleep(0.1)
    assert later["engine"]["uptime_s"] > first["engine"]["uptime_s"]
    assert later["io"]["blocks_played"] > first["io"]["blocks_played"]


def test_plugins_lists_none_and_an_unknown_one_is_a_404(engine: EngineProcess) -> None:
    assert fetch(engine, "/v1/plugins") == (200, [])
    code, body = fetch(engine, "/v1/plugins/fold/health")
    assert code == 404 and body == {"error": "no plugin named 'fold'"}


def test_read_only_and_nothing_else(engine: EngineProcess) -> None:
    code, body = fetch(engine, "/v1/plugins", "DELETE")
    assert code == 405 and "read-only" in body["error"]
    assert fetch(engine, "/v1/engine/quit")[0] == 404
    with engine.client() as client:
        assert client.status()["io"]["state"] == "running"  # the engine plays on


def test_a_port_in_use_is_a_clear_start_up_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(EngineError, match=f"cannot serve HTTP on 127.0.0.1:{port}"):
            EngineProcess(port=0, backend="null", extra_args=["--http", f"127.0.0.1:{port}"]).boot(
                timeout=60
            )
    assert time.monotonic() - started < 30  # refused before the slots boot


@pytest.mark.parametrize("given", ["nowhere", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_bad_host_port_is_a_clear_cli_error(given: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chronus", "engine", "--http", given],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "argument --http" in done.stderr
    assert ("expected HOST:PORT" in done.stderr) or ("port must be 0–65535" in done.stderr)
