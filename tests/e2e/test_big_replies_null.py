"""Replies far beyond a UDP datagram, on a real null-backend engine: the dump of a 420 KB patch
over TCP (OSC 1.1, SLIP), the `/error` a UDP dump gets, the CLI and the shell on that patch,
a client that never reads, and garbage on the TCP port."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.engine.slip import SlipDecoder, encode
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import encode_raw, parse_packet, validate
from chronus.shell.app import Shell, run_shell
from tests.ports import unused_port
from tests.sessions import LANED, lane_values, slots_running, wait_status, wide_patch
from tests.stalls import told_on_failure, what_happened

SAWS = 40


@pytest.fixture(scope="module")
def big() -> Iterator[EngineProcess]:
    """An engine holding 40 saws with 13 long lanes each: a dump of about 420 KB."""
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        with engine.client() as client:
            for batch in wide_patch(SAWS):  # paced: one saw and its lanes, then a sync
                client.send(batch)
                assert client.sync(timeout=10)[1] == []
        yield engine
    finally:
        engine.quit()


def _settled(client: EngineClient) -> dict[str, Any]:
    """The status once both slots run: the shell's snapshot load above retired one of them
    (a commit replaces the slot that held the patch before it), and its successor may still
    be joining when the next test starts."""
    return wait_status(client, slots_running, timeout=60.0)


def _workers(status: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Each slot's name, worker pid and seat: a death or a replacement changes them."""
    return [(slot["name"], slot["pid"], slot["seat"]) for slot in status["slots"]]


def chronus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronus", *args], capture_output=True, text=True, timeout=120
    )


def test_the_dump_arrives_whole_over_tcp(big: EngineProcess) -> None:
    with big.client() as client:
        dump = client.dump()
    assert len(json.dumps(dump)) > 400_000
    assert sorted(dump["modules"]) == [f"big{saw:02d}" for saw in range(SAWS)]
    for saw in (0, SAWS - 1):
        lanes = dump["tracks"][f"big{saw:02d}"]["lanes"]
        assert lanes == {param: lane_values(saw, k) for k, param in enumerate(LANED)}


def test_a_dump_over_tcp_sees_every_command_sent_before_it_over_udp(big: EngineProcess) -> None:
    with big.client() as client:
        for step in range(200):
            client.send([validate("/mod/big02/cutoff", (100 + step,))])
        assert client.dump()["modules"]["big02"]["params"]["cutoff"] == 299


def test_a_udp_dump_gets_an_error_and_is_counted(big: EngineProcess) -> None:
    with big.client() as client:
        before = client.status()["engine"]["osc"]["reply_errors"]
        client.send_raw("/engine/dump")
        address, text = client.wait_for("/error")
        assert address == "/engine/dump"
        size = int(str(text).split()[2])
        assert size > 400_000
        assert str(text) == (
            f"reply of {size} bytes is too large for UDP; ask over TCP (OSC 1.1, SLIP) "
            "on the same port"
        )
        assert client.status()["engine"]["osc"]["reply_errors"] == before + 1
        assert client.request("/engine/status")[0]  # small replies still come over UDP


def test_chronus_send_and_health_work_on_the_big_patch(big: EngineProcess) -> None:
    where = f"127.0.0.1:{big.port}"
    out = chronus("send", "--engine", where, "set big07 cutoff 900", "connect big07 to master")
    assert out.returncode == 0, out.stderr
    assert "sent 2 message(s)" in out.stdout
    with big.client() as client:
        dump = client.dump()
    assert dump["modules"]["big07"]["params"]["cutoff"] == 900
    assert ["big07", "master"] in dump["connections"]
    health = chronus("health", "--engine", where)
    assert health.returncode == 0 and "slot A" in health.stdout, health.stderr


def test_the_shell_attaches_resyncs_and_loads_snapshots_on_the_big_patch(
    big: EngineProcess, tmp_path: Path
) -> None:
    client = big.client()
    written: list[str] = []
    shell = Shell(
        client,
        Interpreter(Context.from_dump(client.dump())),
        written.append,
        snapshot_dir=tmp_path,
    )
    try:
        assert len(shell.interpreter.context.modules) >= SAWS
        assert shell.handle("show patch")
        assert "big39" in written[-1]
        assert shell.handle("save snapshot as wide")
        assert written[-1].startswith("saved snapshot wide"), written
        assert shell.handle("add a sine called extra")
        assert shell.handle("load snapshot wide")
        assert written[-1].startswith("loaded snapshot wide, crossfaded in 50 ms"), written
        assert "- extra (sine)" in written[-1]
        assert "extra" not in shell.interpreter.context.modules
        assert "big00" in shell.interpreter.context.modules
        with big.client() as other:
            assert "extra" not in other.dump()["modules"]
    finally:
        client.close()


def test_a_new_shell_attaches_to_the_big_patch(
    big: EngineProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("quit --leave\r")
        code = run_shell(
            engine=("127.0.0.1", big.port),
            input=pipe,
            output=DummyOutput(),
            history=InMemoryHistory(),
        )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"chronus on 127.0.0.1:{big.port}" in out.out  # the dump it starts from arrived


def test_a_client_that_never_reads_is_dropped_and_others_are_served(big: EngineProcess) -> None:
    silent = socket.create_connection(("127.0.0.1", big.port), timeout=5)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = encode(encode_raw("/engine/dump"))
    with big.client() as client:
        status = before = _settled(client)
        dropped = before["engine"]["osc"]["tcp"]["dropped"]
        since = time.monotonic()
        for _ in range(200):  # 84 MB of dumps asked for, none read
            try:
                silent.sendall(request)
            except OSError:
                break  # the engine closed it
            client.send([validate("/mod/big01/cutoff", (500,))])
            client.sync(timeout=2)  # served meanwhile, within the usual timeout
            status = client.status()
            if status["engine"]["osc"]["tcp"]["dropped"] > dropped:
                break
        assert status["engine"]["osc"]["tcp"]["dropped"] == dropped + 1
        with told_on_failure(lambda: what_happened(status, None, since)):
            assert _workers(status) == _workers(before)  # no slot died or was replaced
        assert client.dump()["modules"]["big01"]["params"]["cutoff"] == 500
    silent.close()
    assert any("dropped OSC client tcp:127.0.0.1" in line for line in big.notices)


def test_garbage_on_the_tcp_port_gets_errors_and_changes_nothing(big: EngineProcess) -> None:
    rng = random.Random(13)
    junk = bytes(rng.randrange(256) for _ in range(20_000))  # ~80 ENDs, bad escapes, non-OSC
    oversized = b"/" + b"x" * 70_000
    with big.client() as client:
        settled = _settled(client)
        before = client.dump()
        errors_before = settled["engine"]["osc"]["errors"]
        with socket.create_connection(("127.0.0.1", big.port), timeout=5) as sock:
            sock.sendall(junk + encode(oversized) + encode(encode_raw("/engine/sync", 77)))
            decoder = SlipDecoder(1 << 20)
            replies: list[tuple[str, tuple[object, ...]]] = []
            deadline = time.monotonic() + 10
            while not replies or replies[-1][0] != "/engine/synced":
                assert time.monotonic() < deadline, replies[-3:]
                for frame in decoder.feed(sock.recv(1 << 16)):
                    assert isinstance(frame, bytes)
                    replies += parse_packet(frame)
        errors = [args for address, args in replies if address == "/error"]
        assert len(errors) >= 10
        assert "at most 65536" in str(errors[-1][1])  # the oversized frame
        assert replies[-1][1][0] == 77
        assert client.dump() == before
        status = client.status()
    assert status["engine"]["osc"]["errors"] == errors_before + len(errors)
    assert _workers(status) == _workers(settled), status["engine"]["events"]


def test_every_address_works_over_tcp_and_errors_raise(big: EngineProcess) -> None:
    with big.client() as client:
        assert client.ask("/engine/sync", 5)[0] == 5
        with pytest.raises(EngineError, match="refused /no/such/thing: unknown address"):
            client.ask("/no/such/thing")
        with pytest.raises(EngineError, match="ghost"):
            client.ask("/mod/ghost/cutoff", 100.0)
        assert json.loads(str(client.ask("/status")[0]))["engine"]["osc"]["tcp"]["open"] >= 1


def test_a_restarted_engine_gets_its_port_back_and_clients_reconnect(tmp_path: Path) -> None:
    port = unused_port()  # out of the ephemeral range: no connection takes it in between
    first = EngineProcess(port=port, backend="null").boot()
    client = EngineClient("127.0.0.1", port)
    try:
        assert client.dump()["modules"] == {}
        assert client.ask("/engine/quit") == ("bye",)  # the engine closes this connection
        # It is quitting: wait for it. Asking again (`quit()`) on a loaded host found it still
        # tearing down, could not ask, and sent SIGTERM (a CI run: exit -15).
        assert first.process is not None and first.process.wait(30) == 0
        second = EngineProcess(port=port, backend="null").boot()
        try:
            second_client = second.client()
            second_client.send([validate("/patch/create", ("again", "saw"))])
            second_client.sync()
            second_client.close()
            assert "again" in client.dump()["modules"]  # the old connection is replaced
        finally:
            assert second.quit() == 0
    finally:
        client.close()
        first.kill()
