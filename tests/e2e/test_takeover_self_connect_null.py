"""A client asking over TCP while the supervisor is replaced (null backend, real processes,
real SIGKILL, real TCP).

While no supervisor listens, the kernel may give a connection to the engine's port that same
port as its local one (the engine's port is in the ephemeral range) and connect it to itself:
the request came back as its own reply, `/engine/status` without its JSON (an IndexError in
`EngineClient.status`), and the socket kept the port from the new supervisor. Here the
probe's local port is forced to the engine's (`IP_LOCAL_PORT_RANGE`), so each of its
connections during the gap meets itself: it is refused, and the new supervisor takes over.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from tests.engine.test_client_replies import connecting_from
from tests.processes import answered_after_takeover
from tests.sessions import wait_status

pytestmark = pytest.mark.slow


def test_a_request_while_no_supervisor_listens_is_refused_and_the_takeover_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = EngineProcess(port=0, backend="null").boot()
    try:
        client = engine.client()
        before = wait_status(client, lambda s: bool(s["engine"]["supervisor"]["standby"]), 120.0)
        old = before["engine"]["supervisor"]["pid"]
        # An accepted connection that outlives the supervisor (until the client's next send
        # resets it) keeps the kernel from choosing the port for a connect.
        client.close()
        probe = EngineClient(engine.host, engine.port)
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30.0
        refusals: list[str] = []
        while not any("nothing listens on the port" in text for text in refusals):
            with monkeypatch.context() as patched:
                patched.setattr(socket, "create_connection", connecting_from(engine.port))
                with pytest.raises(EngineError) as refused:  # never answered from that port
                    probe.status(timeout=1.0)
            refusals.append(str(refused.value))
            assert time.monotonic() < deadline, refusals[-3:]
        client = engine.client()
        after = answered_after_takeover(
            client,
            lambda s: s["engine"]["supervisor"]["pid"] != old,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        assert after["engine"]["supervisor"]["restarts"] == 1
        assert probe.status()["engine"]["supervisor"]["pid"] == after["engine"]["supervisor"]["pid"]
        probe.close()
        client.close()
        assert engine.quit() == 0
    finally:
        engine.quit()
