"""The read-only HTTP API: plugin health and engine status as JSON (`chronus engine --http`).

For people who watch a long-running engine (an installation, a stream) with `curl` or a
dashboard. `GET /v1/plugins` is the plugin registry's `listing()`, `GET /v1/plugins/<name>/health`
its `health(name)`, `GET /v1/health` the supervisor's `status()`; nothing else exists (404),
and nothing can be changed (any method but GET and HEAD: 405). A peer the engine's `--allow`
networks do not name gets 403 and is counted; an IPv6 host (`::1`, `::`) serves IPv6.

It serves from daemon threads in the supervisor process and touches nothing of the engine:
the registry is thread-safe plain data (reading it never runs plugin code), and the status is
the JSON the serve loop last published, a few times a second, as bytes no one changes.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from chronus.engine.peers import family_of, is_loopback
from chronus.plugins.registry import PluginRegistry

__all__ = ["MAX_CONNECTIONS", "PUBLISH_EVERY_S", "HttpApi", "is_loopback", "route"]

PUBLISH_EVERY_S = 0.25
"""How often the serve loop publishes the engine's status for `GET /v1/health`."""
_REQUEST_TIMEOUT_S = 5.0
"""A client that sends nothing for this long loses its connection (and its thread)."""
_POLL_S = 0.1
"""How soon the server notices `close()`."""
MAX_CONNECTIONS = 16
"""Connections served at once (a thread each); one more is answered 503 and closed at once,
so that clients that open and hold connections cannot grow the supervisor without bound."""
log = logging.getLogger("chronus.engine.http")


class HttpApi:
    """The HTTP server: bound and serving once `open` returns, until `close`."""

    def __init__(
        self, server: _Server, registry: PluginRegistry, allows: Callable[[str], bool] | None = None
    ) -> None:
        self._server = server
        self.registry = registry
        self.allows = allows
        """Whether a peer's host may be answered (None: every one); it must not count."""
        self._forbidden = 0
        self._status: bytes | None = None
        self._published = 0.0
        self._lock = threading.Lock()
        self._requests = 0
        self._refused = 0
        self._thread = threading.Thread(
            target=server.serve_forever, args=(_POLL_S,), name="chronus-http", daemon=True
        )

    @classmethod
    def open(
        cls,
        registry: PluginRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        allows: Callable[[str], bool] | None = None,
    ) -> HttpApi:
        """Bind `host:port` (0: any free port) and start serving the peers `allows` names
        (None: every peer); `OSError` if it cannot bind."""
        kind = _Server6 if family_of(host) == socket.AF_INET6 else _Server
        server = kind((host, port), _Handler)
        api = server.api = cls(server, registry, allows)
        api._thread.start()
        return api

    @classmethod
    def adopt(
        cls,
        registry: PluginRegistry,
        sock: socket.socket,
        allows: Callable[[str], bool] | None = None,
    ) -> HttpApi:
        """Serve on a listening socket bound already (that of a supervisor that died, which
        the engine's parent held: `held_sockets`)."""
        kind = _Server6 if sock.family == socket.AF_INET6 else _Server
        server = kind(sock.getsockname(), _Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.server_address = sock.getsockname()
        server.server_activate()  # listen() again on a listening socket changes nothing
        api = server.api = cls(server, registry, allows)
        api._thread.start()
        return api

    @property
    def socket(self) -> socket.socket:
        """The listening socket, for another supervisor to `adopt`."""
        return self._server.socket

    @property
    def address(self) -> tuple[str, int]:
        """The host and the port actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def publish(self, status: dict[str, Any]) -> None:
        """Make `status` what `GET /v1/health` answers (called from the serve loop)."""
        body = json.dumps(status).encode()
        with self._lock:
            self._status = body
            self._published = time.monotonic()

    def published(self) -> tuple[bytes | None, float]:
        """The last published status (None before the first) and its age in seconds."""
        with self._lock:
            return self._status, time.monotonic() - self._published

    def refused(self) -> None:
        """Count one connection turned away (too many at once)."""
        with self._lock:
            self._refused += 1

    def forbidden(self) -> None:
        """Count one connection from a peer `--allow` does not name (answered 403)."""
        with self._lock:
            self._forbidden += 1

    def counted(self) -> None:
        """Count one request served."""
        with self._lock:
            self._requests += 1

    def status(self) -> dict[str, Any]:
        """Where it listens and how many requests it served."""
        host, port = self.address
        with self._lock:
            return {
                "address": f"{host}:{port}",
                "requests": self._requests,
                "refused_connections": self._refused,
                "forbidden": self._forbidden,
                "max_connections": MAX_CONNECTIONS,
            }

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(2.0)
        self._server.server_close()


def route(api: HttpApi, path: str) -> tuple[HTTPStatus, bytes]:
    """The answer to `GET path`: a status and a JSON body."""
    parts = [unquote(part) for part in urlsplit(path).path.strip("/").split("/")]
    if parts == ["v1", "plugins"]:
        return HTTPStatus.OK, _json(api.registry.listing())
    if len(parts) == 4 and parts[:2] == ["v1", "plugins"] and parts[3] == "health":
        try:
            return HTTPStatus.OK, _json(api.registry.health(parts[2]))
        except KeyError:
            return HTTPStatus.NOT_FOUND, _error(f"no plugin named {parts[2]!r}")
    if parts == ["v1", "health"]:
        body, _ = api.published()
        if body is None:
            return HTTPStatus.SERVICE_UNAVAILABLE, _error("the engine is starting")
        return HTTPStatus.OK, body
    return HTTPStatus.NOT_FOUND, _error(
        f"no such resource: {path}; try /v1/health, /v1/plugins, /v1/plugins/<name>/health"
    )


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _error(text: str) -> bytes:
    return _json({"error": text})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: HttpApi
    _busy = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def server_activate(self) -> None:
        self._busy = threading.BoundedSemaphore(MAX_CONNECTIONS)  # this server's own
        super().server_activate()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._busy.acquire(blocking=False):
            self.api.refused()
            try:
                request.sendall(_BUSY)
            except OSError:
                pass  # it went already: nothing to tell
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._busy.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The base class prints the traceback; a client that hung up is no news.
        log.debug("HTTP request from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """One request: GET and HEAD are routed; every other method is refused."""

    server_version = "chronus"
    sys_version = ""
    timeout = _REQUEST_TIMEOUT_S

    def parse_request(self) -> bool:
        # Whatever the method, a peer the --allow networks do not name gets 403 and no more.
        if not super().parse_request():
            return False
        api = self._api()
        if api.allows is None or api.allows(str(self.client_address[0])):
            return True
        api.forbidden()  # counted there, not as a request served
        self.close_connection = True
        self._answer(HTTPStatus.FORBIDDEN, _FORBIDDEN, body=self.command != "HEAD", served=False)
        return False

    def do_GET(self) -> None:
        self._answer(*route(self._api(), self.path), body=True)

    def do_HEAD(self) -> None:
        self._answer(*route(self._api(), self.path), body=False)

    def _api(self) -> HttpApi:
        return cast(_Server, self.server).api

    def __getattr__(self, name: str) -> Any:
        # The base class looks up `do_<METHOD>` and answers 501 when there is none: every
        # method that exists in HTTP but is not GET or HEAD is a 405 here instead.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._answer(
            HTTPStatus.METHOD_NOT_ALLOWED,
            _error(f"{self.command} is not allowed: the API is read-only (GET, HEAD)"),
            body=True,
            allow=True,
        )

    def _answer(
        self, code: HTTPStatus, payload: bytes, body: bool, allow: bool = False, served: bool = True
    ) -> None:
        if served:
            self._api().counted()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if allow:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


_BUSY_BODY = _error(f"too many connections at once (at most {MAX_CONNECTIONS}); try again")
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\nRetry-After: 1\r\n\r\n".encode()
    + _BUSY_BODY
)
_FORBIDDEN = _error("this address is not allowed (the engine's --allow networks)")
