"""The read-only HTTP API on its own: a real server on a free loopback port, a registry with
plugins in it, and a published status standing in for the supervisor's."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest

from chronus.engine.client import parse_endpoint
from chronus.engine.http_api import MAX_CONNECTIONS, HttpApi, is_loopback
from chronus.engine.launcher import Launcher
from chronus.engine.supervisor import EngineConfig, Supervisor
from chronus.plugins.registry import PluginRegistry, PluginState
from chronus.plugins.result import ValidationResult

NOW = 1_000_000.0


@pytest.fixture
def registry() -> PluginRegistry:
    """`fold` active since 30 s ago after a validation, `crush` failed, on a fixed clock."""
    clock = iter([NOW - 40, NOW - 35, NOW - 32, NOW - 30, NOW - 20, NOW - 19, NOW - 18])
    registry = PluginRegistry(clock=lambda: next(clock, NOW))
    registry.discover("fold", "/tmp/fold.py")
    registry.transition("fold", PluginState.VALIDATING, "load")
    registry.set_validation("fold", ValidationResult(ok=True, duration=0.04), "abc123abc123")
    registry.transition("fold", PluginState.READY, "validated")
    registry.transition("fold", PluginState.ACTIVE, "loaded")
    registry.update_metrics("fold", success_count=1234, error_count=2, last_error="ValueError")
    registry.discover("crush", "/tmp/crush.py")
    registry.transition("crush", PluginState.VALIDATING, "load")
    failed = ValidationResult(ok=False, error_type="timeout", error_message="over 2 s")
    registry.set_validation("crush", failed, "def456def456")
    registry.transition("crush", PluginState.FAILED, "timeout", "over 2 s")
    return registry


@pytest.fixture
def api(registry: PluginRegistry) -> Iterator[HttpApi]:
    server = HttpApi.open(registry, "127.0.0.1", 0)
    yield server
    server.close()


def call(api: HttpApi, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """(status code, headers, body) of one request."""
    host, port = api.address
    data = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(api: HttpApi, path: str) -> tuple[int, Any]:
    code, headers, body = call(api, path)
    assert headers["Content-Type"] == "application/json"
    return code, json.loads(body)


def test_plugins_is_the_registrys_listing(api: HttpApi, registry: PluginRegistry) -> None:
    code, listing = get_json(api, "/v1/plugins")
    assert code == 200
    assert listing == registry.listing()
    assert [(p["name"], p["state"]) for p in listing] == [("fold", "active"), ("crush", "failed")]
    assert listing[0]["success_count"] == 1234 and listing[0]["uptime_seconds"] == 30.0
    assert listing[1]["validation"]["error_type"] == "timeout"


def test_one_plugins_health_has_its_transitions(api: HttpApi, registry: PluginRegistry) -> None:
    code, health = get_json(api, "/v1/plugins/fold/health")
    assert code == 200
    assert health == registry.health("fold")
    assert [t["state"] for t in health["transitions"]] == [
        "discovered", "validating", "ready", "active",
    ]  # fmt: skip
    assert get_json(api, "/v1/plugins/fold/health/")[1] == health  # a trailing slash is fine


def test_an_unknown_plugin_is_a_404_with_a_json_error(api: HttpApi) -> None:
    code, body = get_json(api, "/v1/plugins/chorus/health")
    assert code == 404
    assert body == {"error": "no plugin named 'chorus'"}


def test_health_is_the_status_last_published(api: HttpApi) -> None:
    code, body = get_json(api, "/v1/health")
    assert code == 503 and "starting" in body["error"]  # nothing published yet
    api.publish({"engine": {"uptime_s": 1.5}, "io": {"underruns": 0}})
    assert get_json(api, "/v1/health") == (
        200,
        {"engine": {"uptime_s": 1.5}, "io": {"underruns": 0}},
    )
    status = {"engine": {"uptime_s": 2.0}}
    api.publish(status)
    status["engine"]["uptime_s"] = 99.0  # the publisher's dict changes later: not what is served
    assert get_json(api, "/v1/health") == (200, {"engine": {"uptime_s": 2.0}})


@pytest.mark.parametrize("path", ["/", "/v1", "/v2/plugins", "/v1/plugins/fold", "/v1/healthz",
                                  "/v1/plugins/fold/health/more", "/../etc/passwd"])  # fmt: skip
def test_anything_else_is_a_404(api: HttpApi, path: str) -> None:
    code, body = get_json(api, path)
    assert code == 404 and "no such resource" in body["error"]


def test_head_answers_the_headers_without_the_body(api: HttpApi) -> None:
    _, get_headers, get_body = call(api, "/v1/plugins")
    code, headers, body = call(api, "/v1/plugins", "HEAD")
    assert code == 200 and body == b""
    assert headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_every_method_but_get_and_head_is_a_405(api: HttpApi, method: str) -> None:
    code, headers, body = call(api, "/v1/plugins", method)
    assert code == 405
    assert headers["Allow"] == "GET, HEAD"
    assert "read-only" in json.loads(body)["error"]


def test_concurrent_readers_see_whole_statuses(api: HttpApi) -> None:
    """Readers on many threads while the status is published again and again: each answer is
    one published status, whole."""
    statuses = [{"engine": {"n": n, "pad": "x" * (n * 997 % 5000)}} for n in range(50)]
    seen: list[Any] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                seen.append(get_json(api, "/v1/health")[1])
        except BaseException as exc:
            errors.append(exc)

    api.publish(statuses[0])
    readers = [threading.Thread(target=read) for _ in range(6)]
    for reader in readers:
        reader.start()
    for status in statuses[1:]:
        api.publish(status)
    for reader in readers:
        reader.join(30)
    assert not errors
    assert len(seen) == 120 and all(body in statuses for body in seen)
    assert api.status()["requests"] >= 120


def test_close_releases_the_port(registry: PluginRegistry) -> None:
    api = HttpApi.open(registry, "127.0.0.1", 0)
    host, port = api.address
    assert call(api, "/v1/plugins")[0] == 200
    api.close()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # free again


def test_a_port_in_use_is_an_os_error(api: HttpApi, registry: PluginRegistry) -> None:
    with pytest.raises(OSError):
        HttpApi.open(registry, *api.address)


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.10", "::", "example.org"]))


def test_server_endpoints_may_ask_for_any_port() -> None:
    assert parse_endpoint("127.0.0.1:0", any_port=True) == ("127.0.0.1", 0)
    assert parse_endpoint("8080", any_port=True) == ("127.0.0.1", 8080)  # loopback by default
    with pytest.raises(ValueError, match="1–65535"):
        parse_endpoint("127.0.0.1:0")
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_endpoint("localhost:http", any_port=True)


def test_a_status_json_cannot_hold_leaves_the_last_one_served(api: HttpApi) -> None:
    """The supervisor's publishing never takes the serve loop down: a status with a value
    JSON cannot encode is logged and skipped, and the last good one stays served."""
    supervisor = Supervisor(EngineConfig(http=api.address), launcher=cast(Launcher, object()))
    supervisor._http = api
    statuses = iter([{"engine": {"n": 1}}, {"engine": {"n": object()}}])
    supervisor.status = lambda: next(statuses)  # type: ignore[method-assign]
    supervisor._publish_status()
    supervisor._publish_status()
    assert get_json(api, "/v1/health") == (200, {"engine": {"n": 1}})


def test_connections_held_open_are_capped_and_the_next_is_told_to_retry(api: HttpApi) -> None:
    """Each connection holds a thread until it sends or times out: past the cap, one more is
    answered 503 at once, and a freed place serves again."""
    host, port = api.address
    held = [socket.create_connection((host, port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        code, headers, body = call(api, "/v1/plugins")
        assert code == 503 and headers["Retry-After"] == "1"
        assert "too many connections" in json.loads(body)["error"]
        assert api.status()["refused_connections"] >= 1
        held.pop().close()  # its thread sees the end of the stream and returns
        deadline = time.monotonic() + 5.0
        while (answer := call(api, "/v1/plugins"))[0] == 503:
            assert time.monotonic() < deadline, "a freed place serves again"
            time.sleep(0.05)
        assert answer[0] == 200
    finally:
        for connection in held:
            connection.close()
