"""The engine's port outlives its supervisor (null backend, real processes, real SIGKILL and
SIGSTOP, real UDP and TCP).

The engine's parent holds the OSC and HTTP sockets the first supervisor bound and hands them to the
one that takes over (`held_sockets`). Between the SIGKILL and the takeover, which the test
holds open by stopping the standby, nothing else can bind the port (before, another program's
socket, or a connection the kernel gave the engine's port as its local one, could take it,
and the engine ended), a datagram sent then waits and is applied by the new supervisor
(before, it was lost), and a TCP connection made then is answered by it (before, refused).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time
import urllib.request

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.protocol import validate
from tests.engine.test_client_replies import connecting_from
from tests.processes import answered_after_takeover, gone
from tests.sessions import wait_status

pytestmark = pytest.mark.slow


def test_the_port_stays_the_engines_through_a_takeover_and_what_waits_on_it_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = EngineProcess(port=0, backend="null", extra_args=["--http", "127.0.0.1:0"]).boot()
    assert engine.http is not None
    try:
        client = engine.client()
        before = wait_status(client, lambda s: bool(s["engine"]["supervisor"]["standby"]), 120.0)
        old, standby = (before["engine"]["supervisor"][key] for key in ("pid", "standby"))
        assert client.dump()["tempo"] != 133.0
        client.close()
        os.kill(standby, signal.SIGSTOP)  # the takeover waits until the test has looked
        try:
            os.kill(old, signal.SIGKILL)
            assert gone({old}), "the supervisor did not die"
            # The dead supervisor's last threads close its sockets a little after it shows
            # as a zombie: a second of tries.
            tried_until = time.monotonic() + 1.0
            while time.monotonic() < tried_until:
                for kind, port in (
                    (socket.SOCK_STREAM, engine.port),
                    (socket.SOCK_DGRAM, engine.port),
                    (socket.SOCK_STREAM, engine.http[1]),
                ):
                    with socket.socket(socket.AF_INET, kind) as thief:
                        with pytest.raises(OSError) as taken:
                            thief.bind((engine.host, port))
                        assert taken.value.errno == errno.EADDRINUSE, (kind, port)
                time.sleep(0.05)
            with monkeypatch.context() as patched:  # what a connection met itself with
                patched.setattr(socket, "create_connection", connecting_from(engine.port))
                with pytest.raises(EngineError, match="Cannot assign requested address"):
                    EngineClient(engine.host, engine.port).status(timeout=0.5)
            waiting = EngineClient(engine.host, engine.port)
            waiting.send([validate("/tempo", (133.0,))])
            with pytest.raises(EngineError, match="waited"):  # connected: no answer yet
                waiting.status(timeout=0.5)
        finally:
            os.kill(standby, signal.SIGCONT)
        after = answered_after_takeover(waiting, lambda s: s["engine"]["supervisor"]["pid"] != old)
        assert after["engine"]["supervisor"]["pid"] == standby
        assert after["engine"]["supervisor"]["restarts"] == 1
        http = "{}:{}".format(*engine.http)
        assert after["engine"]["http"]["address"] == http  # the same port
        with urllib.request.urlopen(f"http://{http}/v1/health", timeout=5) as answer:
            assert json.loads(answer.read())["engine"]["supervisor"]["pid"] == standby
        deadline = time.monotonic() + 10.0
        while waiting.dump()["tempo"] != 133.0:  # sent while no supervisor ran
            assert time.monotonic() < deadline, waiting.dump()["tempo"]
            time.sleep(0.1)
        waiting.close()
        assert engine.quit() == 0
        for port in (engine.port, engine.http[1]):  # free again once the engine ended
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as next_engine:
                next_engine.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                next_engine.bind((engine.host, port))
    finally:
        engine.quit()
