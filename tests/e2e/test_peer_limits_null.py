"""Limits on what a client may do, on a real engine (`--backend null`) over real sockets:
one peer's flood is shed while another keeps its round trips, the HTTP API obeys `--allow`,
and the engine listens and is reached over IPv6 (issue 17, item 5)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.engine.rates import rate_text
from chronus.engine.slot import SLOT_PRIORITY
from chronus.protocol import encode_raw, parse_packet
from tests.engine.test_peers import _own_address, unanswered_from
from tests.foreign_realtime import ForeignRealtime
from tests.stalls import StallMonitor

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no ::1")


def _get(host: str, port: int, path: str, source: str | None = None) -> tuple[int, object]:
    """(status, JSON body) of `GET path`, sent from `source` if given."""
    connection = http.client.HTTPConnection(
        host, port, timeout=5, source_address=(source, 0) if source else None
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _drained(client: EngineClient, timeout: float = 30.0) -> int:
    """Wait until the engine has read what is queued on its sockets: two status answers
    0.5 s apart in which it read nothing but the second ask. How many asks it took."""
    deadline = time.monotonic() + timeout
    last = client.status(timeout=10.0)["engine"]["osc"]["received"]
    asked = 1
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = client.status(timeout=10.0)["engine"]["osc"]["received"]
        asked += 1
        if now == last + 1:
            return asked
        last = now
    raise AssertionError(f"the engine still read packets after {timeout:g} s")


def _synced(client: EngineClient) -> None:
    """A UDP sync, queued after everything sent before (tried again if the kernel dropped it)."""
    for _ in range(3):
        try:
            client.sync(timeout=5.0)
            return
        except EngineError:
            continue
    raise AssertionError("no sync answered after the flood")


def test_a_flood_from_one_peer_is_shed_and_another_keeps_its_round_trips() -> None:
    """The calm client asks over TCP: its own queue, which the UDP flood cannot fill (on one
    UDP socket the kernel drops what overflows whoever sent it; those drops are counted)."""
    engine = EngineProcess(port=0, backend="null", extra_args=["--peer-rate", "200"]).boot()
    try:
        with (
            engine.client() as calm,
            StallMonitor() as host,
            ForeignRealtime(SLOT_PRIORITY) as others,
        ):
            before = calm.status()
            flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            flood.bind(("127.0.0.1", 0))
            round_trips: list[float] = []

            def sync_meanwhile() -> None:
                for token in range(20):
                    started = time.perf_counter()
                    calm.ask("/engine/sync", token, timeout=2.0)
                    round_trips.append(time.perf_counter() - started)
                    time.sleep(0.02)

            syncing = threading.Thread(target=sync_meanwhile)
            syncing.start()
            packet = encode_raw("/mod/nobody/cutoff", 500.0)  # an error each: work to answer
            sent = 0
            while syncing.is_alive() or sent < 5000:
                flood.sendto(packet, ("127.0.0.1", engine.port))
                sent += 1
            syncing.join()
            asked = _drained(calm)  # the rest of the flood, read or shed (a loaded host: slow)
            flood.sendto(packet, ("127.0.0.1", engine.port))  # it carries its socket's drops
            sent += 1
            _synced(calm)
            after = calm.status()
        assert len(round_trips) == 20  # every sync answered within 2 s during the flood
        osc, name = after["engine"]["osc"], f"udp:127.0.0.1:{flood.getsockname()[1]}"
        assert osc["shed"] > 0 and osc["rate"]["shed_by_peer"] == {name: osc["shed"]}
        assert osc["rate"]["per_peer"] == 200
        read = osc["received"] - before["engine"]["osc"]["received"]
        dropped = osc["kernel_drops"] - before["engine"]["osc"]["kernel_drops"]
        assert sent <= read + dropped <= sent + 20 + 3 + 1 + asked  # every packet counted
        assert osc["errors"] - before["engine"]["osc"]["errors"] <= read - osc["shed"]
        assert after["io"]["blocks_played"] > before["io"]["blocks_played"]
        # None but what the host's stalls and other tests' realtime threads explain.
        underruns = after["io"]["underruns"] - before["io"]["underruns"]
        bound = host.blocks_bound(128 / 48) + others.blocks_bound(128 / 48)
        assert underruns <= bound, (underruns, host.stalls_ms, others.by_process)
        flood.settimeout(0.5)
        told = 0
        try:
            while True:
                address, args = parse_packet(flood.recv(65536))[0]
                told += address == "/error" and args == ("", rate_text(200))
        except TimeoutError:
            pass
        flood.close()
        assert 1 <= told <= 2 + int(sum(round_trips) + 2)  # at most once a second
    finally:
        engine.quit()


def test_the_http_api_obeys_allow_and_warns_on_every_interface() -> None:
    host = _own_address()
    engine = EngineProcess(
        host="0.0.0.0", port=0, backend="null",
        extra_args=["--allow", "198.51.100.0/24", "--http", "0.0.0.0:0"],
    ).boot()  # fmt: skip
    try:
        assert engine.http is not None
        port = engine.http[1]
        warning = "".join(engine.notices)
        assert "the HTTP API listens on every interface (0.0.0.0)" in warning
        assert "it answers loopback, 198.51.100.0/24" in warning
        code, body = _get(host, port, "/v1/health", source=host)
        assert code == 403 and "not allowed" in str(body)
        code, body = _get("127.0.0.1", port, "/v1/health")
        assert code == 200 and isinstance(body, dict)
        with engine.client() as client:
            http_status = client.status()["engine"]["http"]
        assert http_status["forbidden"] == 1 and http_status["requests"] == 1
    finally:
        engine.quit()


@needs_ipv6
def test_an_engine_on_ipv6_loopback_is_reached_by_osc_http_and_the_cli() -> None:
    engine = EngineProcess(
        host="::1", port=0, backend="null", extra_args=["--http", "[::1]:0"]
    ).boot()
    try:
        assert engine.http is not None and engine.http[0] == "::1"
        with EngineClient("::1", engine.port) as client:
            client.sync()  # UDP
            assert client.status()["io"]["state"] == "running"  # TCP
        code, body = _get("::1", engine.http[1], "/v1/health")
        assert code == 200 and isinstance(body, dict)
        done = subprocess.run(
            [sys.executable, "-m", "chronus", "send", "--engine", f"[::1]:{engine.port}",
             "add a saw called bass"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with EngineClient("::1", engine.port) as client:
            assert "bass" in client.dump()["modules"]
    finally:
        engine.quit()


@needs_ipv6
def test_listening_on_every_ipv6_interface_takes_ipv4_peers_judged_as_ipv4() -> None:
    host = _own_address()
    engine = EngineProcess(
        host="::", port=0, backend="null", extra_args=["--allow", "2001:db8::/32"]
    ).boot()
    try:
        assert "OSC listens on every interface (::)" in "".join(engine.notices)
        unanswered_from(host, engine.port)
        with EngineClient("127.0.0.1", engine.port) as client:  # ::ffff:127.0.0.1: loopback
            client.sync()
            assert client.status()["engine"]["osc"]["refused_peers"] == 1
        with EngineClient("::1", engine.port) as client:
            client.sync()
    finally:
        engine.quit()
