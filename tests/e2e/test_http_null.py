"""`chronus engine --http`: the read-only HTTP API of a real engine, read with urllib."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import validate
from tests.cpu_users import CpuUsers


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
    assert set(first) == {"engine", "io", "slots", "host", "plugins"}
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


LOADING = importlib.util.find_spec("chronus.plugins.store") is not None
"""Whether the engine side of plugin loading is here (the `loading` branch of issue 15): the
language may know `/plugins/load` before the engine does."""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"


def reply(client: EngineClient, timeout: float = 60.0) -> tuple[str, tuple[Any, ...]]:
    """The next `/plugins/loaded` or `/error` the engine sends this client."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.receive(0.5)
        if got is not None and got[0] in ("/plugins/loaded", "/error"):
            return got
    raise AssertionError("no answer to /plugins/load")


@pytest.mark.skipif(not LOADING, reason="needs the engine side of plugin loading (issue 15)")
def test_the_http_api_tells_the_story_of_loaded_plugins(tmp_path: Path) -> None:
    """The examples load, a broken copy fails validation, and /v1/plugins says so."""
    broken = tmp_path / "broken.py"
    source = (EXAMPLES / "fold.py").read_text()
    broken.write_text(source.replace("fold_stereo(inp, out, n, self._p)", 'raise ValueError("x")'))
    process = EngineProcess(
        port=0,
        backend="null",
        extra_args=["--http", "127.0.0.1:0", "--plugin-store", str(tmp_path / "store")],
    ).boot()
    try:
        with process.client() as client:
            for name in ("fold", "crush", "chorus"):
                with CpuUsers() as users:  # who held the CPUs, if its validation waited
                    client.send_raw("/plugins/load", str(EXAMPLES / f"{name}.py"), name)
                    address, args = reply(client)
                assert address == "/plugins/loaded", (args, users.top())  # the /error says why
                loaded, version, state = args
                assert (loaded, state) == (name, "active")
                assert re.fullmatch("[0-9a-f]{12}", str(version))
            client.send_raw("/plugins/load", str(broken), "broken")
            address, args = reply(client)
            assert address == "/error" and str(args[1]).startswith("exception")
        code, listing = fetch(process, "/v1/plugins")
        assert code == 200
        states = {plugin["name"]: plugin["state"] for plugin in listing}
        assert states == {
            "fold": "active",
            "crush": "active",
            "chorus": "active",
            "broken": "failed",
        }
        code, health = fetch(process, "/v1/plugins/fold/health")
        assert code == 200 and health["transitions"][-1]["state"] == "active"
        code, health = fetch(process, "/v1/plugins/broken/health")
        assert code == 200 and health["validation"]["error_type"] == "exception"
    finally:
        process.quit()
